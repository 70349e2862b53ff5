// Version 5: the row staged in shared memory by asynchronous copies, the next row's copy in
// flight while this one is computed.
//
// Changes from version 4: in version 4 a block's loads are in flight only between the
// start of a row and its first reduction; while it reduces and writes, it asks memory for
// nothing, and only the other blocks on the multiprocessor keep memory busy. Long rows
// leave room for few blocks (a row of 32768 bfloat16 elements holds 64 KB), so the
// reductions' barriers, across a cluster too, show as idle memory: 55-70% of the copy
// bandwidth for rows of 32768 and 65536 elements on the H100. Here each thread copies its
// share of the *next* row into shared memory with cp.async (16 bytes a copy, straight from
// memory to shared memory, no registers held) before it works on the current one, which
// is already there: two stages, so memory always has a row's worth of loads in flight
// per block, through barriers and all. The row is read from shared memory in each pass
// (each thread only what it copied itself, so no barrier is needed for the data), and few
// registers are held, whatever the row length. A row takes as few blocks as hold it (64
// KB or 128 KB of shared memory each, half that with one stage; the backwards' cluster
// blocks hold their weight too, kSharedColumns), split over a cluster of up to 16 when one
// does not.
// The launch (launch.cuh) runs version 4's configurations where they are as fast: rows
// of one input and no column input up to 256 threads, of two inputs or a column input
// up to 128; operators of two column inputs (LayerNorm's forward) are staged at every
// length. Where it gives each block a single row (kWholeGrid), nothing is staged ahead and
// a block takes one stage: the other blocks on the multiprocessor keep memory busy.
// Should hold about the copy bandwidth for rows of any length a cluster holds (512 KB of
// each input, or 1 MB for one input). Measured on the H100 (forward): 92-96% of the copy
// for rows of 16384 and 32768 elements, where version 4 gave 66-92%; 70-91% for rows of
// 65536 to 262144, split over clusters (version 4: 21-91%).
#pragma once

#include "common/rows/thread_chunks.cuh"

namespace torchlab::rows {

__device__ __forceinline__ void copy_async_16(void* shared, const void* global) {
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address), "l"(global)
               : "memory");
}

