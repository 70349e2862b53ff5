// rms_norm: out = x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape, as
// torch.nn.functional.rms_norm, forward and backward as row operators (csrc/common/rows.h).
// add_rms_norm (csrc/ops/add_rms_norm/) runs the same operators with the residual add fused
// in (kAddResidual).
//
// With r = rstd = 1 / sqrt(mean(x^2) + eps), N = cols and b = sum g w x over the row:
//   grad_x = r g w - x r^3 b / N          grad_weight = sum over rows of g x r
//
// The wrappers here are shared by the CPU and CUDA files, which pass their Device.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <limits>

#include "common/norm.h"
#include "common/rows.h"

namespace torchlab::rms_norm {

using rows::Reduce;

// kAddResidual: inputs x and residual, normalizing h = x + residual (rounded to the dtype,
// as it is stored), outputs the normalized h and h itself.
template <typename scalar_t_, bool kAddResidual>
struct Forward {
  using scalar_t = scalar_t_;
  using acc_t = at::opmath_type<scalar_t>;
  static constexpr int kInputs = kAddResidual ? 2 : 1, kOutputs = kAddResidual ? 2 : 1,
                       kColumnInputs = 1, kRowInputs = 0, kRowOutputs = 1, kColumnSums = 0,
                       kRounds = 1;
  static constexpr bool kIndependentRounds = false;
  acc_t eps;
  acc_t inv_cols;
  acc_t rstd = 0;

  static C10_HOST_DEVICE Reduce reduction(int) { return Reduce::Sum; }
  static C10_HOST_DEVICE acc_t column_default(int) { return 1; }  // no weight: ones
  static C10_HOST_DEVICE acc_t input(const acc_t* in) {
    return kAddResidual ? acc_t(scalar_t(in[0] + in[1])) : in[0];
  }
  C10_HOST_DEVICE void begin_row(const acc_t*) {}
  C10_HOST_DEVICE acc_t contribution(int, const acc_t* in, const acc_t*) const {
    const acc_t h = input(in);
    return h * h;
  }
  C10_HOST_DEVICE void end_round(int, acc_t total) { rstd = rows::rsqrt(total * inv_cols + eps); }
  C10_HOST_DEVICE void output(const acc_t* in, const acc_t* weight, acc_t* out, acc_t*) const {
    const acc_t h = input(in);
    out[0] = h * rstd * weight[0];
    if (kAddResidual) out[1] = h;
  }
  C10_HOST_DEVICE void row_outputs(acc_t* row_out) const { row_out[0] = rstd; }
};

// Inputs: grad_out, x (h for add_rms_norm) and, with kAddResidualGrad, the gradient of
// add_rms_norm's second output, added to grad_x.
template <typename scalar_t_, bool kAddResidualGrad>
struct Backward {
  using scalar_t = scalar_t_;
  using acc_t = at::opmath_type<scalar_t>;
  static constexpr int kInputs = kAddResidualGrad ? 3 : 2, kOutputs = 1, kColumnInputs = 1,
                       kRowInputs = 1, kRowOutputs = 0, kColumnSums = 1, kRounds = 1;
  static constexpr bool kIndependentRounds = false;
  acc_t inv_cols;
  acc_t rstd = 0;
  acc_t x_scale = 0;  // r^3 b / N

