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
// distributed shared memory (RowReducer). Blocks loop over rows (a persistent grid, one
// wave), so the column sums of the backward (grad_weight, grad_bias) stay in registers
// across rows and leave as one partial row per row slot.
// Should reach about the copy bandwidth for every operator and row length it takes, the
// reductions' barriers hidden by the other blocks on each multiprocessor.
#pragma once

#include "common/rows/reduce.cuh"
#include "common/vec.cuh"

namespace torchlab::rows {

template <typename Op, int W, int kRowThreads, int kRowsPerBlock, int kChunks, bool kCluster>
__global__ void __launch_bounds__(kRowThreads* kRowsPerBlock)
    registers_kernel(Op op, Tensors<typename Op::scalar_t> t) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  if constexpr (kCluster) {
    __trap();  // clusters need Hopper; the launch never picks this kernel on older GPUs
    return;
  }
#endif
  using scalar_t = typename Op::scalar_t;
  using acc_t = typename Op::acc_t;
  constexpr int kSums = Op::kColumnSums > 0 ? Op::kColumnSums : 1;
  __shared__ acc_t warp_totals[2][kRowsPerBlock][kRowThreads / 32];
  __shared__ acc_t block_totals[2];
  RowReducer<acc_t, kRowThreads, kRowsPerBlock, kCluster> reducer{warp_totals, block_totals};

  // A cluster (or, without clusters, a block) is one row slot per threadIdx.y; slots walk
  // down the rows together.
  unsigned rank = 0, cluster_size = 1;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (kCluster) {
    rank = cooperative_groups::this_cluster().block_rank();
    cluster_size = cooperative_groups::this_cluster().num_blocks();
  }
#endif
  const int64_t slot_group = blockIdx.x / cluster_size;
  const int64_t slot_groups = gridDim.x / cluster_size;
  // Chunk k of this thread starts at column first_col + k * chunk_stride.
  const int64_t chunk_stride = int64_t(kRowThreads) * W;
  const int64_t first_col = (int64_t(rank) * kChunks * kRowThreads + threadIdx.x) * W;

  acc_t column_sums[kSums][kChunks][W];
#pragma unroll
  for (int i = 0; i < kSums; ++i)
#pragma unroll
    for (int k = 0; k < kChunks; ++k)
#pragma unroll
      for (int j = 0; j < W; ++j) column_sums[i][k][j] = 0;

  for (int64_t first_row = slot_group * kRowsPerBlock; first_row < t.rows;
       first_row += slot_groups * kRowsPerBlock) {
    const int64_t row = first_row + threadIdx.y;
    const bool active = row < t.rows;  // inactive threads still take part in the barriers
    bool valid[kChunks];
    Vec<scalar_t, W> in_vec[kMaxInputs][kChunks];
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
      const int64_t c = first_col + k * chunk_stride;
      valid[k] = active && c < t.cols;
#pragma unroll
      for (int i = 0; i < Op::kInputs; ++i) {
        if (valid[k]) in_vec[i][k] = load_vec<W>(t.in[i] + row * t.cols + c);
      }
    }
    Op row_op = op;
    if (active) begin_row(row_op, t, row);

#pragma unroll
    for (int round = 0; round < Op::kRounds; ++round) {
      const Reduce kind = Op::reduction(round);
      acc_t local = identity<acc_t>(kind);
#pragma unroll
      for (int k = 0; k < kChunks; ++k) {
        if (!valid[k]) continue;
        const int64_t c = first_col + k * chunk_stride;
        Vec<scalar_t, W> column_vec[kMaxColumnInputs];
#pragma unroll
        for (int i = 0; i < Op::kColumnInputs; ++i) {
          if (t.column_in[i]) column_vec[i] = load_vec<W>(t.column_in[i] + c);
        }
#pragma unroll
        for (int j = 0; j < W; ++j) {
          acc_t in[kMaxInputs];
          acc_t column_in[kMaxColumnInputs];
#pragma unroll
          for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(in_vec[i][k].val[j]);
#pragma unroll
          for (int i = 0; i < Op::kColumnInputs; ++i) {
            column_in[i] = t.column_in[i] ? acc_t(column_vec[i].val[j]) : Op::column_default(i);
          }
          local = combine(kind, local, row_op.contribution(round, in, column_in));
        }
      }
      row_op.end_round(round, reducer.reduce(local, kind));
    }

#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
      if (!valid[k]) continue;
      const int64_t c = first_col + k * chunk_stride;
      Vec<scalar_t, W> column_vec[kMaxColumnInputs];
      Vec<scalar_t, W> out_vec[kMaxOutputs];
#pragma unroll
      for (int i = 0; i < Op::kColumnInputs; ++i) {
        if (t.column_in[i]) column_vec[i] = load_vec<W>(t.column_in[i] + c);
      }
#pragma unroll
      for (int j = 0; j < W; ++j) {
        acc_t in[kMaxInputs];
        acc_t column_in[kMaxColumnInputs];
        acc_t out[kMaxOutputs];
        acc_t column_sum[kMaxColumnSums];
#pragma unroll
        for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(in_vec[i][k].val[j]);
#pragma unroll
        for (int i = 0; i < Op::kColumnInputs; ++i) {
          column_in[i] = t.column_in[i] ? acc_t(column_vec[i].val[j]) : Op::column_default(i);
        }
        row_op.output(in, column_in, out, column_sum);
#pragma unroll
        for (int i = 0; i < Op::kOutputs; ++i) out_vec[i].val[j] = scalar_t(out[i]);
#pragma unroll
        for (int i = 0; i < Op::kColumnSums; ++i) column_sums[i][k][j] += column_sum[i];
      }
#pragma unroll
      for (int i = 0; i < Op::kOutputs; ++i) store_vec(t.out[i] + row * t.cols + c, out_vec[i]);
    }
    if (active && threadIdx.x == 0 && rank == 0) write_row_outputs(row_op, t, row);
  }

  if constexpr (Op::kColumnSums > 0) {
    const int64_t partial_row = slot_group * kRowsPerBlock + threadIdx.y;
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
      const int64_t c = first_col + k * chunk_stride;
      if (c >= t.cols) continue;
#pragma unroll
      for (int i = 0; i < Op::kColumnSums; ++i) {
        acc_t* dst = t.column_partial + (partial_row * Op::kColumnSums + i) * t.cols + c;
#pragma unroll
        for (int j = 0; j < W; ++j) dst[j] = column_sums[i][k][j];
      }
    }
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (kCluster) {
    // No block may leave while another can still read its shared memory.
    cooperative_groups::this_cluster().sync();
  }
#endif
}

}  // namespace torchlab::rows
