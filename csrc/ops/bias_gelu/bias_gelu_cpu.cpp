// bias_gelu on the CPU: a plain loop over each row, rows spread over threads.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include "bias_gelu.h"
#include "common/dispatch.h"

namespace torchlab::bias_gelu {
namespace {

// Elements a thread should get at least: more than the cost of handing out the work.
constexpr int64_t kGrainElements = 32768;

int64_t grain(int64_t elements_per_item) {
  return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(elements_per_item, 1));
}

// grad_bias is summed in fixed chunks of rows and then over chunks in order, so the result
// is the same whatever the number of threads.
constexpr int64_t kRowsPerChunk = 64;

int64_t num_chunks(int64_t rows) {
  return (rows + kRowsPerChunk - 1) / kRowsPerChunk;
}

template <typename scalar_t, Approximate A>
void forward(const scalar_t* x, const scalar_t* bias, scalar_t* out, int64_t rows, int64_t cols) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, rows, grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const acc_t u = acc_t(x[r * cols + c]) + acc_t(bias[c]);
        out[r * cols + c] = scalar_t(gelu<A>(u));
      }
    }
  });
}

template <typename scalar_t, Approximate A>
void backward(
    const scalar_t* grad_out, const scalar_t* x, const scalar_t* bias, scalar_t* grad_x,
    at::opmath_type<scalar_t>* partial, scalar_t* grad_bias, int64_t rows, int64_t cols) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t chunks = num_chunks(rows);
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      acc_t* sums = partial + chunk * cols;
      const int64_t last = std::min(rows, (chunk + 1) * kRowsPerChunk);
      for (int64_t r = chunk * kRowsPerChunk; r < last; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const acc_t u = acc_t(x[r * cols + c]) + acc_t(bias[c]);
          const acc_t g = acc_t(grad_out[r * cols + c]) * gelu_grad<A>(u);
          grad_x[r * cols + c] = scalar_t(g);
          sums[c] += g;
        }
      }
    }
  });
  at::parallel_for(0, cols, grain(chunks), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      acc_t sum = 0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) sum += partial[chunk * cols + c];
      grad_bias[c] = scalar_t(sum);
    }
  });
}

at::Tensor bias_gelu_cpu(const at::Tensor& x_in, const at::Tensor& bias_in,
                         std::string_view approximate) {
  check_inputs(x_in, bias_in);
  const Approximate approx = parse_approximate(approximate);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor bias = bias_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  const int64_t cols = x.size(-1);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  TORCHLAB_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bias_gelu_cpu", [&] {
    dispatch_approximate(approx, [&](auto tag) {
      forward<scalar_t, decltype(tag)::value>(
          x.const_data_ptr<scalar_t>(), bias.const_data_ptr<scalar_t>(),
          out.mutable_data_ptr<scalar_t>(), rows, cols);
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> bias_gelu_backward_cpu(
    const at::Tensor& grad_out_in, const at::Tensor& x_in, const at::Tensor& bias_in,
    std::string_view approximate) {
  check_backward_inputs(grad_out_in, x_in, bias_in);
  const Approximate approx = parse_approximate(approximate);
  const at::Tensor grad_out = grad_out_in.contiguous();
  const at::Tensor x = x_in.contiguous();
  const at::Tensor bias = bias_in.contiguous();
  at::Tensor grad_x = at::empty(x.sizes(), x.options());
  at::Tensor grad_bias = at::empty(bias.sizes(), bias.options());
  const int64_t cols = x.size(-1);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  const at::Tensor partial =
      at::zeros({num_chunks(rows), cols}, x.options().dtype(at::toOpMathType(x.scalar_type())));
  TORCHLAB_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bias_gelu_backward_cpu", [&] {
    dispatch_approximate(approx, [&](auto tag) {
      backward<scalar_t, decltype(tag)::value>(
          grad_out.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
          bias.const_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
          partial.mutable_data_ptr<at::opmath_type<scalar_t>>(),
          grad_bias.mutable_data_ptr<scalar_t>(), rows, cols);
    });
  });
  return {grad_x, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CPU, m) {
  m.impl("bias_gelu", &bias_gelu_cpu);
  m.impl("bias_gelu_backward", &bias_gelu_backward_cpu);
}

}  // namespace torchlab::bias_gelu
