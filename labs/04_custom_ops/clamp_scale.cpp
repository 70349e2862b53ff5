// Lab 04: from a bare C++ kernel to an operator that passes opcheck and compiles.
//
// clamp_scale(x, lo, hi, scale) = clamp(x, lo, hi) * scale. The kernel is given; making it
// an operator is the exercise: a schema, a CPU registration, and a Meta kernel so that
// torch.compile can trace it. LAB_NAMESPACE is chosen by the build.
#include <ATen/ATen.h>
#include <torch/library.h>

namespace {

// The bare kernel: correct, but nothing outside this file can call it yet.
at::Tensor clamp_scale_cpu(const at::Tensor& x, double lo, double hi, double scale) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "clamp_scale: expected float32 x");
  const at::Tensor input = x.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  const float* in = input.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t i = 0; i < input.numel(); ++i) {
    dst[i] = std::min(std::max(in[i], float(lo)), float(hi)) * float(scale);
  }
  return out;
}

// The shape of the output, for meta tensors and torch.compile's FakeTensors: no data.
at::Tensor clamp_scale_meta(const at::Tensor& x, double lo, double hi, double scale) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "clamp_scale: expected float32 x");
  return at::empty_like(x, at::MemoryFormat::Contiguous);
}

}  // namespace

TORCH_LIBRARY(LAB_NAMESPACE, m) {
  // EXERCISE schema [empty]: define clamp_scale with a schema (a tensor and three floats,
  // returning a new tensor; nothing is mutated), and register clamp_scale_cpu for CPU.
  m.def("clamp_scale(Tensor x, float lo, float hi, float scale) -> Tensor");
  m.impl("clamp_scale", c10::DispatchKey::CPU, TORCH_FN(clamp_scale_cpu));
  // END EXERCISE
}

TORCH_LIBRARY_IMPL(LAB_NAMESPACE, Meta, m) {
  // EXERCISE meta [empty]: register clamp_scale_meta as clamp_scale's Meta kernel.
  m.impl("clamp_scale", &clamp_scale_meta);
  // END EXERCISE
}
