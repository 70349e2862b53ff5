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

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// The address of `local` (this block's shared memory) in the block of the cluster with the
// given rank.
__device__ __forceinline__ uint32_t cluster_address(const void* local, unsigned rank) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n"
               : "=r"(remote)
               : "r"(static_cast<uint32_t>(__cvta_generic_to_shared(local))), "r"(rank));
  return remote;
}

// Every thread of every block of the cluster meets here, a warp's threads together
// (.aligned). The arrive is relaxed: it orders none of the thread's memory operations,
// where a release arrive (cluster.sync()'s) would first wait for them all to be performed,
// its stores to global memory included. The wait keeps its default acquire semantics.
__device__ __forceinline__ void cluster_barrier_relaxed() {
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
  asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
}
#endif

// A row spread over kRowThreads threads (threadIdx.x) of a block that holds kRowsPerBlock
// rows (threadIdx.y), and, with kCluster, over every block of the cluster. Every thread of
// the block must call reduce() the same number of times (it holds barriers), and, with
// kCluster, init() once first. A reduction takes kValues totals at once (kRoundsAPass:
// independent rounds), each combined as it would be alone, behind the same barriers.
//
// Buffers alternate between two halves: a write to one half for reduction n + 2 happens
// after the barrier of reduction n + 1, which every thread passes only after reading the
// half for reduction n; so one barrier per reduction (per level) suffices.
//
// Across the cluster, each block's thread 0 sends its block's totals into slot [rank] of
// every block's shared memory with st.async, which counts the bytes in on the receiving
// block's mbarrier; a block waits on its own mbarrier for all of them. No cluster-wide
// barrier per reduction: barrier.cluster's release would first wait until this thread's
// earlier stores to global memory (the previous row's output) were acknowledged, an idle
// microsecond or so per reduction (measured: 55-65% of the copy bandwidth with it).
template <typename acc_t, int kRowThreads, int kRowsPerBlock, bool kCluster, int kValues = 1>
struct RowReducer {
  static constexpr int kWarps = kRowThreads / 32;
  static constexpr int kMaxCluster = 16;
  static_assert(kRowThreads % 32 == 0, "a row takes whole warps");
  // The block barrier of reduction n + 1 is what keeps other blocks from sending their
  // totals of reduction n + 2 before this block has read those of n.
  static_assert(!kCluster || kWarps > 1, "a cluster's blocks take more than one warp");

  using WarpTotals = acc_t[2][kRowsPerBlock][kWarps][kValues];  // [half][row][warp][value]
  struct ClusterSlots {
    acc_t totals[2][kValues][kMaxCluster];  // [half][value][rank]
    uint64_t arrived[2];                    // mbarriers, one a half
  };

  acc_t (*warp_totals)[kRowsPerBlock][kWarps][kValues];  // WarpTotals, shared
  ClusterSlots* cluster_slots;  // shared; written by the whole cluster
  int half = 0;
  unsigned parity = 0;  // bit h: the phase of arrived[h] to wait for next

  __device__ void init() {
    if constexpr (kCluster) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
      static_assert(sizeof(acc_t) == 4, "st.async sends 32-bit totals");
      if (threadIdx.x == 0 && threadIdx.y == 0) {
        for (int h = 0; h < 2; ++h) {
          asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(
              static_cast<uint32_t>(__cvta_generic_to_shared(&cluster_slots->arrived[h]))));
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
      }
      // Every block's mbarriers ready: the fence above is the one a relaxed arrive needs.
      // cluster.sync()'s release arrive issued a MEMBAR.ALL.GPU at every block's start,
      // which a whole-grid block (a row each) paid once a row. On the H200, side by side,
      // means of two rounds: softmax's float32 forward at 8192x65536 92.6% -> 98.5% of the
      // copy, 2048x262144 84.6% -> 91.3%; LayerNorm's at 16384x32768 83.7% -> 82.7%.
      cluster_barrier_relaxed();
#endif
    }
  }

  // The row's totals of v (this thread's terms), kind[n] combining v[n], in place.
  __device__ void reduce(acc_t (&v)[kValues], const Reduce (&kind)[kValues]) {
#pragma unroll
    for (int n = 0; n < kValues; ++n) v[n] = warp_reduce(v[n], kind[n]);
    if constexpr (kWarps > 1) {
      const int warp = threadIdx.x / 32;
      if (threadIdx.x % 32 == 0) {
#pragma unroll
        for (int n = 0; n < kValues; ++n) warp_totals[half][threadIdx.y][warp][n] = v[n];
      }
      __syncthreads();
#pragma unroll
      for (int n = 0; n < kValues; ++n) {
        v[n] = warp_totals[half][threadIdx.y][0][n];
#pragma unroll
        for (int w = 1; w < kWarps; ++w) {
          v[n] = combine(kind[n], v[n], warp_totals[half][threadIdx.y][w][n]);
        }
      }
    }
    if constexpr (kCluster) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
      static_assert(kRowsPerBlock == 1, "a cluster holds one row");
      namespace cg = cooperative_groups;
      const cg::cluster_group cluster = cg::this_cluster();
      const unsigned size = cluster.num_blocks();
      const uint32_t arrived =
          static_cast<uint32_t>(__cvta_generic_to_shared(&cluster_slots->arrived[half]));
      if (threadIdx.x == 0) {
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(arrived),
                     "r"(unsigned(size * kValues * sizeof(acc_t)))
                     : "memory");
        for (int n = 0; n < kValues; ++n) {
          const acc_t* slot = &cluster_slots->totals[half][n][cluster.block_rank()];
          for (unsigned rank = 0; rank < size; ++rank) {
            asm volatile(
                "st.async.shared::cluster.mbarrier::complete_tx::bytes.b32 [%0], %1, [%2];\n"
                ::"r"(cluster_address(slot, rank)), "r"(__float_as_uint(v[n])),
                "r"(cluster_address(&cluster_slots->arrived[half], rank))
                : "memory");
          }
        }
      }
      const unsigned phase = (parity >> half) & 1;
      uint32_t done = 0;
      do {
        asm volatile(
            "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            " selp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(arrived), "r"(phase)
            : "memory");
      } while (!done);
      parity ^= 1u << half;
      for (int n = 0; n < kValues; ++n) {
        v[n] = cluster_slots->totals[half][n][0];
        for (unsigned rank = 1; rank < size; ++rank) {
          v[n] = combine(kind[n], v[n], cluster_slots->totals[half][n][rank]);
        }
      }
#endif
    }
    half ^= 1;
  }
};

}  // namespace torchlab::rows
