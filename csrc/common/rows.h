// Row operators: the shape shared by softmax, log_softmax, LayerNorm, RMSNorm and the fused
// add+RMSNorm, forward and backward. Each reads a few [rows, cols] tensors a row at a time,
// reduces over the row (a sum or a max) once or twice, then writes [rows, cols] outputs:
//
//   softmax      round 0: max x        round 1: sum e^(x - max)   out = e^(x - max) / sum
//   rms_norm     round 0: sum x^2                                  out = x rstd w
//   layer_norm   round 0: sum x        round 1: sum (x - mean)^2   out = (x - mean) rstd w + b
//
// An operator is written once as a policy (csrc/ops/<op>/<op>.h) and run by every kernel:
// the CPU loop here, and the CUDA kernels of csrc/common/rows/, which differ only in how
// they spread a row over threads. A policy `Op` provides:
//
//   using scalar_t, acc_t             the tensors' dtype and the one it computes in
//   kInputs, kOutputs                 [rows, cols] tensors read and written (<= kMax...)
//   kColumnInputs                     [cols] tensors read (weight, bias); a missing one
//                                     (nullptr) reads as column_default(i), a value
//                                     exact in scalar_t (the CUDA kernels fill
//                                     vectors of scalar_t with it)
//   kRowInputs, kRowOutputs           [rows] float tensors read (mean, rstd) and written
//   kColumnSums                       [cols] sums over all rows (grad_weight, grad_bias)
//   kRounds                           reductions over the row, 0 to 2
//   kIndependentRounds                whether no round's terms need an earlier round's
//                                     total (LayerNorm's backward), so that a kernel
//                                     may reduce them all in one pass over the row
//   reduction(round)                  Reduce::Sum or Reduce::Max
//   begin_row(row_in)                 the row's inputs, before round 0
//   contribution(round, in, col_in)   one element's term of the round's reduction
//   end_round(round, total)           the reduction's result over the whole row
//   output(in, col_in, out, col_sum)  one element's outputs, and its terms of the sums
//   row_outputs(row_out)              the row's own outputs (after output())
//
// A policy is a small value (its parameters and the current row's state), copied into
// each kernel and each row.
#pragma once

#include <ATen/OpMathType.h>
#include <c10/util/Exception.h>
#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

namespace torchlab::rows {

constexpr int kMaxInputs = 3;
constexpr int kMaxOutputs = 2;
constexpr int kMaxColumnInputs = 2;
constexpr int kMaxRowInputs = 2;
constexpr int kMaxRowOutputs = 2;
constexpr int kMaxColumnSums = 2;

enum class Reduce { Sum, Max };

// The CUDA kernels' versions, from one thread a row (1) to the row staged in shared
// memory (5) and long rows streamed through the L2 (6): csrc/common/rows/v*.cuh.
constexpr int kVersions = 6;

inline void check_ladder_version(int64_t version) {
  TORCH_CHECK(version >= 1 && version <= kVersions,
              "expected version to be 1 to ", std::to_string(kVersions), ", got ",
              std::to_string(version));
}

template <typename acc_t>
C10_HOST_DEVICE inline acc_t identity(Reduce kind) {
  return kind == Reduce::Sum ? acc_t(0) : -std::numeric_limits<acc_t>::infinity();
}

// Max keeps a NaN, as PyTorch's max does (fmax would drop it). On the GPU, float32's is
// one instruction (max.NaN, from sm_80), where the comparisons took three (softmax's
// bfloat16 cluster kernel: 229 FSETP and 114 FSEL became 115 FMNMX, 2216 instructions ->
// 1992). On the H200, side by side, softmax's forward: bfloat16 8192x65536 92.7% of the
// copy -> 97.4%, 4096x131072 87.8% -> 96.3%, 2048x262144 82.2% -> 88.4%; float32
// 2048x262144 91.7% -> 94.5%.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t combine(Reduce kind, acc_t a, acc_t b) {
  if (kind == Reduce::Sum) return a + b;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<acc_t, float>) {
    float m;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(m) : "f"(a), "f"(b));
    return m;
  }
#endif
  return (a > b || a != a) ? a : b;
}

template <typename acc_t>
C10_HOST_DEVICE inline acc_t rsqrt(acc_t x) {
#ifdef __CUDA_ARCH__
  return ::rsqrt(x);
#else
  return acc_t(1) / std::sqrt(x);
#endif
}

// The tensors of one call. Pointers beyond an operator's counts are unused.
template <typename scalar_t>
struct Tensors {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* in[kMaxInputs] = {};
  scalar_t* out[kMaxOutputs] = {};
  const scalar_t* column_in[kMaxColumnInputs] = {};
  const acc_t* row_in[kMaxRowInputs] = {};
  acc_t* row_out[kMaxRowOutputs] = {};
  // [partial_rows, kColumnSums, cols]: each kernel sums its rows' terms into partial rows
  // of its own; sum_partials() adds them up in a fixed order.
  acc_t* column_partial = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Pointers to one row's elements.
template <typename Op>
struct RowPointers {
  using scalar_t = typename Op::scalar_t;
  const scalar_t* in[kMaxInputs];
  scalar_t* out[kMaxOutputs];

