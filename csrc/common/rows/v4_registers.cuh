// Version 4: the row held in registers, read once and written once; long rows split over a
// cluster of blocks (Hopper).
//
// Changes from version 3: a thread loads its whole share of the row, kChunks 16-byte
// vectors of each input, before it reduces anything, and keeps them in registers through
// every reduction and the write. Memory sees each input once and each output once: the
// byte model's minimum, whatever the number of reductions. The launch picks the threads
// per row so that the row just fits (kChunks vectors a thread), from a warp per row (four
// rows a block) to 512 threads per row. Rows longer than 512 threads hold are split over
// a cluster of 2 to 8 blocks, on as many multiprocessors, whose partial results meet in
// distributed shared memory (RowReducer). Blocks loop over rows: for operators with
// column sums (the norms' backwards), as many blocks as fit (one wave), so that the sums
// (grad_weight, grad_bias), and the weight, stay in registers across rows, the sums
// leaving as one partial row per row slot; for the others, mostly a block for every
// kRowsPerBlock rows, where the loop runs once (launch.cuh's kWholeGrid says where and
// why).
// Should reach about the copy bandwidth for every operator and row length it takes, the
// reductions' barriers hidden by the other blocks on each multiprocessor. Measured on the
// H100 (softmax and RMSNorm forwards, 2^28 elements): 98-100% of the copy up to rows of
// 8192 elements (92-96% with blocks looping over the rows); beyond, where a row takes 512
// threads or a cluster and few blocks fit, 21-91%.
#pragma once

#include "common/rows/thread_chunks.cuh"

namespace torchlab::rows {

// kWholeChunks: as the launch's. kColumnsWithRow: as ThreadChunks'.
template <typename Op, int W, int kRowThreads, int kRowsPerBlock, int kChunks, bool kCluster,
          bool kWholeChunks, bool kColumnsWithRow = false>
__global__ void __launch_bounds__(kRowThreads* kRowsPerBlock)
    registers_kernel(Op op, Tensors<typename Op::scalar_t> t) {
  require_cluster_support<kCluster>();
  using acc_t = typename Op::acc_t;
  using V = Vec<typename Op::scalar_t, W>;
  // Blocks with column sums loop over many rows: the weight is held across them (and, in
  // short float32 rows, with the row: kHoldShortRowColumns).
  constexpr bool kHoldColumns = Op::kColumnSums > 0 || kHoldShortRowColumns<Op, kRowThreads>;
  using Chunks =
      ThreadChunks<Op, W, kChunks, kCluster, kHoldColumns, false, kColumnsWithRow, kWholeChunks>;
  using Reducer =
      RowReducer<acc_t, kRowThreads, kRowsPerBlock, kCluster, Chunks::Totals::kRounds>;
  __shared__ typename Reducer::WarpTotals warp_totals;
  __shared__ typename Reducer::ClusterSlots cluster_slots;
  Reducer reducer{warp_totals, &cluster_slots};
  reducer.init();
  const SlotGroup group = slot_group<kCluster>();
  Chunks chunks(t, (int64_t(group.rank) * kChunks * kRowThreads + threadIdx.x) * W,
                int64_t(kRowThreads) * W);

  for (int64_t first_row = group.index * kRowsPerBlock; first_row < t.rows;
       first_row += group.count * kRowsPerBlock) {
    const int64_t row = first_row + threadIdx.y;
    const bool active = kRowsPerBlock == 1 || row < t.rows;  // as version 5's
    // Every load of the row first, all in flight at once; then the passes over registers.
    V in_vec[kMaxInputs][kChunks];
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
#pragma unroll
      for (int i = 0; i < Op::kInputs; ++i) {
        if (active && chunks.in_row(t, k)) {
          in_vec[i][k] = load_vec<W>(t.in[i] + row * t.cols + chunks.col(k));
        }
      }
    }
    chunks.run_row(op, t, row, active, threadIdx.x == 0 && group.rank == 0, reducer,
                   [&](int i, int k) { return in_vec[i][k]; });
  }
  chunks.write_column_partials(t, group.index * kRowsPerBlock + threadIdx.y);
  leave_cluster<kCluster>();
}

}  // namespace torchlab::rows
