// 16-byte vector loads and stores: the widest access one thread can issue, and the way a
// memory-bound kernel gets near the copy bandwidth.
#pragma once

#include <cstdint>

namespace torchlab {

// Elements of T in one 16-byte access.
template <typename T>
constexpr int kVec16 = 16 / static_cast<int>(sizeof(T));

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T val[N];
};

template <int N, typename T>
__device__ __forceinline__ Vec<T, N> load_vec(const T* p) {
  return *reinterpret_cast<const Vec<T, N>*>(p);
}

template <int N, typename T>
__device__ __forceinline__ void store_vec(T* p, const Vec<T, N>& v) {
  *reinterpret_cast<Vec<T, N>*>(p) = v;
}

// A 16-byte vector that must go out as one 16-byte store (the st.global.wb intrinsic,
// STG.E.128.STRONG.SM). In some kernels (every cluster kernel of the row operators,
// version 3's loop) nvcc compiled the plain struct store to narrower ones, each a partial
// write to the L2: six 2-byte stores and a 4-byte one per bfloat16 vector. Elsewhere the
// plain store is a 16-byte one and leaves the compiler freer: short bfloat16 forwards ran
// 2-8 points faster with it.
template <int N, typename T>
__device__ __forceinline__ void store_vec_whole(T* p, const Vec<T, N>& v) {
  if constexpr (sizeof(Vec<T, N>) == 16) {
    __stwb(reinterpret_cast<uint4*>(p), *reinterpret_cast<const uint4*>(&v));
  } else {
    store_vec(p, v);
  }
}

inline bool is_aligned(const void* p, int bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

}  // namespace torchlab
