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

  // Row operators (csrc/common/rows.h). The forwards return what their backwards need
  // (mean, rstd: float32, or float64 for float64 x, one value a row); the *_ladder
  // operators run one version of the CUDA ladder, for the lessons and the benchmarks.
  m.def("softmax(Tensor x, int dim=-1) -> Tensor");
  m.def("softmax_backward(Tensor grad_out, Tensor out, int dim) -> Tensor");
  m.def("softmax_ladder(Tensor x, int dim, int version) -> Tensor");
  m.def("log_softmax(Tensor x, int dim=-1) -> Tensor");
  m.def("log_softmax_backward(Tensor grad_out, Tensor out, int dim) -> Tensor");
  m.def(
      "layer_norm(Tensor x, int[] normalized_shape, Tensor? weight=None, Tensor? bias=None,"
      " float eps=1e-05) -> (Tensor out, Tensor mean, Tensor rstd)");
  m.def(
      "layer_norm_backward(Tensor grad_out, Tensor x, Tensor mean, Tensor rstd,"
      " int[] normalized_shape, Tensor? weight)"
      " -> (Tensor grad_x, Tensor grad_weight, Tensor grad_bias)");
  m.def(
      "rms_norm(Tensor x, int[] normalized_shape, Tensor? weight=None, float? eps=None)"
      " -> (Tensor out, Tensor rstd)");
  m.def(
      "rms_norm_backward(Tensor grad_out, Tensor x, Tensor rstd, int[] normalized_shape,"
      " Tensor? weight) -> (Tensor grad_x, Tensor grad_weight)");
  m.def(
      "rms_norm_ladder(Tensor x, int[] normalized_shape, Tensor? weight, float? eps,"
      " int version) -> Tensor");
  m.def(
      "add_rms_norm(Tensor x, Tensor residual, Tensor weight, float? eps=None)"
      " -> (Tensor out, Tensor residual_out, Tensor rstd)");
  m.def(
      "add_rms_norm_backward(Tensor grad_out, Tensor grad_residual_out, Tensor residual_out,"
      " Tensor rstd, Tensor weight) -> (Tensor grad_x, Tensor grad_weight)");
}
