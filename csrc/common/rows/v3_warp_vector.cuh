// Version 3: 16-byte vector loads and warp-shuffle reductions; the row streamed from memory.
//
// Changes from version 2: each thread loads W elements at once (W = 16 bytes / element
// size, where the row length and the pointers allow; else W = 1), a quarter or an eighth of
// the load instructions; the block reduces with warp shuffles and a single barrier
// (RowReducer) instead of a shared-memory tree with eight. The loops are unrolled so that
// several loads are in flight per thread. It still reads the row once per reduction pass
// and once more to write, which the L2 absorbs only while the rows being worked on fit in
// it: softmax and LayerNorm's forward (two reductions) read three times what they write.
// Should run near the copy bandwidth for RMSNorm at moderate row lengths, and is the
// version that takes any row length, any alignment: the fallback of versions 4 and 5.
//
// Column sums (grad_weight, grad_bias) go to the block's own row of column_partial, which
// each thread updates at columns that only it touches: no atomics, a fixed order.
#pragma once

#include "common/rows/reduce.cuh"
#include "common/rows/vector_elements.cuh"

namespace torchlab::rows {

constexpr int kV3Threads = 256;

template <typename Op, int W>
__global__ void __launch_bounds__(kV3Threads)
    warp_vector_kernel(Op op, Tensors<typename Op::scalar_t> t) {
  using acc_t = typename Op::acc_t;
  using Elements = VectorElements<Op, W>;
  using V = typename Elements::V;
  using Totals = PassTotals<Op, kRoundsAPass<Op, false>>;
  using Reducer = RowReducer<acc_t, kV3Threads, 1, false, Totals::kRounds>;
  __shared__ typename Reducer::WarpTotals warp_totals;
  Reducer reducer{warp_totals, nullptr};
  constexpr int64_t kStep = int64_t(kV3Threads) * W;
  const int64_t first_col = int64_t(threadIdx.x) * W;

  for (int64_t row = blockIdx.x; row < t.rows; row += gridDim.x) {
    Op row_op = op;
    begin_row(row_op, t, row);
    const RowPointers<Op> p(t, row);
#pragma unroll
    for (int pass = 0; pass < Totals::kPasses; ++pass) {
      Totals totals(pass);
#pragma unroll 4
      for (int64_t c = first_col; c < t.cols; c += kStep) {
        V in_vec[kMaxInputs];
        V column_vec[kMaxColumnInputs];
        for (int i = 0; i < Op::kInputs; ++i) in_vec[i] = load_vec<W>(p.in[i] + c);
        Elements::load_columns(t, c, column_vec);
        Elements::reduce(row_op, totals, in_vec, column_vec);
      }
      reducer.reduce(totals.total, totals.kind);
      totals.end(row_op);
    }
    acc_t* partial = t.column_partial + int64_t(blockIdx.x) * Op::kColumnSums * t.cols;
#pragma unroll 2
    for (int64_t c = first_col; c < t.cols; c += kStep) {
      V in_vec[kMaxInputs];
      V column_vec[kMaxColumnInputs];
      V out_vec[kMaxOutputs];
      for (int i = 0; i < Op::kInputs; ++i) in_vec[i] = load_vec<W>(p.in[i] + c);
      Elements::load_columns(t, c, column_vec);
      Elements::output(row_op, in_vec, column_vec, out_vec,
                       [&](int i, int j, acc_t term) { partial[i * t.cols + c + j] += term; });
      for (int i = 0; i < Op::kOutputs; ++i) store_vec_whole(p.out[i] + c, out_vec[i]);
    }
    if (threadIdx.x == 0) write_row_outputs(row_op, t, row);
  }
}

}  // namespace torchlab::rows
