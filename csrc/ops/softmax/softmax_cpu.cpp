// softmax and log_softmax on the CPU: rows::run_cpu over the shared wrappers of softmax.h.
#include <torch/library.h>

#include "common/rows_cpu.h"
#include "softmax.h"

namespace torchlab::softmax {
namespace {

using rows::check_ladder_version;

at::Tensor softmax_cpu(const at::Tensor& x, int64_t dim) {
  return forward(rows::CpuRows{}, x, dim, /*log=*/false);
}

at::Tensor log_softmax_cpu(const at::Tensor& x, int64_t dim) {
  return forward(rows::CpuRows{}, x, dim, /*log=*/true);
}

at::Tensor softmax_backward_cpu(const at::Tensor& grad_out, const at::Tensor& out, int64_t dim) {
  return backward(rows::CpuRows{}, grad_out, out, dim, /*log=*/false);
}

at::Tensor log_softmax_backward_cpu(const at::Tensor& grad_out, const at::Tensor& out,
                                    int64_t dim) {
  return backward(rows::CpuRows{}, grad_out, out, dim, /*log=*/true);
}

// The ladder is CUDA's; on the CPU every version runs the one CPU loop.
at::Tensor softmax_ladder_cpu(const at::Tensor& x, int64_t dim, int64_t version) {
  check_ladder_version(version);
  return softmax_cpu(x, dim);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchlab, CPU, m) {
  m.impl("softmax", &softmax_cpu);
  m.impl("log_softmax", &log_softmax_cpu);
  m.impl("softmax_backward", &softmax_backward_cpu);
  m.impl("log_softmax_backward", &log_softmax_backward_cpu);
  m.impl("softmax_ladder", &softmax_ladder_cpu);
}

}  // namespace torchlab::softmax
