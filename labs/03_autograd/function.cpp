// Lab 03: a custom autograd function in C++ (torch::autograd::Function), registered as the
// Autograd kernel of an operator. LAB_NAMESPACE is chosen by the build; the operator is
// called as torch.ops.<namespace>.softplus.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// softplus(x) = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so that large |x|
// neither overflows nor loses the small term.
struct Softplus : public torch::autograd::Function<Softplus> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) {
    ctx->save_for_backward({x});  // what backward will need: the input
    return at::clamp_min(x, 0) + at::log1p(at::exp(-at::abs(x)));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    const at::Tensor grad_out = grad_outputs[0];
    // EXERCISE backward: return {grad_x}, where grad_x = grad_out * d softplus(x) / dx.
    // (The derivative of log(1 + exp(x)) is the logistic sigmoid of x.)
    return {grad_out * at::sigmoid(x)};
    // END EXERCISE
  }
};

at::Tensor softplus_autograd(const at::Tensor& x) {
  return Softplus::apply(x);
}

}  // namespace

TORCH_LIBRARY(LAB_NAMESPACE, m) {
  m.def("softplus(Tensor x) -> Tensor");
}

// The Autograd kernel runs first for every tensor (all carry an Autograd key); its forward
// calls ATen operators, which reach the backend kernels.
TORCH_LIBRARY_IMPL(LAB_NAMESPACE, Autograd, m) {
  m.impl("softplus", &softplus_autograd);
}
