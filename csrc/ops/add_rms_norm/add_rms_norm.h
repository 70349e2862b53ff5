// add_rms_norm: h = x + residual, out = rms_norm(h) * weight, returning (out, h): the
// residual add of a Llama-style block fused into the norm that follows it. One pass reads
// x and residual and writes out and h, where eager PyTorch writes h, reads it back to
// normalize, and writes out. The row operators are rms_norm's, with the add fused in
// (rms_norm::Forward<_, true>); the backward adds the gradient that reaches h directly
// (rms_norm::Backward<_, true>) and returns one gradient, that of x and of residual alike.
//
// The wrappers here are shared by the CPU and CUDA files, which pass their Device.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include "common/norm.h"
#include "common/rows.h"
#include "ops/rms_norm/rms_norm.h"

namespace torchlab::add_rms_norm {

template <typename Device>
std::tuple<at::Tensor, at::Tensor, at::Tensor> forward(
    const Device& device, const at::Tensor& x_in, const at::Tensor& residual_in,
    const at::Tensor& weight_in, c10::optional<double> eps_in) {
  constexpr const char* op = "add_rms_norm";
  check_floating(op, "x", x_in);
  check_like(op, "residual", residual_in, "x", x_in);
  check_same_dtype(op, "weight", weight_in, "x", x_in);
  check_same_device(op, "weight", weight_in, "x", x_in);
  TORCH_CHECK(weight_in.dim() >= 1, op,
              ": expected weight to have at least 1 dimension, got a 0-d tensor");
  const norm::Shape shape = norm::check_normalized_shape(op, x_in, weight_in.sizes());
  const double eps = eps_in.value_or(rms_norm::default_eps(x_in.scalar_type()));
  norm::check_eps(op, eps);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor residual = residual_in.contiguous();
  const at::Tensor weight = weight_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  at::Tensor residual_out = at::empty(x.sizes(), x.options());
  at::Tensor rstd = norm::empty_row_stats(x, shape);
  Device::dispatch(op, x.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    using Op = rms_norm::Forward<scalar_t, /*kAddResidual=*/true>;
    using acc_t = typename Op::acc_t;
    rows::Tensors<scalar_t> t;
    t.in[0] = x.const_data_ptr<scalar_t>();
    t.in[1] = residual.const_data_ptr<scalar_t>();
    t.out[0] = out.mutable_data_ptr<scalar_t>();
    t.out[1] = residual_out.mutable_data_ptr<scalar_t>();
    t.column_in[0] = weight.const_data_ptr<scalar_t>();
    t.row_out[0] = rstd.mutable_data_ptr<acc_t>();
    t.rows = shape.rows;
    t.cols = shape.cols;
    device.run(Op{acc_t(eps), acc_t(1.0 / double(shape.cols))}, t, {}, x.options());
  });
  return {out, residual_out, rstd};
}

// grad_out and grad_residual_out: the gradients of the two outputs; residual_out and rstd:
// what the forward saved. Returns the gradient of x (and of residual) and of weight.
template <typename Device>
std::tuple<at::Tensor, at::Tensor> backward(
    const Device& device, const at::Tensor& grad_out_in, const at::Tensor& grad_residual_out_in,
    const at::Tensor& residual_out_in, const at::Tensor& rstd_in, const at::Tensor& weight_in) {
  constexpr const char* op = "add_rms_norm_backward";
  check_floating(op, "residual_out", residual_out_in);
  check_like(op, "grad_out", grad_out_in, "residual_out", residual_out_in);
  check_like(op, "grad_residual_out", grad_residual_out_in, "residual_out", residual_out_in);
  check_same_dtype(op, "weight", weight_in, "residual_out", residual_out_in);
  check_same_device(op, "weight", weight_in, "residual_out", residual_out_in);
  const norm::Shape shape = norm::check_normalized_shape(op, residual_out_in, weight_in.sizes());
  norm::check_row_stats(op, "rstd", rstd_in, residual_out_in, shape);
  const at::Tensor grad_out = grad_out_in.contiguous();
  const at::Tensor grad_residual_out = grad_residual_out_in.contiguous();
  const at::Tensor h = residual_out_in.contiguous();
  const at::Tensor rstd = rstd_in.contiguous();
  const at::Tensor weight = weight_in.contiguous();
  at::Tensor grad_x = at::empty(h.sizes(), h.options());
  at::Tensor grad_weight = at::empty(weight.sizes(), h.options());
  Device::dispatch(op, h.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    using Op = rms_norm::Backward<scalar_t, /*kAddResidualGrad=*/true>;
    using acc_t = typename Op::acc_t;
    rows::Tensors<scalar_t> t;
    t.in[0] = grad_out.const_data_ptr<scalar_t>();
    t.in[1] = h.const_data_ptr<scalar_t>();
    t.in[2] = grad_residual_out.const_data_ptr<scalar_t>();
    t.out[0] = grad_x.mutable_data_ptr<scalar_t>();
    t.column_in[0] = weight.const_data_ptr<scalar_t>();
    t.row_in[0] = rstd.const_data_ptr<acc_t>();
    t.rows = shape.rows;
    t.cols = shape.cols;
    device.run(Op{acc_t(1.0 / double(shape.cols))}, t, {grad_weight}, h.options());
  });
  return {grad_x, grad_weight};
}

}  // namespace torchlab::add_rms_norm
