// softmax and log_softmax over one dimension, forward and backward, as row operators
// (csrc/common/rows.h): the dimension is moved last and each row is one softmax.
//
//   softmax        out = e^(x - max) / sum e^(x - max)      grad_x = y (g - sum g y)
//   log_softmax    out = x - max - log sum e^(x - max)      grad_x = g - e^y sum g
//
// The wrappers here are shared by the CPU and CUDA files, which pass their Device
// (rows::CpuRows or rows::CudaRows): the checks, the layout and the outputs are decided once.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/WrapDimMinimal.h>

#include <cmath>
#include <type_traits>

#include "common/checks.h"
#include "common/fast_math.h"
#include "common/rows.h"

namespace torchlab::softmax {

using rows::Reduce;

// e^x for x <= 0 (a log-probability): exactly 0 far below zero, as for masked (-inf)
// entries, where the CPU's fast_exp would clamp; NaN stays NaN.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t exp_nonpositive(acc_t x) {
  return x != x ? x : (x < acc_t(-87) ? acc_t(0) : fast_exp(x));
}

// e^(x - shift) for x <= shift. On the GPU, 2^(x log2e - shift log2e): one fused
// multiply-add and one ex2, where e^(x - shift) would take a subtraction, a multiplication
// and the ex2 (bfloat16 softmax spends about as many instructions as the copy bandwidth
// leaves it); -inf gives 0, and a row whose shift is -inf (all -inf) gives NaN, as in
// PyTorch.
template <typename acc_t>
struct ShiftedExp {
  acc_t shift = 0;
  acc_t shift_log2e = 0;

  C10_HOST_DEVICE void set(acc_t s) {
    shift = s;
    shift_log2e = s * acc_t(1.4426950408889634);
  }
  C10_HOST_DEVICE acc_t operator()(acc_t x) const {
#ifdef __CUDA_ARCH__
    if constexpr (std::is_same_v<acc_t, float>) {
      float y;
      asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(fmaf(x, 1.4426950408889634f, -shift_log2e)));
      return y;
    }
#endif
    return exp_nonpositive(x - shift);
  }
};

template <typename scalar_t_, bool kLog>
struct Forward {
  using scalar_t = scalar_t_;
  using acc_t = at::opmath_type<scalar_t>;
  static constexpr int kInputs = 1, kOutputs = 1, kColumnInputs = 0, kRowInputs = 0,
                       kRowOutputs = 0, kColumnSums = 0, kRounds = 2;
  static constexpr bool kIndependentRounds = false;  // the sum needs the max
  ShiftedExp<acc_t> exp_minus_max;  // e^(x - max)
  acc_t scale = 0;  // softmax: 1 / sum; log_softmax: log sum

  static C10_HOST_DEVICE Reduce reduction(int round) {
    return round == 0 ? Reduce::Max : Reduce::Sum;
  }
  static C10_HOST_DEVICE acc_t column_default(int) { return 0; }
  C10_HOST_DEVICE void begin_row(const acc_t*) {}
  C10_HOST_DEVICE acc_t contribution(int round, const acc_t* in, const acc_t*) const {
    return round == 0 ? in[0] : exp_minus_max(in[0]);
  }
  C10_HOST_DEVICE void end_round(int round, acc_t total) {
    if (round == 0) {
      exp_minus_max.set(total);
    } else {
      scale = kLog ? std::log(total) : acc_t(1) / total;
    }
  }
  C10_HOST_DEVICE void output(const acc_t* in, const acc_t*, acc_t* out, acc_t*) const {
    out[0] = kLog ? (in[0] - exp_minus_max.shift) - scale : exp_minus_max(in[0]) * scale;
  }
  C10_HOST_DEVICE void row_outputs(acc_t*) const {}
};

// Inputs: grad_out, out (the forward's output).
template <typename scalar_t_, bool kLog>
struct Backward {
  using scalar_t = scalar_t_;
  using acc_t = at::opmath_type<scalar_t>;
  static constexpr int kInputs = 2, kOutputs = 1, kColumnInputs = 0, kRowInputs = 0,
                       kRowOutputs = 0, kColumnSums = 0, kRounds = 1;
  static constexpr bool kIndependentRounds = false;
  acc_t sum = 0;  // softmax: sum g y; log_softmax: sum g

