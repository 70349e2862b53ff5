// layer_norm: out = (x - mean) / sqrt(var + eps) * weight + bias over the trailing
// normalized_shape, as torch.nn.functional.layer_norm, forward and backward as row
// operators (csrc/common/rows.h). The variance takes a second reduction over the row,
// sum (x - mean)^2, rather than sum x^2 - N mean^2, which cancels when |mean| >> std.
//
// With r = rstd, xhat = (x - mean) r, N = cols, a = sum g w and b = sum g w xhat:
//   grad_x = r (g w - a / N - xhat b / N)
//   grad_weight = sum over rows of g xhat         grad_bias = sum over rows of g
//
// The wrappers here are shared by the CPU and CUDA files, which pass their Device.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include "common/norm.h"
#include "common/rows.h"

namespace torchlab::layer_norm {

using rows::Reduce;

template <typename scalar_t_>
struct Forward {
  using scalar_t = scalar_t_;
  using acc_t = at::opmath_type<scalar_t>;
  static constexpr int kInputs = 1, kOutputs = 1, kColumnInputs = 2, kRowInputs = 0,
                       kRowOutputs = 2, kColumnSums = 0, kRounds = 2;
  static constexpr bool kIndependentRounds = false;  // the variance needs the mean
  acc_t eps;
  acc_t inv_cols;
  acc_t mean = 0;
  acc_t rstd = 0;

  static C10_HOST_DEVICE Reduce reduction(int) { return Reduce::Sum; }
  // weight, bias: absent, ones and zeros
  static C10_HOST_DEVICE acc_t column_default(int i) { return i == 0 ? 1 : 0; }
  C10_HOST_DEVICE void begin_row(const acc_t*) {}
  C10_HOST_DEVICE acc_t contribution(int round, const acc_t* in, const acc_t*) const {
    if (round == 0) return in[0];
    const acc_t d = in[0] - mean;
    return d * d;
  }
  C10_HOST_DEVICE void end_round(int round, acc_t total) {
    if (round == 0) {
      mean = total * inv_cols;
    } else {
      rstd = rows::rsqrt(total * inv_cols + eps);
    }
  }
  C10_HOST_DEVICE void output(const acc_t* in, const acc_t* column_in, acc_t* out,
                              acc_t*) const {
    out[0] = (in[0] - mean) * rstd * column_in[0] + column_in[1];
  }
  C10_HOST_DEVICE void row_outputs(acc_t* row_out) const {
    row_out[0] = mean;
    row_out[1] = rstd;
  }
};

// Inputs: grad_out, x; row inputs: mean, rstd; column sums: grad_weight, grad_bias.
template <typename scalar_t_>
struct Backward {
  using scalar_t = scalar_t_;
  using acc_t = at::opmath_type<scalar_t>;
  static constexpr int kInputs = 2, kOutputs = 1, kColumnInputs = 1, kRowInputs = 2,
                       kRowOutputs = 0, kColumnSums = 2, kRounds = 2;
  static constexpr bool kIndependentRounds = true;  // a and b need only mean and rstd
  acc_t inv_cols;
  acc_t mean = 0;
  acc_t rstd = 0;
  acc_t mean_gw = 0;        // a / N
  acc_t mean_gw_xhat = 0;   // b / N

