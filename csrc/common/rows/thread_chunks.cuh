// What versions 4 and 5 share: a thread's share of a row is kChunks vectors of W elements,
// chunk k at column first_col + k * chunk_stride; from wherever those chunks are held
// (registers, shared memory), the thread runs the operator's reductions and writes its
// outputs, and sums its columns' terms (grad_weight, grad_bias) across the rows it sees.
//
// kHoldColumns: the column inputs' chunks (weight) are loaded once, at construction, and
// held in registers for every row, rather than read again from the L2 for each row and
// pass. For blocks that loop over many rows (the backwards, whose column sums keep them
// to one wave). Read for each row, the weight's chunk k in the output pass can only be
// loaded after chunk k - 1's store (a plain load may alias it), an L2 round trip a chunk.
// On the H200, LayerNorm's bfloat16 backward at 2048x1024 (a warp a row, four chunks):
// 18.7 us for 12 MB; with the weight held and the column sums written as whole vectors
// (write_column_partials), 7.7 us, at 221 registers a thread where it held 168.
// kHoldShortRowColumns says where the forwards hold them too.
//
// kColumnsAhead: the output pass loads every chunk's column inputs before its first store,
// rather than chunk by chunk after the previous chunk's store: one L2 round trip for the
// row where there were kChunks. It holds a vector a chunk and column input in registers
// through the pass; the launch (launch.cuh) says where that costs no blocks.
// kColumnsWithRow: the same loads at the start of the row, before its reductions, in flight
// with the row's own (version 4 issues those just before), where a grid's blocks all fit at
// once and no block follows another on a multiprocessor (launch.cuh's
// kColumnsWithRowInOneWave).
// kWholeChunks: every chunk lies in the row (the launch's kWholeChunks), so none is checked
// against the row's end.
// kColumnsInShared: the column inputs' chunks loaded once, at construction, as
// kHoldColumns, but held in shared memory (column_slots: this thread's slot for input 0,
// chunk 0, then one every slot_stride vectors, [column input][chunk]), for blocks whose
// registers are full (version 5's kSharedColumns). Each thread reads back only the slots it
// wrote: no barrier.
#pragma once

#include "common/rows/reduce.cuh"
#include "common/rows/vector_elements.cuh"

namespace torchlab::rows {

// The forwards' rows of float32 up to 64 threads (1024 elements) hold the column inputs as
// well: loaded at construction, beside the row's own loads, where the output pass would
// wait a round trip a chunk for them, in grids that often run in one wave. On the H200,
// 2048x1024 forwards: LayerNorm 10.7 -> 10.0 us, RMSNorm 10.0 -> 9.1 us, add_rms_norm
// 13.6 -> 13.4 us; at 262144x1024 about as fast (96.5 -> 96.6%, 97.1 -> 97.3%, 97.9 ->
// 97.6% of the copy). The kernels take 54 to 79 registers a thread where they took 32 to
// 61. Not 2-byte elements: the compiler widens the held vectors to float32 ahead of the
// loop over rows, which doubles what they take (LayerNorm's bfloat16 forward: 40 -> 107
// registers a thread), and they ran slower (8.5 -> 9.6 us at 2048x1024, 96.1% -> 70.2% of
// the copy at 524288x1024).
template <typename Op, int kRowThreads>
constexpr bool kHoldShortRowColumns =
    Op::kColumnSums == 0 && kRowThreads <= 64 && sizeof(typename Op::scalar_t) == 4;

template <typename Op, int W, int kChunks, bool kCluster, bool kHoldColumns = false,
          bool kColumnsAhead = false, bool kColumnsWithRow = false, bool kWholeChunks = false,
          bool kColumnsInShared = false>
struct ThreadChunks {
  using scalar_t = typename Op::scalar_t;
  using acc_t = typename Op::acc_t;
  using Elements = VectorElements<Op, W>;
  using V = typename Elements::V;
  using Totals = PassTotals<Op, kRoundsAPass<Op, kCluster>>;
  static constexpr int kSums = Op::kColumnSums > 0 ? Op::kColumnSums : 1;
  static constexpr bool kHeld = kHoldColumns && Op::kColumnInputs > 0;
  static constexpr bool kShared = kColumnsInShared && !kHeld && Op::kColumnInputs > 0;
  static constexpr bool kAhead =
      (kColumnsAhead || kColumnsWithRow) && !kHeld && !kShared && Op::kColumnInputs > 0;
  static constexpr bool kAheadWithRow = kAhead && kColumnsWithRow;
  // Whole 16-byte stores (store_vec_whole) in cluster kernels, where nvcc split the plain
  // ones into narrower stores; in blocks of more than 4 chunks a thread, where they
  // measured faster (LayerNorm's float32 forward at 32768x16384 on the H200: 88.5-90.9% of
  // the copy, against 75.8% plain); and in the backwards (column sums), kept as they were:
  // plain, they were no faster (add_rms_norm's float32 backward at rows of 16384: 2546 us,
  // against 2549 us whole, in two runs, which can differ by up to 9%). Elsewhere the plain
  // ones: the forwards of rows up to 8192 elements ran faster with them.
  static constexpr bool kWholeStores = kCluster || kChunks > 4 || Op::kColumnSums > 0;

