// bias_gelu on CUDA: one pass over x forward; one pass over x and grad_out backward, with
// grad_bias reduced on the way.
//
// Layout. x is read as [rows, cols] in 16-byte vectors of VEC elements. A thread owns one
// vector's columns and a few rows: its slice of bias is loaded once, and in the backward
// its share of grad_bias is summed in registers, for free. Threads are numbered row-major
// over [lanes, cols / VEC], so a warp reads 512 contiguous bytes of a row.
//
// Forward: a grid that covers x in one go, each thread taking kRowsPerThread adjacent rows
// (lane * kRowsPerThread + k), all loads issued before any store. Measured on the H100 at
// 32768x8192: at the copy bandwidth in fp32 and bf16 (0.715 and 0.358 ms); with the rows a
// thread takes spread a quarter of x apart, 0.722 and 0.365 ms; with one wave of threads
// looping over rows, 94% of the copy.
//
// Backward: one wave of resident threads (one_wave_layout), each walking down rows
// `lanes` apart, kUnroll rows of loads in flight, so that there are few partial grad_bias
// sums: each thread writes its column sums to partial[lane, cols]; a second kernel adds
// the lanes in a fixed order, so the result is deterministic.
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "bias_gelu.h"
#include "common/dispatch.h"
#include "common/launch.cuh"
#include "common/vec.cuh"

namespace torchlab::bias_gelu {
namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerThread = 2;  // forward
constexpr int kUnroll = 4;         // backward: rows of loads in flight per iteration

struct Layout {
  int64_t rows;
  int64_t cols;
  int64_t row_vecs;  // cols / VEC
  int64_t lanes;     // threads per column vector: thread t is lane t / row_vecs
};

template <typename scalar_t, int VEC, Approximate A>
__global__ void __launch_bounds__(kThreads) forward_kernel(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ bias,
    scalar_t* __restrict__ out, Layout layout) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (t >= layout.lanes * layout.row_vecs) return;
  const int64_t col = (t % layout.row_vecs) * VEC;
  const int64_t first_row = (t / layout.row_vecs) * kRowsPerThread;

  acc_t b[VEC];
  const auto bias_vec = load_vec<VEC>(bias + col);
#pragma unroll
  for (int j = 0; j < VEC; ++j) b[j] = acc_t(bias_vec.val[j]);

  Vec<scalar_t, VEC> in[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const int64_t r = first_row + k;
    if (r < layout.rows) in[k] = load_vec<VEC>(x + r * layout.cols + col);
  }
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const int64_t r = first_row + k;
    if (r < layout.rows) {
      Vec<scalar_t, VEC> o;
#pragma unroll
      for (int j = 0; j < VEC; ++j) o.val[j] = scalar_t(gelu<A>(acc_t(in[k].val[j]) + b[j]));
      // The store its H200 sweep timed (benchmarks/results/h200/bias_gelu); the plain one
      // is untimed here.
      store_vec_whole(out + r * layout.cols + col, o);
    }
  }
}

template <typename scalar_t, int VEC, Approximate A>
__global__ void __launch_bounds__(kThreads) backward_kernel(
    const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ x,
    const scalar_t* __restrict__ bias, scalar_t* __restrict__ grad_x,
    at::opmath_type<scalar_t>* __restrict__ partial, Layout layout) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (t >= layout.lanes * layout.row_vecs) return;
  const int64_t col = (t % layout.row_vecs) * VEC;
  const int64_t lane = t / layout.row_vecs;

  acc_t b[VEC];
  acc_t sum[VEC];
  const auto bias_vec = load_vec<VEC>(bias + col);
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    b[j] = acc_t(bias_vec.val[j]);
    sum[j] = 0;
  }

  for (int64_t row = lane; row < layout.rows; row += kUnroll * layout.lanes) {
    Vec<scalar_t, VEC> in[kUnroll];
    Vec<scalar_t, VEC> grad[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const int64_t r = row + k * layout.lanes;
      if (r < layout.rows) {
        in[k] = load_vec<VEC>(x + r * layout.cols + col);
        grad[k] = load_vec<VEC>(grad_out + r * layout.cols + col);
      }
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const int64_t r = row + k * layout.lanes;
      if (r < layout.rows) {
        Vec<scalar_t, VEC> o;
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const acc_t g = acc_t(grad[k].val[j]) * gelu_grad<A>(acc_t(in[k].val[j]) + b[j]);
          o.val[j] = scalar_t(g);
          sum[j] += g;
        }
        store_vec_whole(grad_x + r * layout.cols + col, o);
      }
    }
  }
#pragma unroll
  for (int j = 0; j < VEC; ++j) partial[lane * layout.cols + col + j] = sum[j];
}

// grad_bias[c] = sum over lanes of partial[lane, c]. A block covers 32 columns; its 8 rows of
// threads take every 8th lane, then add their 8 sums in a fixed order.
constexpr int kSumCols = 32;
constexpr int kSumRows = 8;

template <typename scalar_t>
__global__ void __launch_bounds__(kSumCols* kSumRows) sum_partials_kernel(
    const at::opmath_type<scalar_t>* __restrict__ partial, scalar_t* __restrict__ grad_bias,
    int64_t lanes, int64_t cols) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ acc_t sums[kSumRows][kSumCols];
  const int64_t col = int64_t(blockIdx.x) * kSumCols + threadIdx.x;
  acc_t sum = 0;
  if (col < cols) {
    for (int64_t lane = threadIdx.y; lane < lanes; lane += kSumRows) {
      sum += partial[lane * cols + col];
    }
  }
  sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
