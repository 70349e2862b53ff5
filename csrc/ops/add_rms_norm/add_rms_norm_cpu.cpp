// add_rms_norm on the CPU: rows::run_cpu over the shared wrappers of add_rms_norm.h.
#include <torch/library.h>

#include "add_rms_norm.h"
#include "common/rows_cpu.h"

namespace torchlab::add_rms_norm {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> add_rms_norm_cpu(
    const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
    c10::optional<double> eps) {
  return forward(rows::CpuRows{}, x, residual, weight, eps);
}

std::tuple<at::Tensor, at::Tensor> add_rms_norm_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& grad_residual_out,
    const at::Tensor& residual_out, const at::Tensor& rstd, const at::Tensor& weight) {
  return backward(rows::CpuRows{}, grad_out, grad_residual_out, residual_out, rstd, weight);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CPU, m) {
  m.impl("add_rms_norm", &add_rms_norm_cpu);
  m.impl("add_rms_norm_backward", &add_rms_norm_backward_cpu);
}

}  // namespace torchlab::add_rms_norm
