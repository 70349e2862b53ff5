// The operator surface of torchlab: every schema, in one place.
//
// Kernels are registered per dispatch key next to each operator (csrc/ops/<op>/), fake
// kernels and autograd formulas from Python (torchlab/ops/<op>.py).
#include <torch/library.h>

TORCH_LIBRARY(torchlab, m) {
  m.def("bias_gelu(Tensor x, Tensor bias, *, str approximate='none') -> Tensor");
  m.def(
      "bias_gelu_backward(Tensor grad_out, Tensor x, Tensor bias, *, str approximate='none')"
      " -> (Tensor grad_x, Tensor grad_bias)");
}