  static C10_HOST_DEVICE Reduce reduction(int) { return Reduce::Sum; }
  static C10_HOST_DEVICE acc_t column_default(int) { return 1; }
  C10_HOST_DEVICE void begin_row(const acc_t* row_in) {
    mean = row_in[0];
    rstd = row_in[1];
  }
  C10_HOST_DEVICE acc_t contribution(int round, const acc_t* in, const acc_t* weight) const {
    const acc_t gw = in[0] * weight[0];
    return round == 0 ? gw : gw * (in[1] - mean) * rstd;
  }
  C10_HOST_DEVICE void end_round(int round, acc_t total) {
    (round == 0 ? mean_gw : mean_gw_xhat) = total * inv_cols;
  }
  C10_HOST_DEVICE void output(const acc_t* in, const acc_t* weight, acc_t* out,
                              acc_t* column_sum) const {
    const acc_t xhat = (in[1] - mean) * rstd;
    out[0] = rstd * (in[0] * weight[0] - mean_gw - xhat * mean_gw_xhat);
    column_sum[0] = in[0] * xhat;
    column_sum[1] = in[0];
  }
  C10_HOST_DEVICE void row_outputs(acc_t*) const {}
};

template <typename Device>
std::tuple<at::Tensor, at::Tensor, at::Tensor> forward(
    const Device& device, const at::Tensor& x_in, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight_in, const c10::optional<at::Tensor>& bias_in,
    double eps) {
  constexpr const char* op = "layer_norm";
  const norm::Shape shape = norm::check_normalized_shape(op, x_in, normalized_shape);
  norm::check_parameter(op, "weight", weight_in, x_in, normalized_shape);
  norm::check_parameter(op, "bias", bias_in, x_in, normalized_shape);
  norm::check_eps(op, eps);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor weight = norm::contiguous_or_undefined(weight_in);
  const at::Tensor bias = norm::contiguous_or_undefined(bias_in);
  at::Tensor out = at::empty(x.sizes(), x.options());
  at::Tensor mean = norm::empty_row_stats(x, shape);
  at::Tensor rstd = norm::empty_row_stats(x, shape);
  Device::dispatch(op, x.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    using Op = Forward<scalar_t>;
    using acc_t = typename Op::acc_t;
    rows::Tensors<scalar_t> t;
    t.in[0] = x.const_data_ptr<scalar_t>();
    t.out[0] = out.mutable_data_ptr<scalar_t>();
    t.column_in[0] = norm::data_or_null<scalar_t>(weight);
    t.column_in[1] = norm::data_or_null<scalar_t>(bias);
    t.row_out[0] = mean.mutable_data_ptr<acc_t>();
    t.row_out[1] = rstd.mutable_data_ptr<acc_t>();
    t.rows = shape.rows;
    t.cols = shape.cols;
    device.run(Op{acc_t(eps), acc_t(1.0 / double(shape.cols))}, t, {}, x.options());
  });
  return {out, mean, rstd};
}

template <typename Device>
std::tuple<at::Tensor, at::Tensor, at::Tensor> backward(
    const Device& device, const at::Tensor& grad_out_in, const at::Tensor& x_in,
    const at::Tensor& mean_in, const at::Tensor& rstd_in, at::IntArrayRef normalized_shape,
    const c10::optional<at::Tensor>& weight_in) {
  constexpr const char* op = "layer_norm_backward";
  const norm::Shape shape = norm::check_normalized_shape(op, x_in, normalized_shape);
  norm::check_parameter(op, "weight", weight_in, x_in, normalized_shape);
  check_like(op, "grad_out", grad_out_in, "x", x_in);
  norm::check_row_stats(op, "mean", mean_in, x_in, shape);
  norm::check_row_stats(op, "rstd", rstd_in, x_in, shape);
  const at::Tensor grad_out = grad_out_in.contiguous();
  const at::Tensor x = x_in.contiguous();
  const at::Tensor mean = mean_in.contiguous();
  const at::Tensor rstd = rstd_in.contiguous();
  const at::Tensor weight = norm::contiguous_or_undefined(weight_in);
  at::Tensor grad_x = at::empty(x.sizes(), x.options());
  at::Tensor grad_weight = at::empty(normalized_shape, x.options());
  at::Tensor grad_bias = at::empty(normalized_shape, x.options());
  Device::dispatch(op, x.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    using Op = Backward<scalar_t>;
    using acc_t = typename Op::acc_t;
    rows::Tensors<scalar_t> t;
    t.in[0] = grad_out.const_data_ptr<scalar_t>();
    t.in[1] = x.const_data_ptr<scalar_t>();
    t.out[0] = grad_x.mutable_data_ptr<scalar_t>();
    t.column_in[0] = norm::data_or_null<scalar_t>(weight);
    t.row_in[0] = mean.const_data_ptr<acc_t>();
    t.row_in[1] = rstd.const_data_ptr<acc_t>();
    t.rows = shape.rows;
    t.cols = shape.cols;
    device.run(Op{acc_t(1.0 / double(shape.cols))}, t, {grad_weight, grad_bias}, x.options());
  });
  return {grad_x, grad_weight, grad_bias};
}

}  // namespace torchlab::layer_norm
