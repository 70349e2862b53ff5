// Reductions over a row spread across threads: a warp's lanes (shuffles), a block's warps
// (shared memory) and, on Hopper, a cluster's blocks (distributed shared memory). Every
// thread of the row gets the same total, combined in the same fixed order on every run.
#pragma once

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#include <cooperative_groups.h>
#endif

#include "common/rows.h"

namespace torchlab::rows {

// XOR butterfly: after log2(32) steps every lane holds the total, the same on every lane
// (each step adds the same two values, and a + b == b + a).
template <typename acc_t>
__device__ __forceinline__ acc_t warp_reduce(acc_t v, Reduce kind) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    v = combine(kind, v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// A row spread over kRowThreads threads (threadIdx.x) of a block that holds kRowsPerBlock
// rows (threadIdx.y), and, with kCluster, over every block of the cluster. Every thread of
// the block must call reduce() the same number of times (it holds barriers).
//
// Buffers alternate between two halves: a write to one half for reduction n + 2 happens
// after the barrier of reduction n + 1, which every thread passes only after reading the
// half for reduction n; so one barrier per reduction (per level) suffices.
template <typename acc_t, int kRowThreads, int kRowsPerBlock, bool kCluster>
struct RowReducer {
  static constexpr int kWarps = kRowThreads / 32;
  static_assert(kRowThreads % 32 == 0, "a row takes whole warps");

  acc_t (*warp_totals)[kRowsPerBlock][kWarps];  // [2][rows][warps], shared
  acc_t* block_totals;                          // [2], shared; read by the whole cluster
  int half = 0;

  __device__ acc_t reduce(acc_t v, Reduce kind) {
    v = warp_reduce(v, kind);
    if constexpr (kWarps > 1) {
      const int warp = threadIdx.x / 32;
      if (threadIdx.x % 32 == 0) warp_totals[half][threadIdx.y][warp] = v;
      __syncthreads();
      v = warp_totals[half][threadIdx.y][0];
#pragma unroll
      for (int w = 1; w < kWarps; ++w) v = combine(kind, v, warp_totals[half][threadIdx.y][w]);
    }
    if constexpr (kCluster) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
      static_assert(kRowsPerBlock == 1, "a cluster holds one row");
      namespace cg = cooperative_groups;
      cg::cluster_group cluster = cg::this_cluster();
      if (threadIdx.x == 0) block_totals[half] = v;
      cluster.sync();  // every block's total written, and visible across the cluster
      v = identity<acc_t>(kind);
      for (unsigned rank = 0; rank < cluster.num_blocks(); ++rank) {
        v = combine(kind, v, *cluster.map_shared_rank(&block_totals[half], rank));
      }
#endif
    }
    half ^= 1;
    return v;
  }
};

}  // namespace torchlab::rows
