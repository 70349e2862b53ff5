// Input checks shared by every operator. Each message names the operator, the argument,
// what was expected and what came, in Python's words (torch.float32, not Float), and
// torchlab/ops/_checks.py words the fake kernels' checks the same way.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <string>

namespace torchlab {

inline std::string dtype_name(at::ScalarType dtype) {
  return "torch." + std::string(c10::getDtypeNames(dtype).first);
}

// The dtypes every torchlab kernel is instantiated for.
inline void check_floating(const char* op, const char* name, const at::Tensor& t) {
  const auto dtype = t.scalar_type();
  TORCH_CHECK(
      dtype == at::kDouble || dtype == at::kFloat || dtype == at::kBFloat16 ||
          dtype == at::kHalf,
      op, ": expected ", name, " to be float64, float32, bfloat16 or float16, got ",
      dtype_name(dtype));
}

inline void check_same_dtype(
    const char* op, const char* name, const at::Tensor& t, const char* like_name,
    const at::Tensor& like) {
  TORCH_CHECK(
      t.scalar_type() == like.scalar_type(), op, ": expected ", name, " to have dtype ",
      dtype_name(like.scalar_type()), " (the dtype of ", like_name, "), got ",
      dtype_name(t.scalar_type()));
}

inline void check_same_device(
    const char* op, const char* name, const at::Tensor& t, const char* like_name,
    const at::Tensor& like) {
  TORCH_CHECK(
      t.device() == like.device(), op, ": expected ", name, " on device ", like.device(),
      " (the device of ", like_name, "), got ", t.device());
}

inline void check_same_shape(
    const char* op, const char* name, const at::Tensor& t, const char* like_name,
    const at::Tensor& like) {
  TORCH_CHECK(
      t.sizes() == like.sizes(), op, ": expected ", name, " of shape ", like.sizes(),
      " (the shape of ", like_name, "), got ", t.sizes());
}

}  // namespace torchlab
