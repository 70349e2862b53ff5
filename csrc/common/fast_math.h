// Float math for memory-bound kernels. A kernel that moves 4 bytes per element at the copy
// bandwidth has about 25 instructions per element to spend on an H100 before arithmetic,
// not memory, sets its speed. On the GPU these use the hardware's approximate exp2 and
// reciprocal (one MUFU instruction each, about 2 ulp, denormals flushed to zero) where
// expf and 1.0f / x cost 5 to 10. On the CPU, exp is written out in arithmetic, so that
// the compiler can vectorize the loops that call it (a call to the library's expf stops
// that); in double everywhere, the library.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace torchlab {

// e^x on the CPU, within 2.5e-7 relative of the true value for x in [-87, 88]; outside, x
// is clamped to that range (e^x for x < -87 gives 1.6e-38, not a denormal or 0; for x > 88,
// 1.7e38, not inf), which the GELU formulas absorb. x = n ln2 + r with |r| <= ln2/2,
// e^r by its Taylor polynomial to degree 6, 2^n written into the exponent bits. Only
// selects, no branches, so a loop of it vectorizes; it needs -fno-trapping-math (setup.py,
// CMakeLists.txt), or the compiler will not turn the selects into blends.
inline float exp_branchless(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x log2 e)
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;  // ln2, hi + lo
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t exponent_bits = (int32_t(n) + 127) << 23;
  float two_to_n;
  std::memcpy(&two_to_n, &exponent_bits, sizeof(float));  // std::bit_cast, in C++17
  return p * two_to_n;
}

C10_HOST_DEVICE inline float fast_exp(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));  // 2^(x log2 e)
  return y;
#else
  return exp_branchless(x);
#endif
}

C10_HOST_DEVICE inline double fast_exp(double x) {
  return std::exp(x);
}

// 1 / x; gives 0 for x = inf.
C10_HOST_DEVICE inline float fast_rcp(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#else
  return 1.0f / x;
#endif
}

C10_HOST_DEVICE inline double fast_rcp(double x) {
  return 1.0 / x;
}

}  // namespace torchlab