  int64_t first_col;
  int64_t chunk_stride;
  acc_t column_sums[kSums][kChunks][W];
  V held_columns[kHeld ? kChunks : 1][kMaxColumnInputs];
  V* column_slots;
  int slot_stride;

  __device__ ThreadChunks(const Tensors<scalar_t>& t, int64_t first_col, int64_t chunk_stride,
                          V* column_slots = nullptr, int slot_stride = 0)
      : first_col(first_col), chunk_stride(chunk_stride), column_slots(column_slots),
        slot_stride(slot_stride) {
#pragma unroll
    for (int i = 0; i < kSums; ++i)
#pragma unroll
      for (int k = 0; k < kChunks; ++k)
#pragma unroll
        for (int j = 0; j < W; ++j) column_sums[i][k][j] = 0;
    if constexpr (kHeld) {
#pragma unroll
      for (int k = 0; k < kChunks; ++k) {
        if (col(k) < t.cols) Elements::load_columns(t, col(k), held_columns[k]);
      }
    }
    if constexpr (kShared) {
#pragma unroll
      for (int k = 0; k < kChunks; ++k) {
        if (col(k) >= t.cols) continue;
        V column_vec[kMaxColumnInputs];
        Elements::load_columns(t, col(k), column_vec);
#pragma unroll
        for (int i = 0; i < Op::kColumnInputs; ++i) *column_slot(i, k) = column_vec[i];
      }
    }
  }

  __device__ int64_t col(int k) const { return first_col + k * chunk_stride; }

  __device__ V* column_slot(int i, int k) const {
    return column_slots + (i * kChunks + k) * slot_stride;
  }

  // Whether chunk k lies in the row (always, with kWholeChunks).
  __device__ bool in_row(const Tensors<scalar_t>& t, int k) const {
    return kWholeChunks || col(k) < t.cols;
  }

  // The operator on this thread's share of `row`; chunk(i, k) gives input i's chunk k.
  // Every thread of the block calls it (inactive ones too: the reductions hold barriers);
  // `leader` writes the row's own outputs.
  template <typename Reducer, typename Chunk>
  __device__ void run_row(const Op& op, const Tensors<scalar_t>& t, int64_t row, bool active,
                          bool leader, Reducer& reducer, Chunk&& chunk) {
    bool valid[kChunks];
#pragma unroll
    for (int k = 0; k < kChunks; ++k) valid[k] = active && in_row(t, k);
    Op row_op = op;
    if (active) begin_row(row_op, t, row);
    V ahead[kAhead ? kChunks : 1][kMaxColumnInputs];
    const auto load_ahead = [&] {
#pragma unroll
      for (int k = 0; k < kChunks; ++k) {
        if (valid[k]) Elements::load_present_columns(t, col(k), ahead[k]);
      }
    };
    if constexpr (kAheadWithRow) load_ahead();

#pragma unroll
    for (int pass = 0; pass < Totals::kPasses; ++pass) {
      Totals totals(pass);
#pragma unroll
      for (int k = 0; k < kChunks; ++k) {
        if (!valid[k]) continue;
        V in_vec[kMaxInputs];
        V column_vec[kMaxColumnInputs];
        load(t, k, chunk, in_vec, column_vec, kAheadWithRow ? ahead[k] : nullptr);
        Elements::reduce(row_op, totals, in_vec, column_vec);
      }
      reducer.reduce(totals.total, totals.kind);
      totals.end(row_op);
    }

    if constexpr (kAhead && !kAheadWithRow) load_ahead();
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
      if (!valid[k]) continue;
      V in_vec[kMaxInputs];
      V column_vec[kMaxColumnInputs];
      V out_vec[kMaxOutputs];
      load(t, k, chunk, in_vec, column_vec, kAhead ? ahead[k] : nullptr);
      Elements::output(row_op, in_vec, column_vec, out_vec,
                       [&](int i, int j, acc_t term) { column_sums[i][k][j] += term; });
#pragma unroll
      for (int i = 0; i < Op::kOutputs; ++i) {
        if constexpr (kWholeStores) {
          store_vec_whole(t.out[i] + row * t.cols + col(k), out_vec[i]);
        } else {
          store_vec(t.out[i] + row * t.cols + col(k), out_vec[i]);
        }
      }
    }
    if (active && leader) write_row_outputs(row_op, t, row);
  }

