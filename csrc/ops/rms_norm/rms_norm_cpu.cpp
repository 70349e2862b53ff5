// rms_norm on the CPU: rows::run_cpu over the shared wrappers of rms_norm.h.
#include <torch/library.h>

#include "common/rows_cpu.h"
#include "rms_norm.h"

namespace torchlab::rms_norm {
namespace {

using rows::check_ladder_version;

std::tuple<at::Tensor, at::Tensor> rms_norm_cpu(
    const at::Tensor& x, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight, c10::optional<double> eps) {
  return forward(rows::CpuRows{}, x, normalized_shape, weight, eps);
}

std::tuple<at::Tensor, at::Tensor> rms_norm_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& rstd,
    at::IntArrayRef normalized_shape, const c10::optional<at::Tensor>& weight) {
  return backward(rows::CpuRows{}, grad_out, x, rstd, normalized_shape, weight);
}

// The ladder is CUDA's; on the CPU every version runs the one CPU loop.
at::Tensor rms_norm_ladder_cpu(const at::Tensor& x, at::IntArrayRef normalized_shape,
                               const c10::optional<at::Tensor>& weight,
                               c10::optional<double> eps, int64_t version) {
  check_ladder_version(version);
  return std::get<0>(rms_norm_cpu(x, normalized_shape, weight, eps));
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CPU, m) {
  m.impl("rms_norm", &rms_norm_cpu);
  m.impl("rms_norm_backward", &rms_norm_backward_cpu);
  m.impl("rms_norm_ladder", &rms_norm_ladder_cpu);
}

}  // namespace torchlab::rms_norm