#pragma unroll
    for (int y = 1; y < kSumRows; ++y) sum += sums[y][threadIdx.x];
    grad_bias[col] = scalar_t(sum);
  }
}

// 16-byte vectors need a whole number of them in a row and 16-byte aligned pointers; a
// sliced view made contiguous, or an odd row length, takes the one-element path instead.
template <typename scalar_t>
bool can_vectorize(int64_t cols, std::initializer_list<const at::Tensor*> tensors) {
  if (cols % kVec16<scalar_t> != 0) return false;
  for (const at::Tensor* t : tensors) {
    if (!is_aligned(t->const_data_ptr(), 16)) return false;
  }
  return true;
}

// Lanes for the forward: every thread takes kRowsPerThread rows, once.
template <int VEC>
Layout one_pass_layout(int64_t rows, int64_t cols) {
  return {rows, cols, cols / VEC, ceil_div(rows, kRowsPerThread)};
}

// Lanes for the backward: as many as fill the GPU once (at least one, at most one a row).
template <int VEC>
Layout one_wave_layout(int64_t rows, int64_t cols, int64_t resident_threads) {
  const int64_t row_vecs = cols / VEC;
  return {rows, cols, row_vecs, std::clamp<int64_t>(resident_threads / row_vecs, 1, rows)};
}

int64_t rows_of(const at::Tensor& x) {
  return x.numel() / x.size(-1);
}

template <typename scalar_t, int VEC, Approximate A>
void launch_forward(const at::Tensor& x, const at::Tensor& bias, at::Tensor& out) {
  const Layout layout = one_pass_layout<VEC>(rows_of(x), x.size(-1));
  const int64_t blocks = ceil_div(layout.lanes * layout.row_vecs, kThreads);
  forward_kernel<scalar_t, VEC, A><<<blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      x.const_data_ptr<scalar_t>(), bias.const_data_ptr<scalar_t>(),
      out.mutable_data_ptr<scalar_t>(), layout);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename scalar_t, int VEC, Approximate A>
void launch_backward(const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& bias,
                     at::Tensor& grad_x, at::Tensor& grad_bias) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr auto kernel = backward_kernel<scalar_t, VEC, A>;
  const Layout layout =
      one_wave_layout<VEC>(rows_of(x), x.size(-1), resident_threads<kernel>(kThreads));
  const at::Tensor partial =
      at::empty({layout.lanes, layout.cols}, x.options().dtype(at::toOpMathType(x.scalar_type())));
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t blocks = ceil_div(layout.lanes * layout.row_vecs, kThreads);
  kernel<<<blocks, kThreads, 0, stream>>>(
      grad_out.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
      bias.const_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
      partial.mutable_data_ptr<acc_t>(), layout);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  sum_partials_kernel<scalar_t><<<ceil_div(layout.cols, kSumCols), dim3(kSumCols, kSumRows), 0, stream>>>(
      partial.const_data_ptr<acc_t>(), grad_bias.mutable_data_ptr<scalar_t>(), layout.lanes,
      layout.cols);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor bias_gelu_cuda(const at::Tensor& x_in, const at::Tensor& bias_in,
                          std::string_view approximate) {
  check_inputs(x_in, bias_in);
  const Approximate approx = parse_approximate(approximate);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor bias = bias_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  if (out.numel() == 0) return out;
  TORCHLAB_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bias_gelu_cuda", [&] {
    dispatch_approximate(approx, [&](auto tag) {
      constexpr Approximate A = decltype(tag)::value;
      if (can_vectorize<scalar_t>(x.size(-1), {&x, &bias, &out})) {
        launch_forward<scalar_t, kVec16<scalar_t>, A>(x, bias, out);
      } else {
        launch_forward<scalar_t, 1, A>(x, bias, out);
      }
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> bias_gelu_backward_cuda(
    const at::Tensor& grad_out_in, const at::Tensor& x_in, const at::Tensor& bias_in,
    std::string_view approximate) {
  check_backward_inputs(grad_out_in, x_in, bias_in);
  const Approximate approx = parse_approximate(approximate);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor grad_out = grad_out_in.contiguous();
  const at::Tensor x = x_in.contiguous();
  const at::Tensor bias = bias_in.contiguous();
  at::Tensor grad_x = at::empty(x.sizes(), x.options());
  at::Tensor grad_bias = at::empty(bias.sizes(), bias.options());
  if (x.numel() == 0) {
    grad_bias.zero_();  // a sum over no rows
    return {grad_x, grad_bias};
  }
  TORCHLAB_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bias_gelu_backward_cuda", [&] {
    dispatch_approximate(approx, [&](auto tag) {
      constexpr Approximate A = decltype(tag)::value;
      if (can_vectorize<scalar_t>(x.size(-1), {&grad_out, &x, &bias, &grad_x})) {
        launch_backward<scalar_t, kVec16<scalar_t>, A>(grad_out, x, bias, grad_x, grad_bias);
      } else {
        launch_backward<scalar_t, 1, A>(grad_out, x, bias, grad_x, grad_bias);
      }
    });
  });
  return {grad_x, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CUDA, m) {
  m.impl("bias_gelu", &bias_gelu_cuda);
  m.impl("bias_gelu_backward", &bias_gelu_backward_cuda);
}

}  // namespace torchlab::bias_gelu
