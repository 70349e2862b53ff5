// Version 2: one block per row, reduced through shared memory.
//
// Changes from version 1: the 256 threads of a block share a row. Thread i reads elements
// i, i + 256, i + 512, ..., so a warp reads 32 neighbouring elements at once (coalesced:
// every byte fetched is used), and every multiprocessor has rows to work on. The threads'
// partial results meet in shared memory and are added in a tree, halving the active
// threads at each of log2(256) = 8 steps, with a block-wide barrier at every step.
// Should gain an order of magnitude over version 1; still short of the copy bandwidth,
// with one 2- or 4-byte load per instruction, a re-read of the row for each reduction,
// and 8 barriers per reduction.
#pragma once

#include "common/rows.h"

namespace torchlab::rows {

constexpr int kV2Threads = 256;

template <typename Op>
__global__ void __launch_bounds__(kV2Threads)
    block_shared_kernel(Op op, Tensors<typename Op::scalar_t> t) {
  static_assert(Op::kColumnSums == 0, "version 2 runs forward operators only");
  using acc_t = typename Op::acc_t;
  __shared__ acc_t partial[kV2Threads];
  for (int64_t row = blockIdx.x; row < t.rows; row += gridDim.x) {
    Op row_op = op;
    begin_row(row_op, t, row);
    const RowPointers<Op> p(t, row);
    for (int round = 0; round < Op::kRounds; ++round) {
      const Reduce kind = Op::reduction(round);
      acc_t local = identity<acc_t>(kind);
      for (int64_t c = threadIdx.x; c < t.cols; c += kV2Threads) {
        acc_t in[kMaxInputs];
        acc_t column_in[kMaxColumnInputs];
        for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(p.in[i][c]);
        load_column_inputs<Op>(t, c, column_in);
        local = combine(kind, local, row_op.contribution(round, in, column_in));
      }
      partial[threadIdx.x] = local;
      __syncthreads();
      for (int active = kV2Threads / 2; active > 0; active /= 2) {
        if (threadIdx.x < active) {
          partial[threadIdx.x] = combine(kind, partial[threadIdx.x], partial[threadIdx.x + active]);
        }
        __syncthreads();
      }
      row_op.end_round(round, partial[0]);
      __syncthreads();  // partial[0] read by all before the next round overwrites it
    }
    for (int64_t c = threadIdx.x; c < t.cols; c += kV2Threads) {
      acc_t in[kMaxInputs];
      acc_t column_in[kMaxColumnInputs];
      acc_t out[kMaxOutputs];
      acc_t unused[kMaxColumnSums];
      for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(p.in[i][c]);
      load_column_inputs<Op>(t, c, column_in);
      row_op.output(in, column_in, out, unused);
      for (int i = 0; i < Op::kOutputs; ++i) p.out[i][c] = typename Op::scalar_t(out[i]);
    }
    if (threadIdx.x == 0) write_row_outputs(row_op, t, row);
  }
}

}  // namespace torchlab::rows