  C10_HOST_DEVICE RowPointers(const Tensors<scalar_t>& t, int64_t row) {
    for (int i = 0; i < Op::kInputs; ++i) in[i] = t.in[i] + row * t.cols;
    for (int i = 0; i < Op::kOutputs; ++i) out[i] = t.out[i] + row * t.cols;
  }
};

template <typename Op>
C10_HOST_DEVICE inline void load_column_inputs(
    const Tensors<typename Op::scalar_t>& t, int64_t col, typename Op::acc_t* column_in) {
  for (int i = 0; i < Op::kColumnInputs; ++i) {
    column_in[i] = t.column_in[i] ? typename Op::acc_t(t.column_in[i][col])
                                  : Op::column_default(i);
  }
}

template <typename Op>
C10_HOST_DEVICE inline void begin_row(Op& op, const Tensors<typename Op::scalar_t>& t,
                                      int64_t row) {
  typename Op::acc_t row_in[kMaxRowInputs > 0 ? kMaxRowInputs : 1];
  for (int i = 0; i < Op::kRowInputs; ++i) row_in[i] = t.row_in[i][row];
  op.begin_row(row_in);
}

template <typename Op>
C10_HOST_DEVICE inline void write_row_outputs(const Op& op,
                                              const Tensors<typename Op::scalar_t>& t,
                                              int64_t row) {
  typename Op::acc_t row_out[kMaxRowOutputs];
  op.row_outputs(row_out);
  for (int i = 0; i < Op::kRowOutputs; ++i) t.row_out[i][row] = row_out[i];
}

// One round's reduction over a whole row by one thread, as a cascade: blocks of kBlock
// elements are reduced in order, then blocks are combined pairwise, like the carries of a
// binary counter. The rounding error grows with kBlock + log2(cols / kBlock) rather than
// with cols, as a tree of threads on the GPU does (a sum over rows of 262144 float32
// elements, or of values far from zero, stays within float32 tolerances).
template <typename Op>
C10_HOST_DEVICE inline typename Op::acc_t reduce_row_serially(
    const Op& op, int round, const Tensors<typename Op::scalar_t>& t, int64_t row) {
  using acc_t = typename Op::acc_t;
  constexpr int64_t kBlock = 32;
  const Reduce kind = Op::reduction(round);
  const RowPointers<Op> p(t, row);
  acc_t levels[64];  // levels[i]: the combination of 2^i blocks, while bit i of count is set
  uint64_t count = 0;
  for (int64_t start = 0; start < t.cols; start += kBlock) {
    acc_t block = identity<acc_t>(kind);
    const int64_t end = start + kBlock < t.cols ? start + kBlock : t.cols;
    for (int64_t c = start; c < end; ++c) {
      acc_t in[kMaxInputs];
      acc_t column_in[kMaxColumnInputs];
      for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(p.in[i][c]);
      load_column_inputs<Op>(t, c, column_in);
      block = combine(kind, block, op.contribution(round, in, column_in));
    }
    int level = 0;
    for (uint64_t carry = count; carry & 1; carry >>= 1, ++level) {
      block = combine(kind, levels[level], block);
    }
    levels[level] = block;
    ++count;
  }
  acc_t total = identity<acc_t>(kind);
  for (int level = 0; level < 64; ++level) {
    if ((count >> level) & 1) total = combine(kind, levels[level], total);
  }
  return total;
}

// The whole operator on one row, by one thread: the CPU kernel's inner loop, and version 1
// of the CUDA ladder. column_sums (kColumnSums x cols), if the operator has any, collects
// this row's terms.
template <typename Op>
C10_HOST_DEVICE inline void run_row_serially(Op op, const Tensors<typename Op::scalar_t>& t,
                                             int64_t row, typename Op::acc_t* column_sums) {
  using acc_t = typename Op::acc_t;
  begin_row(op, t, row);
  for (int round = 0; round < Op::kRounds; ++round) {
    op.end_round(round, reduce_row_serially(op, round, t, row));
  }
  const RowPointers<Op> p(t, row);
  for (int64_t c = 0; c < t.cols; ++c) {
    acc_t in[kMaxInputs];
    acc_t column_in[kMaxColumnInputs];
    acc_t out[kMaxOutputs];
    acc_t column_sum[kMaxColumnSums];
    for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(p.in[i][c]);
    load_column_inputs<Op>(t, c, column_in);
    op.output(in, column_in, out, column_sum);
    for (int i = 0; i < Op::kOutputs; ++i) p.out[i][c] = typename Op::scalar_t(out[i]);
    for (int i = 0; i < Op::kColumnSums; ++i) column_sums[i * t.cols + c] += column_sum[i];
  }
  write_row_outputs(op, t, row);
}

}  // namespace torchlab::rows
