// add_rms_norm on CUDA: the row kernels of csrc/common/rows/ over the shared wrappers of
// add_rms_norm.h.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "add_rms_norm.h"
#include "common/rows/launch.cuh"

namespace torchlab::add_rms_norm {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> add_rms_norm_cuda(
    const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
    c10::optional<double> eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  return forward(rows::CudaRows<>{}, x, residual, weight, eps);
}

std::tuple<at::Tensor, at::Tensor> add_rms_norm_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& grad_residual_out,
    const at::Tensor& residual_out, const at::Tensor& rstd, const at::Tensor& weight) {
  const c10::cuda::CUDAGuard guard(residual_out.device());
  return backward(rows::CudaRows<>{}, grad_out, grad_residual_out, residual_out, rstd, weight);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CUDA, m) {
  m.impl("add_rms_norm", &add_rms_norm_cuda);
  m.impl("add_rms_norm_backward", &add_rms_norm_backward_cuda);
}

}  // namespace torchlab::add_rms_norm
