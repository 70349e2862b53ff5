// layer_norm on CUDA: the row kernels of csrc/common/rows/ over the shared wrappers of
// layer_norm.h.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "common/rows/launch.cuh"
#include "layer_norm.h"

namespace torchlab::layer_norm {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_cuda(
    const at::Tensor& x, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias,
    double eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  return forward(rows::CudaRows<>{}, x, normalized_shape, weight, bias, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& mean,
    const at::Tensor& rstd, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight) {
  const c10::cuda::CUDAGuard guard(x.device());
  return backward(rows::CudaRows<>{}, grad_out, x, mean, rstd, normalized_shape, weight);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CUDA, m) {
  m.impl("layer_norm", &layer_norm_cuda);
  m.impl("layer_norm_backward", &layer_norm_backward_cuda);
}

}  // namespace torchlab::layer_norm
