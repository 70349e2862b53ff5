// Input checks shared by every operator. Each message names the operator, the argument,
// what was expected and what came, in Python's words (torch.float32, not Float), and
// torchlab/ops/_checks.py words the fake kernels' checks the same way.
//
// Messages are assembled from strings only; numbers go through std::to_string. Streaming
// an integer into the message (operator<< on int64_t) crashed an extension built on the
// H100 machine's toolchain, whose shared library carried its own, never initialised copy
// of libstdc++'s locale facets.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <string>

namespace torchlab {

inline std::string dtype_name(at::ScalarType dtype) {
  return "torch." + std::string(c10::getDtypeNames(dtype).first);
}

// "[2, 3]", as Python prints a shape.
inline std::string shape_name(at::IntArrayRef sizes) {
  std::string name = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    name += (i ? ", " : "") + std::to_string(sizes[i]);
  }
  return name + "]";
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
      t.device() == like.device(), op, ": expected ", name, " on device ", like.device().str(),
      " (the device of ", like_name, "), got ", t.device().str());
}

inline void check_same_shape(
    const char* op, const char* name, const at::Tensor& t, const char* like_name,
    const at::Tensor& like) {
  TORCH_CHECK(
      t.sizes() == like.sizes(), op, ": expected ", name, " of shape ",
      shape_name(like.sizes()), " (the shape of ", like_name, "), got ", shape_name(t.sizes()));
}

// t is like `like`: the same dtype, device and shape (a gradient beside its tensor, a
// residual beside x).
inline void check_like(
    const char* op, const char* name, const at::Tensor& t, const char* like_name,
    const at::Tensor& like) {
  check_same_dtype(op, name, t, like_name, like);
  check_same_device(op, name, t, like_name, like);
  check_same_shape(op, name, t, like_name, like);
}

}  // namespace torchlab