__device__ __forceinline__ void commit_copies() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most `kPending` of this thread's most recent groups of copies are still
// in flight.
template <int kPending>
__device__ __forceinline__ void wait_copies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Cluster blocks with column sums (the norms' backwards at rows longer than a block holds,
// which loop over the rows, a block a multiprocessor) hold the column inputs' chunks in
// shared memory after the stages (ThreadChunks' kColumnsInShared), where each pass loaded
// them again (from the L1 or the L2). On the H200, side by side, backwards: LayerNorm
// bfloat16 8192x65536 66.0% of the copy -> 74.5%, 16384x32768 73.8% -> 82.1%, float32
// 8192x65536 71.1% -> 83.0%, 32768x16384 83.1% -> 92.4%; RMSNorm bfloat16 8192x65536 81.9%
// -> 99.4%, float32 86.7% -> 99.9%; add_rms_norm bfloat16 8192x65536 85.5% -> 97.1%,
// 16384x32768 87.3% -> 96.1%. A third stage with them (224 KB blocks; add_rms_norm's 160
// KB) was slower for LayerNorm (bfloat16 8192x65536 73.6%), faster for RMSNorm and
// add_rms_norm (bfloat16 16384x32768 96.7% and 100.2%); a third stage without them, timed
// for LayerNorm, was slower (bfloat16 8192x65536 55.5%), presumably as it leaves the L1 too
// little room for the weight. Not timed: the single blocks that loop over the rows.
template <typename Op, bool kCluster>
constexpr bool kSharedColumns = Op::kColumnSums > 0 && Op::kColumnInputs > 0 && kCluster;

// Bytes of dynamic shared memory a block of the staged kernel takes: kStages stages of
// every input's chunks, then the column inputs' chunks where it holds them.
template <typename Op, int W, int kRowThreads, int kRowsPerBlock, int kChunks, int kStages,
          bool kCluster>
constexpr int kStagedSharedBytes =
    (kStages * Op::kInputs + (kSharedColumns<Op, kCluster> ? Op::kColumnInputs : 0)) *
    kChunks * kRowsPerBlock * kRowThreads * int(sizeof(Vec<typename Op::scalar_t, W>));

// kMinBlocks: blocks a multiprocessor must hold at once, which caps the registers a thread
// (0: no cap). kColumnsAhead: as ThreadChunks'. kWholeChunks: as the launch's.
template <typename Op, int W, int kRowThreads, int kRowsPerBlock, int kChunks, int kStages,
          bool kCluster, int kMinBlocks, bool kColumnsAhead, bool kWholeChunks>
__global__ void __launch_bounds__(kRowThreads* kRowsPerBlock, kMinBlocks)
    staged_kernel(Op op, Tensors<typename Op::scalar_t> t) {
  require_cluster_support<kCluster>();
  using acc_t = typename Op::acc_t;
  using V = Vec<typename Op::scalar_t, W>;
  // 128-byte aligned, so that a warp's copies (512 contiguous bytes) fill whole lines of
  // shared memory. Declared 16-byte aligned, it started where the static shared memory
  // ended: 16 bytes past a line in the cluster blocks (272 bytes of it), 32 or 64 in
  // blocks of 128 or 256 threads. Off a line, each copy read its sectors from the L2
  // twice (benchmarks/cluster_copy_l2.cu); on the H200, aligned, softmax's forward at
  // float32 rows of 262144 went from 73.4% of the copy to 80.8%, LayerNorm's at bfloat16
  // rows of 65536 from 67.4% to 75.8%.
  extern __shared__ __align__(128) unsigned char staged_shared[];
  constexpr bool kHoldColumns = kHoldShortRowColumns<Op, kRowThreads>;
  using Chunks = ThreadChunks<Op, W, kChunks, kCluster, kHoldColumns, kColumnsAhead, false,
                              kWholeChunks, kSharedColumns<Op, kCluster>>;
  using Reducer =
      RowReducer<acc_t, kRowThreads, kRowsPerBlock, kCluster, Chunks::Totals::kRounds>;
  __shared__ typename Reducer::WarpTotals warp_totals;
  __shared__ typename Reducer::ClusterSlots cluster_slots;
  Reducer reducer{warp_totals, &cluster_slots};
  reducer.init();
  const SlotGroup group = slot_group<kCluster>();
  // This thread's slot for input i, chunk k, in a stage: [stage][input][chunk][y][x]; its
  // column inputs' slots after the stages, [column input][chunk][y][x].
  V* const slots = reinterpret_cast<V*>(staged_shared);
  constexpr int kSlotStride = kRowsPerBlock * kRowThreads;
  V* const column_slots = kSharedColumns<Op, kCluster>
                              ? slots + kStages * Op::kInputs * kChunks * kSlotStride +
                                    threadIdx.y * kRowThreads + threadIdx.x
                              : nullptr;
  Chunks chunks(t, (int64_t(group.rank) * kChunks * kRowThreads + threadIdx.x) * W,
                int64_t(kRowThreads) * W, column_slots, kSlotStride);

  const auto slot = [&](int stage, int i, int k) -> V* {
    return slots + (((stage * Op::kInputs + i) * kChunks + k) * kRowsPerBlock + threadIdx.y) *
                       kRowThreads + threadIdx.x;
  };
  // Issues the copies of this thread's share of `row` into `stage` (none past the end).
  const auto stage_row = [&](int64_t row, int stage) {
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
#pragma unroll
      for (int i = 0; i < Op::kInputs; ++i) {
        if (row < t.rows && chunks.in_row(t, k)) {
          copy_async_16(slot(stage, i, k), t.in[i] + row * t.cols + chunks.col(k));
        }
      }
    }
    commit_copies();  // a group every time, empty or not, so that the waits count right
  };

  // Rows kStages - 1 ahead are in flight while one is computed (two stages: one row).
  const int64_t row_step = group.count * kRowsPerBlock;
  const int64_t first = group.index * kRowsPerBlock + threadIdx.y;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) stage_row(first + s * row_step, s);
  int stage = 0;
  for (int64_t first_row = group.index * kRowsPerBlock; first_row < t.rows;
       first_row += row_step, stage = stage + 1 == kStages ? 0 : stage + 1) {
    const int ahead = stage == 0 ? kStages - 1 : stage - 1;  // the stage this row's leaves
    stage_row(first_row + (kStages - 1) * row_step + threadIdx.y, ahead);
    wait_copies<kStages - 1>();  // this row's copies (all but the groups after it) landed
    const int64_t row = first_row + threadIdx.y;
    // A block of one row has its row whenever the loop runs (first_row < t.rows): said so,
    // the row's test leaves every chunk's check (and, with kWholeChunks, the checks go).
    const bool active = kRowsPerBlock == 1 || row < t.rows;
    chunks.run_row(op, t, row, active, threadIdx.x == 0 && group.rank == 0, reducer,
                   [&](int i, int k) { return *slot(stage, i, k); });
  }
  wait_copies<0>();  // the last, empty groups: nothing may land after the block has left
  chunks.write_column_partials(t, group.index * kRowsPerBlock + threadIdx.y);
  leave_cluster<kCluster>();
}

}  // namespace torchlab::rows
