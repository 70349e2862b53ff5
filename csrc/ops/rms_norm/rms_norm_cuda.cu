// rms_norm on CUDA: the row kernels of csrc/common/rows/ over the shared wrappers of
// rms_norm.h. rms_norm_ladder runs any version of the ladder (1 to 6), for the lesson and
// the benchmarks; the public operator runs the best one.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "common/rows/launch.cuh"
#include "rms_norm.h"

namespace torchlab::rms_norm {
namespace {

std::tuple<at::Tensor, at::Tensor> rms_norm_cuda(
    const at::Tensor& x, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight, c10::optional<double> eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  return forward(rows::CudaRows<>{}, x, normalized_shape, weight, eps);
}

std::tuple<at::Tensor, at::Tensor> rms_norm_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& rstd,
    at::IntArrayRef normalized_shape, const c10::optional<at::Tensor>& weight) {
  const c10::cuda::CUDAGuard guard(x.device());
  return backward(rows::CudaRows<>{}, grad_out, x, rstd, normalized_shape, weight);
}

at::Tensor rms_norm_ladder_cuda(const at::Tensor& x, at::IntArrayRef normalized_shape,
                                const c10::optional<at::Tensor>& weight,
                                c10::optional<double> eps, int64_t version) {
  const c10::cuda::CUDAGuard guard(x.device());
  return std::get<0>(forward(rows::CudaRows</*kLadder=*/true>{int(version)}, x,
                             normalized_shape, weight, eps));
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CUDA, m) {
  m.impl("rms_norm", &rms_norm_cuda);
  m.impl("rms_norm_backward", &rms_norm_backward_cuda);
  m.impl("rms_norm_ladder", &rms_norm_ladder_cuda);
}

}  // namespace torchlab::rms_norm
