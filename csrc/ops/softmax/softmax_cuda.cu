// softmax and log_softmax on CUDA: the row kernels of csrc/common/rows/ over the shared
// wrappers of softmax.h. softmax_ladder runs any version of the ladder (1 to 6), for the
// lesson and the benchmarks; the public operators run the best one.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "common/rows/launch.cuh"
#include "softmax.h"

namespace torchlab::softmax {
namespace {

at::Tensor softmax_cuda(const at::Tensor& x, int64_t dim) {
  const c10::cuda::CUDAGuard guard(x.device());
  return forward(rows::CudaRows<>{}, x, dim, /*log=*/false);
}

at::Tensor log_softmax_cuda(const at::Tensor& x, int64_t dim) {
  const c10::cuda::CUDAGuard guard(x.device());
  return forward(rows::CudaRows<>{}, x, dim, /*log=*/true);
}

at::Tensor softmax_backward_cuda(const at::Tensor& grad_out, const at::Tensor& out,
                                 int64_t dim) {
  const c10::cuda::CUDAGuard guard(out.device());
  return backward(rows::CudaRows<>{}, grad_out, out, dim, /*log=*/false);
}

at::Tensor log_softmax_backward_cuda(const at::Tensor& grad_out, const at::Tensor& out,
                                     int64_t dim) {
  const c10::cuda::CUDAGuard guard(out.device());
  return backward(rows::CudaRows<>{}, grad_out, out, dim, /*log=*/true);
}

at::Tensor softmax_ladder_cuda(const at::Tensor& x, int64_t dim, int64_t version) {
  const c10::cuda::CUDAGuard guard(x.device());
  return forward(rows::CudaRows</*kLadder=*/true>{int(version)}, x, dim, /*log=*/false);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CUDA, m) {
  m.impl("softmax", &softmax_cuda);
  m.impl("log_softmax", &log_softmax_cuda);
  m.impl("softmax_backward", &softmax_backward_cuda);
  m.impl("log_softmax_backward", &log_softmax_backward_cuda);
  m.impl("softmax_ladder", &softmax_ladder_cuda);
}

}  // namespace torchlab::softmax