  // This thread's column sums into row `partial_row` of column_partial, in 16-byte
  // vectors (4-byte stores, a thread's W sums side by side, would each write a part of a
  // sector). Aligned: column_partial comes from the caching allocator, and cols and col(k)
  // are multiples of W on the vectorized path.
  __device__ void write_column_partials(const Tensors<scalar_t>& t, int64_t partial_row) const {
    if constexpr (Op::kColumnSums > 0) {
      constexpr int kSumVec = kVec16<acc_t>;
      static_assert(W % kSumVec == 0, "a thread's sums fill whole 16-byte vectors");
#pragma unroll
      for (int k = 0; k < kChunks; ++k) {
        if (col(k) >= t.cols) continue;
#pragma unroll
        for (int i = 0; i < Op::kColumnSums; ++i) {
          acc_t* dst = t.column_partial + (partial_row * Op::kColumnSums + i) * t.cols + col(k);
#pragma unroll
          for (int j = 0; j < W; j += kSumVec) {
            Vec<acc_t, kSumVec> sums;
#pragma unroll
            for (int e = 0; e < kSumVec; ++e) sums.val[e] = column_sums[i][k][j + e];
            store_vec_whole(dst + j, sums);
          }
        }
      }
    }
  }

 private:
  // Input i's chunk k into in_vec[i]; the column inputs' chunk k into column_vec, from
  // held_columns or column_slots (filled at construction), from `loaded` (the ones loaded
  // ahead, filled here: VectorElements::load_present_columns) or from memory.
  template <typename Chunk>
  __device__ void load(const Tensors<scalar_t>& t, int k, Chunk& chunk, V* in_vec,
                       V* column_vec, const V* loaded = nullptr) const {
#pragma unroll
    for (int i = 0; i < Op::kInputs; ++i) in_vec[i] = chunk(i, k);
    if constexpr (kHeld) {
#pragma unroll
      for (int i = 0; i < Op::kColumnInputs; ++i) column_vec[i] = held_columns[k][i];
    } else if constexpr (kShared) {
#pragma unroll
      for (int i = 0; i < Op::kColumnInputs; ++i) column_vec[i] = *column_slot(i, k);
    } else if (loaded != nullptr) {
#pragma unroll
      for (int i = 0; i < Op::kColumnInputs; ++i) column_vec[i] = loaded[i];
      Elements::fill_missing_columns(t, column_vec);
    } else {
      Elements::load_columns(t, col(k), column_vec);
    }
  }
};

// Clusters need Hopper: the launch never picks a cluster kernel on an older GPU, where one
// would stop here.
template <bool kCluster>
__device__ __forceinline__ void require_cluster_support() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  if constexpr (kCluster) __trap();
#endif
}

// A block's place among the row slots: without clusters a block is a slot group; with
// them, a cluster is, each of its blocks (rank) holding a part of the row.
struct SlotGroup {
  unsigned rank = 0;
  int64_t index;
  int64_t count;
};

template <bool kCluster>
__device__ SlotGroup slot_group() {
  unsigned rank = 0, size = 1;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (kCluster) {
    rank = cooperative_groups::this_cluster().block_rank();
    size = cooperative_groups::this_cluster().num_blocks();
  }
#endif
  return {rank, int64_t(blockIdx.x / size), int64_t(gridDim.x / size)};
}

// No block of a cluster leaves before every block has had its last totals: each arrives
// once its last reduction's mbarrier has counted them all in, so when the wait returns no
// st.async is in flight to or from any block. The barrier orders no memory (no block reads
// another's shared memory), so its arrive is relaxed, where cluster.sync()'s would first
// wait for the block's stores of the row's output to be performed, its place on the
// multiprocessor taken meanwhile. On the H200, side by side, means of two rounds (forwards
// of a row a cluster, the whole grid): LayerNorm float32 16384x32768 73.7% -> 83.3% of the
// copy, softmax float32 4096x131072 86.6% -> 91.7%.
template <bool kCluster>
__device__ void leave_cluster() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (kCluster) cluster_barrier_relaxed();
#endif
}

}  // namespace torchlab::rows
