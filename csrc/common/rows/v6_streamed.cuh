// Version 6: rows that version 5 splits over a cluster, streamed: each pass reads the row
// from memory again, the L2 cache holding it between passes.
//
// Changes from version 5: version 5 stages a row, and the next, in shared memory, which on
// the H100 stops at 128 KB a block: 64 KB of a row (32768 2-byte elements of one input,
// 16384 of each of two). Longer rows are split over a cluster of blocks, a
// multiprocessor each, and a cluster costs about what it gives (RMSNorm,
// bfloat16 rows of 65536 elements: 83% of the copy bandwidth; add_rms_norm, rows of 32768:
// 74%). Here nothing is held across the reduction: each pass (the reduction, then the
// write) reads the row, as version 3 did, but a block of 1024 threads loads its part of a
// row (up to 64 KB of each input, four 16-byte vectors a thread) in one go, and the first
// read marks the row's lines to stay in the L2 (createpolicy evict_last) while the reread
// and the writes mark theirs to leave first (evict_first), so that memory sees each input
// once. A row takes one block, or a cluster of two (up to 16 for rows longer than version
// 5's clusters hold) whose partial sums meet in distributed shared memory (RowReducer).
// The loads are non-coherent (ld.global.nc): no operator writes what it reads. A thread's
// columns are the same in every row: the column inputs (the weight) at them are staged
// once in shared memory, which version 6 leaves free.
// Read from the L2 in each row's output pass, each vector's load waited behind the
// previous vector's store, four round trips a row in a multiprocessor's one block; on the
// H200, side by side, bfloat16 forwards: add_rms_norm at rows of 32768 / 65536, 85.2 /
// 74.8% of the copy -> 91.7 / 85.5%, RMSNorm at rows of 65536, 80.2% -> 83.4%.
// Should reach the copy bandwidth where one reread from the L2 is cheap beside the
// cluster's cost: operators with a single reduction, one read of the row more; not for
// operators with two (softmax, LayerNorm: two rereads; in the block and cluster sizes
// tried, mostly slower than version 5, and faster at no size across row lengths), nor
// with column sums (a thread sees too many columns to hold their sums). Measured on the
// H100 against version 5 (2^29 elements, bfloat16 forwards): RMSNorm, rows of 65536, 83% ->
// 94% of the copy; add_rms_norm, rows of 32768, 74% -> 98%, of 65536, 67% -> 84%. A row
// that is not a whole number of batches (45000 elements) is read a vector at a time:
// RMSNorm 66% -> 61% there, add_rms_norm 54% -> 80%.
#pragma once

#include <c10/util/BFloat16.h>

#include <type_traits>

#include "common/rows/thread_chunks.cuh"
#include "common/rows/vector_elements.cuh"

namespace torchlab::rows {

// L2 eviction priorities for loads and stores that carry one (.L2::cache_hint).
__device__ __forceinline__ uint64_t l2_evict_last() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}

__device__ __forceinline__ uint64_t l2_evict_first() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}

template <int W, typename T>
__device__ __forceinline__ Vec<T, W> load_vec_hinted(const T* p, uint64_t policy) {
  static_assert(sizeof(Vec<T, W>) == 16, "16-byte vectors");
  uint4 bits;
  asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;\n"
               : "=r"(bits.x), "=r"(bits.y), "=r"(bits.z), "=r"(bits.w)
               : "l"(p), "l"(policy));
  return *reinterpret_cast<const Vec<T, W>*>(&bits);
}

template <int W, typename T>
__device__ __forceinline__ void store_vec_hinted(T* p, const Vec<T, W>& v, uint64_t policy) {
  static_assert(sizeof(Vec<T, W>) == 16, "16-byte vectors");
  const uint4 bits = *reinterpret_cast<const uint4*>(&v);
  asm volatile("st.global.L1::no_allocate.L2::cache_hint.v4.u32 [%0], {%1, %2, %3, %4}, %5;\n"
               ::"l"(p), "r"(bits.x), "r"(bits.y), "r"(bits.z), "r"(bits.w), "l"(policy)
               : "memory");
}

// Threads a block, and vectors of each input a thread loads before it uses any: the loads
// in flight per pass (a block's part of a row, up to 64 KB of each input, in one go).
constexpr int kStreamThreads = 1024;
constexpr int kStreamUnroll = 4;

// Bytes of dynamic shared memory a block of the streamed kernel takes: a thread's vectors of
// each column input (its columns are the same in every row, at most kStreamUnroll of them:
// the launch holds rows to that).
template <typename Op, int W>
constexpr int kStreamedSharedBytes = Op::kColumnInputs * kStreamUnroll * kStreamThreads *
                                     int(sizeof(Vec<typename Op::scalar_t, W>));

// Two blocks a multiprocessor (32 registers a thread) for bfloat16 operators of an input
// and a column input or of two inputs (RMSNorm's forward: x and the weight; softmax's
// backward: the gradient and y), which took 32 until bfloat16 converted by words
// (VectorElements::to_acc); unheld, nvcc then had a batch's four loads in flight at once,
// not one or two, in 45-54 registers, one block a multiprocessor (on the H200, side by
// side: RMSNorm's bfloat16 forward at 8192x65536, 88.2% of the copy -> 86.1%; softmax's
// forward+backward (its backward's kernel) at 16384x32768, 96.7% -> 92.3%; held, in another
// run, 86.8% -> 87.7% and 96.1% -> 96.0%; RMSNorm's clusters spill 12 bytes held). Not
// add_rms_norm's forward, at 46 registers before, which spilled 112 bytes held to 32; nor
// float16's, whose conversion did not change. log_softmax's backward (55-64 registers
// unheld, one block) is held too and spills 192-244 bytes: not timed yet (the bench's
// bfloat16 check failed its gradients for every provider, until 7e60e02).
template <typename Op>
constexpr int kStreamMinBlocks =
    std::is_same_v<typename Op::scalar_t, c10::BFloat16> && Op::kInputs + Op::kColumnInputs <= 2
        ? 2
        : 0;

