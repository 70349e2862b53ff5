// Float math for memory-bound kernels. A kernel that moves 4 bytes per element at the copy
// bandwidth has about 25 instructions per element to spend on an H100 before arithmetic,
// not memory, sets its speed. On the GPU these use the hardware's approximate exp2 and
// reciprocal (one MUFU instruction each, about 2 ulp, denormals flushed to zero) where
// expf and 1.0f / x cost 5 to 10; on the CPU, and in double everywhere, the library.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>

namespace torchlab {

C10_HOST_DEVICE inline float fast_exp(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));  // 2^(x log2 e)
  return y;
#else
  return std::exp(x);
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
