// bias_gelu: out = gelu(x + bias), bias broadcast over the last dimension of x.
//
// What the CPU and CUDA kernels share: the input checks and the GELU math. Both kernels
// read x as a [rows, cols] matrix (cols = x.size(-1)) and compute in at::opmath_type
// (float for the 16-bit types), so they round once, at the store.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/macros/Macros.h>

#include <cmath>
#include <string_view>
#include <type_traits>

#include "common/checks.h"
#include "common/fast_math.h"

namespace torchlab::bias_gelu {

enum class Approximate { None, Tanh };

inline Approximate parse_approximate(std::string_view approximate) {
  if (approximate == "none") return Approximate::None;
  if (approximate == "tanh") return Approximate::Tanh;
  TORCH_CHECK(
      false, "bias_gelu: expected approximate to be 'none' or 'tanh', got '", approximate, "'");
}

// Calls f with the approximation as a compile-time constant, so kernels carry no branch on it.
template <typename F>
void dispatch_approximate(Approximate approximate, F&& f) {
  if (approximate == Approximate::None) {
    f(std::integral_constant<Approximate, Approximate::None>{});
  } else {
    f(std::integral_constant<Approximate, Approximate::Tanh>{});
  }
}

inline void check_inputs(const at::Tensor& x, const at::Tensor& bias) {
  constexpr const char* op = "bias_gelu";
  check_floating(op, "x", x);
  check_same_dtype(op, "bias", bias, "x", x);
  check_same_device(op, "bias", bias, "x", x);
  TORCH_CHECK(x.dim() >= 1, op, ": expected x to have at least 1 dimension, got a 0-d tensor");
  TORCH_CHECK(
      bias.dim() == 1 && bias.size(0) == x.size(-1), op, ": expected bias of shape ",
      shape_name({x.size(-1)}), " (the last dimension of x), got ", shape_name(bias.sizes()));
}

inline void check_backward_inputs(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& bias) {
  check_inputs(x, bias);
  check_like("bias_gelu_backward", "grad_out", grad_out, "x", x);
}

// --- math, shared by host and device code ---------------------------------------------
//
// The same formulas run on the CPU and the GPU, in float for the 16-bit types and float32,
// in double for float64.

// erfc in float: a Chebyshev fit of erfc(z) exp(z^2) in t = 1 / (1 + |z|/2) with a relative
// error below 1.2e-7 for every z (Numerical Recipes, 2nd ed., section 6.2): one exp, one
// reciprocal and ten multiply-adds, against about 45 instructions for the library's erfcf.
C10_HOST_DEVICE inline float erfc_fast(float z) {
  const float t = fast_rcp(1.0f + 0.5f * std::fabs(z));
  const float p =
      -1.26551223f +
      t * (1.00002368f +
           t * (0.37409196f +
                t * (0.09678418f +
                     t * (-0.18628806f +
                          t * (0.27886807f +
                               t * (-1.13520398f +
                                    t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  const float r = t * fast_exp(p - z * z);
  return z >= 0.0f ? r : 2.0f - r;
}

C10_HOST_DEVICE inline double erfc_fast(double z) {
  return std::erfc(z);
}

// Phi(u) = erfc(-u/sqrt2)/2 keeps full relative accuracy for negative u, where the usual
// (1 + erf(u/sqrt2))/2 cancels (at u = -5 it loses about 20 of float's 24 bits).
template <typename T>
C10_HOST_DEVICE inline T normal_cdf(T u) {
  return T(0.5) * erfc_fast(u * T(-M_SQRT1_2));
}

template <typename T>
C10_HOST_DEVICE inline T normal_pdf(T u) {
  return T(0.3989422804014327) * fast_exp(T(-0.5) * u * u);  // 1/sqrt(2 pi)
}

// The tanh form: 0.5 u (1 + tanh(k)) = u sigmoid(2k), with k = sqrt(2/pi) (u + 0.044715 u^3):
// one exp, and no cancellation for negative u.
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kCubic = 0.044715;

template <typename T>
C10_HOST_DEVICE inline T exp_minus_2k(T u) {
  return fast_exp(T(-2 * kSqrt2OverPi) * (u + T(kCubic) * u * u * u));
}

template <Approximate A, typename T>
C10_HOST_DEVICE inline T gelu(T u) {
  if constexpr (A == Approximate::None) {
    return u * normal_cdf(u);
  } else {
    return u * fast_rcp(T(1) + exp_minus_2k(u));
  }
}

// d gelu / du
template <Approximate A, typename T>
C10_HOST_DEVICE inline T gelu_grad(T u) {
  if constexpr (A == Approximate::None) {
    return normal_cdf(u) + u * normal_pdf(u);
  } else {
    const T s = fast_rcp(T(1) + exp_minus_2k(u));  // sigmoid(2k)
    const T dk = T(kSqrt2OverPi) * (T(1) + T(3 * kCubic) * u * u);
    return s + T(2) * u * s * (T(1) - s) * dk;
  }
}

}  // namespace torchlab::bias_gelu