  static C10_HOST_DEVICE Reduce reduction(int) { return Reduce::Sum; }
  static C10_HOST_DEVICE acc_t column_default(int) { return 1; }
  C10_HOST_DEVICE void begin_row(const acc_t* row_in) { rstd = row_in[0]; }
  C10_HOST_DEVICE acc_t contribution(int, const acc_t* in, const acc_t* weight) const {
    return in[0] * weight[0] * in[1];
  }
  C10_HOST_DEVICE void end_round(int, acc_t total) {
    x_scale = rstd * rstd * rstd * total * inv_cols;
  }
  C10_HOST_DEVICE void output(const acc_t* in, const acc_t* weight, acc_t* out,
                              acc_t* column_sum) const {
    out[0] = rstd * in[0] * weight[0] - in[1] * x_scale;
    if (kAddResidualGrad) out[0] += in[2];
    column_sum[0] = in[0] * in[1] * rstd;
  }
  C10_HOST_DEVICE void row_outputs(acc_t*) const {}
};

// torch.finfo(dtype).eps: the eps PyTorch's RMSNorm takes when none is given.
inline double default_eps(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return std::numeric_limits<double>::epsilon();
    case at::kBFloat16: return double(std::numeric_limits<c10::BFloat16>::epsilon());
    case at::kHalf: return double(std::numeric_limits<c10::Half>::epsilon());
    default: return std::numeric_limits<float>::epsilon();
  }
}

template <typename Device>
std::tuple<at::Tensor, at::Tensor> forward(
    const Device& device, const at::Tensor& x_in, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight_in, c10::optional<double> eps_in) {
  constexpr const char* op = "rms_norm";
  const norm::Shape shape = norm::check_normalized_shape(op, x_in, normalized_shape);
  norm::check_parameter(op, "weight", weight_in, x_in, normalized_shape);
  const double eps = eps_in.value_or(default_eps(x_in.scalar_type()));
  norm::check_eps(op, eps);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor weight = norm::contiguous_or_undefined(weight_in);
  at::Tensor out = at::empty(x.sizes(), x.options());
  at::Tensor rstd = norm::empty_row_stats(x, shape);
  Device::dispatch(op, x.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    using Op = Forward<scalar_t, false>;
    using acc_t = typename Op::acc_t;
    rows::Tensors<scalar_t> t;
    t.in[0] = x.const_data_ptr<scalar_t>();
    t.out[0] = out.mutable_data_ptr<scalar_t>();
    t.column_in[0] = norm::data_or_null<scalar_t>(weight);
    t.row_out[0] = rstd.mutable_data_ptr<acc_t>();
    t.rows = shape.rows;
    t.cols = shape.cols;
    device.run(Op{acc_t(eps), acc_t(1.0 / double(shape.cols))}, t, {}, x.options());
  });
  return {out, rstd};
}

template <typename Device>
std::tuple<at::Tensor, at::Tensor> backward(
    const Device& device, const at::Tensor& grad_out_in, const at::Tensor& x_in,
    const at::Tensor& rstd_in, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight_in) {
  constexpr const char* op = "rms_norm_backward";
  const norm::Shape shape = norm::check_normalized_shape(op, x_in, normalized_shape);
  norm::check_parameter(op, "weight", weight_in, x_in, normalized_shape);
  check_like(op, "grad_out", grad_out_in, "x", x_in);
  norm::check_row_stats(op, "rstd", rstd_in, x_in, shape);
  const at::Tensor grad_out = grad_out_in.contiguous();
  const at::Tensor x = x_in.contiguous();
  const at::Tensor rstd = rstd_in.contiguous();
  const at::Tensor weight = norm::contiguous_or_undefined(weight_in);
  at::Tensor grad_x = at::empty(x.sizes(), x.options());
  at::Tensor grad_weight = at::empty(normalized_shape, x.options());
  Device::dispatch(op, x.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    using Op = Backward<scalar_t, false>;
    using acc_t = typename Op::acc_t;
    rows::Tensors<scalar_t> t;
    t.in[0] = grad_out.const_data_ptr<scalar_t>();
    t.in[1] = x.const_data_ptr<scalar_t>();
    t.out[0] = grad_x.mutable_data_ptr<scalar_t>();
    t.column_in[0] = norm::data_or_null<scalar_t>(weight);
    t.row_in[0] = rstd.const_data_ptr<acc_t>();
    t.rows = shape.rows;
    t.cols = shape.cols;
    device.run(Op{acc_t(1.0 / double(shape.cols))}, t, {grad_weight}, x.options());
  });
  return {grad_x, grad_weight};
}

}  // namespace torchlab::rms_norm
