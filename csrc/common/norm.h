// What the normalizations (layer_norm, rms_norm, add_rms_norm) share: the checks of
// normalized_shape, weight, bias and eps, and the [rows, cols] view they compute over.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>

#include <string>
#include <vector>

#include "common/checks.h"

namespace torchlab::norm {

// x is normalized over its trailing dimensions, normalized_shape: rows are the leading ones.
struct Shape {
  int64_t rows;
  int64_t cols;
  std::vector<int64_t> row_shape;  // x.shape[:-len(normalized_shape)], the row stats' shape
};

inline std::string float_name(double value) {
  std::string s = std::to_string(value);  // "0.000010": trim the zeros
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

inline Shape check_normalized_shape(const char* op, const at::Tensor& x,
                                    at::IntArrayRef normalized_shape) {
  check_floating(op, "x", x);
  TORCH_CHECK(!normalized_shape.empty(), op,
              ": expected normalized_shape to have at least 1 dimension, got []");
  const int64_t k = int64_t(normalized_shape.size());
  TORCH_CHECK(x.dim() >= k && x.sizes().slice(x.dim() - k) == normalized_shape, op,
              ": expected the trailing dimensions of x to be normalized_shape ",
              shape_name(normalized_shape), ", got x of shape ", shape_name(x.sizes()));
  Shape shape;
  shape.cols = 1;
  for (const int64_t size : normalized_shape) shape.cols *= size;
  shape.row_shape = x.sizes().slice(0, x.dim() - k).vec();
  shape.rows = 1;
  for (const int64_t size : shape.row_shape) shape.rows *= size;
  return shape;
}

// A weight or bias: absent, or of normalized_shape, with x's dtype and device.
inline void check_parameter(const char* op, const char* name,
                            const c10::optional<at::Tensor>& parameter, const at::Tensor& x,
                            at::IntArrayRef normalized_shape) {
  if (!parameter.has_value() || !parameter->defined()) return;
  check_same_dtype(op, name, *parameter, "x", x);
  check_same_device(op, name, *parameter, "x", x);
  TORCH_CHECK(parameter->sizes() == normalized_shape, op, ": expected ", name, " of shape ",
              shape_name(normalized_shape), " (normalized_shape), got ",
              shape_name(parameter->sizes()));
}

// mean or rstd as the forward saved them: one value a row, in x's computation dtype.
inline void check_row_stats(const char* op, const char* name, const at::Tensor& stats,
                            const at::Tensor& x, const Shape& shape) {
  const at::ScalarType dtype = at::toOpMathType(x.scalar_type());
  TORCH_CHECK(stats.scalar_type() == dtype, op, ": expected ", name, " to have dtype ",
              dtype_name(dtype), ", got ", dtype_name(stats.scalar_type()));
  check_same_device(op, name, stats, "x", x);
  TORCH_CHECK(stats.sizes() == at::IntArrayRef(shape.row_shape), op, ": expected ", name,
              " of shape ", shape_name(shape.row_shape), " (the leading dimensions of x), got ",
              shape_name(stats.sizes()));
}

inline void check_eps(const char* op, double eps) {
  TORCH_CHECK(eps >= 0, op, ": expected eps >= 0, got ", float_name(eps));
}

// For mean or rstd: one value a row, in x's computation dtype (float32 for 16-bit x).
inline at::Tensor empty_row_stats(const at::Tensor& x, const Shape& shape) {
  return at::empty(shape.row_shape, x.options().dtype(at::toOpMathType(x.scalar_type())));
}

// A parameter as a contiguous tensor, or an undefined one.
inline at::Tensor contiguous_or_undefined(const c10::optional<at::Tensor>& parameter) {
  return parameter.has_value() && parameter->defined() ? parameter->contiguous() : at::Tensor();
}

template <typename scalar_t>
const scalar_t* data_or_null(const at::Tensor& t) {
  return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr;
}

}  // namespace torchlab::norm
