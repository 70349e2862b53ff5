// layer_norm on the CPU: rows::run_cpu over the shared wrappers of layer_norm.h.
#include <torch/library.h>

#include "common/rows_cpu.h"
#include "layer_norm.h"

namespace torchlab::layer_norm {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_cpu(
    const at::Tensor& x, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias,
    double eps) {
  return forward(rows::CpuRows{}, x, normalized_shape, weight, bias, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& mean,
    const at::Tensor& rstd, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight) {
  return backward(rows::CpuRows{}, grad_out, x, mean, rstd, normalized_shape, weight);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CPU, m) {
  m.impl("layer_norm", &layer_norm_cpu);
  m.impl("layer_norm_backward", &layer_norm_backward_cpu);
}

}  // namespace torchlab::layer_norm