template <typename Op, int W, bool kCluster>
__global__ void __launch_bounds__(kStreamThreads, kStreamMinBlocks<Op>)
    streamed_kernel(Op op, Tensors<typename Op::scalar_t> t) {
  static_assert(Op::kColumnSums == 0, "version 6 runs operators without column sums");
  require_cluster_support<kCluster>();
  using acc_t = typename Op::acc_t;
  using Elements = VectorElements<Op, W>;
  using V = typename Elements::V;
  using Totals = PassTotals<Op, kRoundsAPass<Op, kCluster>>;
  using Reducer = RowReducer<acc_t, kStreamThreads, 1, kCluster, Totals::kRounds>;
  __shared__ typename Reducer::WarpTotals warp_totals;
  __shared__ typename Reducer::ClusterSlots cluster_slots;
  Reducer reducer{warp_totals, &cluster_slots};
  reducer.init();
  const SlotGroup group = slot_group<kCluster>();
  const int64_t blocks_per_group = gridDim.x / group.count;
  // The cluster's blocks take turns along the row, kStreamThreads vectors each.
  const int64_t first_col = (int64_t(group.rank) * kStreamThreads + threadIdx.x) * W;
  const int64_t step = blocks_per_group * kStreamThreads * W;
  const uint64_t keep = l2_evict_last();
  const uint64_t drop = l2_evict_first();

  // The column inputs at this thread's columns, staged once (in registers too, they would
  // spill: a 1024-thread block has 64 registers a thread). A plain load after a store may
  // not move above it (it may alias), so loaded in the output pass, each would wait behind
  // the previous vector's store. Each thread reads back only what it wrote: no barrier.
  // Slot [m][i][thread]: column input i at the thread's m-th column.
  extern __shared__ __align__(16) unsigned char streamed_shared[];
  V* const column_slots = reinterpret_cast<V*>(streamed_shared);
  const auto column_slot = [&](int m, int i) {
    return column_slots + (m * Op::kColumnInputs + i) * kStreamThreads + threadIdx.x;
  };
  if constexpr (Op::kColumnInputs > 0) {
#pragma unroll
    for (int m = 0; m < kStreamUnroll; ++m) {
      const int64_t c = first_col + m * step;
      V column_vec[kMaxColumnInputs];
      if (c < t.cols) Elements::load_columns(t, c, column_vec);
#pragma unroll
      for (int i = 0; i < Op::kColumnInputs; ++i) *column_slot(m, i) = column_vec[i];
    }
  }
  const auto load_columns = [&](int m, V* column_vec) {
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) column_vec[i] = *column_slot(m, i);
  };

  // One pass over this block's part of the row: kStreamUnroll vectors of each input
  // loaded (in flight together) before visit(m, col, vectors) uses them, then the rest one
  // by one; m counts the thread's columns.
  const auto stream = [&](const RowPointers<Op>& p, uint64_t policy, auto&& visit) {
    int64_t c0 = first_col;
    int m = 0;
    for (; c0 + (kStreamUnroll - 1) * step < t.cols; c0 += kStreamUnroll * step) {
      V in_vec[kStreamUnroll][kMaxInputs];
#pragma unroll
      for (int u = 0; u < kStreamUnroll; ++u) {
#pragma unroll
        for (int i = 0; i < Op::kInputs; ++i) {
          in_vec[u][i] = load_vec_hinted<W>(p.in[i] + c0 + u * step, policy);
        }
      }
#pragma unroll
      for (int u = 0; u < kStreamUnroll; ++u) visit(m++, c0 + u * step, in_vec[u]);
    }
    for (; c0 < t.cols; c0 += step) {
      V in_vec[kMaxInputs];
#pragma unroll
      for (int i = 0; i < Op::kInputs; ++i) in_vec[i] = load_vec_hinted<W>(p.in[i] + c0, policy);
      visit(m++, c0, in_vec);
    }
  };

  for (int64_t row = group.index; row < t.rows; row += group.count) {
    Op row_op = op;
    begin_row(row_op, t, row);
    const RowPointers<Op> p(t, row);
#pragma unroll
    for (int pass = 0; pass < Totals::kPasses; ++pass) {
      Totals totals(pass);
      stream(p, keep, [&](int m, int64_t, const V* in_vec) {
        V column_vec[kMaxColumnInputs];
        load_columns(m, column_vec);
        Elements::reduce(row_op, totals, in_vec, column_vec);
      });
      reducer.reduce(totals.total, totals.kind);
      totals.end(row_op);
    }
    stream(p, drop, [&](int m, int64_t c, const V* in_vec) {
      V column_vec[kMaxColumnInputs];
      V out_vec[kMaxOutputs];
      load_columns(m, column_vec);
      Elements::output(row_op, in_vec, column_vec, out_vec, [](int, int, acc_t) {});
#pragma unroll
      for (int i = 0; i < Op::kOutputs; ++i) store_vec_hinted<W>(p.out[i] + c, out_vec[i], drop);
    });
    if (threadIdx.x == 0 && group.rank == 0) write_row_outputs(row_op, t, row);
  }
  leave_cluster<kCluster>();
}

}  // namespace torchlab::rows