  static C10_HOST_DEVICE Reduce reduction(int) { return Reduce::Sum; }
  static C10_HOST_DEVICE acc_t column_default(int) { return 0; }
  C10_HOST_DEVICE void begin_row(const acc_t*) {}
  C10_HOST_DEVICE acc_t contribution(int, const acc_t* in, const acc_t*) const {
    return kLog ? in[0] : in[0] * in[1];
  }
  C10_HOST_DEVICE void end_round(int, acc_t total) { sum = total; }
  C10_HOST_DEVICE void output(const acc_t* in, const acc_t*, acc_t* out, acc_t*) const {
    out[0] = kLog ? in[0] - exp_nonpositive(in[1]) * sum : in[1] * (in[0] - sum);
  }
  C10_HOST_DEVICE void row_outputs(acc_t*) const {}
};

inline const char* forward_name(bool log) {
  return log ? "log_softmax" : "softmax";
}

inline const char* backward_name(bool log) {
  return log ? "log_softmax_backward" : "softmax_backward";
}

// x with `dim` moved last, contiguous: a [rows, cols] matrix. A 0-d x is one row of one.
inline at::Tensor as_rows(const at::Tensor& x, int64_t dim) {
  return x.dim() == 0 ? x.reshape({1}) : x.movedim(dim, -1).contiguous();
}

// The result laid out as the rows were: `dim` moved back (a strided view, as the fake kernel
// in torchlab/ops/softmax.py describes it).
inline at::Tensor from_rows(const at::Tensor& out, const at::Tensor& like, int64_t dim) {
  return like.dim() == 0 ? out.reshape({}) : out.movedim(-1, dim);
}

template <typename Device>
at::Tensor forward(const Device& device, const at::Tensor& x_in, int64_t dim_in, bool log) {
  const char* op = forward_name(log);
  check_floating(op, "x", x_in);
  const int64_t dim = c10::maybe_wrap_dim(dim_in, x_in.dim());
  const at::Tensor x = as_rows(x_in, dim);
  at::Tensor out = at::empty(x.sizes(), x.options());
  Device::dispatch(op, x.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    rows::Tensors<scalar_t> t;
    t.in[0] = x.const_data_ptr<scalar_t>();
    t.out[0] = out.mutable_data_ptr<scalar_t>();
    t.cols = x.size(-1);
    t.rows = t.cols == 0 ? 0 : x.numel() / t.cols;
    if (log) {
      device.run(Forward<scalar_t, true>{}, t, {}, x.options());
    } else {
      device.run(Forward<scalar_t, false>{}, t, {}, x.options());
    }
  });
  return from_rows(out, x_in, dim);
}

template <typename Device>
at::Tensor backward(const Device& device, const at::Tensor& grad_out_in,
                    const at::Tensor& out_in, int64_t dim_in, bool log) {
  const char* op = backward_name(log);
  check_floating(op, "out", out_in);
  check_like(op, "grad_out", grad_out_in, "out", out_in);
  const int64_t dim = c10::maybe_wrap_dim(dim_in, out_in.dim());
  const at::Tensor grad_out = as_rows(grad_out_in, dim);
  const at::Tensor out = as_rows(out_in, dim);
  at::Tensor grad_x = at::empty(out.sizes(), out.options());
  Device::dispatch(op, out.scalar_type(), [&](auto tag) {
    using scalar_t = decltype(tag);
    rows::Tensors<scalar_t> t;
    t.in[0] = grad_out.const_data_ptr<scalar_t>();
    t.in[1] = out.const_data_ptr<scalar_t>();
    t.out[0] = grad_x.mutable_data_ptr<scalar_t>();
    t.cols = out.size(-1);
    t.rows = t.cols == 0 ? 0 : out.numel() / t.cols;
    if (log) {
      device.run(Backward<scalar_t, true>{}, t, {}, out.options());
    } else {
      device.run(Backward<scalar_t, false>{}, t, {}, out.options());
    }
  });
  return from_rows(grad_x, out_in, dim);
}

}  // namespace torchlab::softmax
