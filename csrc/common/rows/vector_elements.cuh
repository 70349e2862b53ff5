// What versions 3 to 6 do with one 16-byte vector of each input at a column: read the
// column inputs' vectors there (weight, bias), then run the operator on each of the W
// elements, for a pass's reductions or for the outputs.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>
#include <type_traits>

#include "common/rows.h"
#include "common/vec.cuh"

namespace torchlab::rows {

// Rounds a kernel reduces in one pass over the row: all of them where they are independent
// (Op::kIndependentRounds: LayerNorm's backward), one otherwise. The pass ends in one
// reduction of that many totals, each combined in the order it would be alone (float32's
// may still differ in the last bits: nvcc no longer fuses LayerNorm's g w into its sum, as
// both rounds now share it): one pass and one barrier where there were two. On the H200,
// side by side, LayerNorm's backward: bfloat16 524288x1024 81.1% of the copy -> 96.1%,
// 262144x2048 92.4% -> 94.4%, 131072x4096 88.4% -> 93.0%; float32 524288x1024 94.0% ->
// 96.6%, 262144x2048 93.4% -> 96.7%; rows of 8192 and 16384 about even. Not across a
// cluster (kCluster), where it ran slower: bfloat16 8192x65536 66.4% -> 62.5%, float32
// 16384x32768 77.2% -> 72.7%, 8192x65536 71.1% -> 66.7%.
template <typename Op, bool kCluster>
constexpr int kRoundsAPass =
    Op::kIndependentRounds && !kCluster && Op::kRounds > 0 ? Op::kRounds : 1;

// The totals of one pass's kRounds rounds (pass p: rounds p * kRounds on), from each
// round's identity; end() gives the operator the reduced ones.
template <typename Op, int kRounds_>
struct PassTotals {
  using acc_t = typename Op::acc_t;
  static constexpr int kRounds = kRounds_;
  static constexpr int kPasses = Op::kRounds / kRounds;
  int first_round;
  Reduce kind[kRounds];
  acc_t total[kRounds];

  __device__ explicit PassTotals(int pass) : first_round(pass * kRounds) {
#pragma unroll
    for (int r = 0; r < kRounds; ++r) {
      kind[r] = Op::reduction(first_round + r);
      total[r] = identity<acc_t>(kind[r]);
    }
  }

  __device__ void end(Op& op) const {
#pragma unroll
    for (int r = 0; r < kRounds; ++r) op.end_round(first_round + r, total[r]);
  }
};

template <typename Op, int W>
struct VectorElements {
  using scalar_t = typename Op::scalar_t;
  using acc_t = typename Op::acc_t;
  using V = Vec<scalar_t, W>;

  // The column inputs' vectors at `col`; a missing one (nullptr) is not read, its vector
  // filled with column_default(i) (1 or 0, exact in every dtype), so that element()
  // converts every element alike. The choice is made on the vector's 32-bit words: made on
  // its elements (as element() once did), nvcc split each 2-byte element into a register
  // of its own, to move or select, three instructions an element where one converts it.
  // LayerNorm's bfloat16 forward at rows of 32768: 1560 -> 1392 instructions, 58 -> 48
  // registers. On the H200, side by side, forwards: LayerNorm bfloat16 32768x16384 87.6%
  // of the copy -> 93.8%, 16384x32768 78.6% -> 83.3%, float32 16384x32768 82.7% ->
  // 86.8%; RMSNorm bfloat16 8192x65536 83.7% -> 88.1%.
  // Plain loads. Read by ld.global.nc (__ldg), which the compiler may issue before the
  // thread's earlier stores (a plain load may alias them), each chunk's loads went a chunk
  // earlier, and kernels held to 40 registers spilled (LayerNorm's clusters 16 bytes, its
  // 4-chunk 512-thread blocks 64 and 72, where none): on the H200, side by side,
  // LayerNorm's forwards: bfloat16 8192x65536 86.5% of the copy -> 83.1%, 32768x16384
  // 96.5% -> 63.6%, float32 65536x8192 98.0% -> 64.4%
  // (benchmarks/results/h200/rows/sass_column_loads_readonly.txt).
  static __device__ __forceinline__ void load_columns(const Tensors<scalar_t>& t, int64_t col,
                                                      V* column_vec) {
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) {
      if constexpr (sizeof(V) % sizeof(uint32_t) == 0) {
        using Words = Vec<uint32_t, sizeof(V) / sizeof(uint32_t)>;
        const V fill = filled(i);
        Words words = *reinterpret_cast<const Words*>(&fill);
        if (t.column_in[i]) words = *reinterpret_cast<const Words*>(t.column_in[i] + col);
        column_vec[i] = *reinterpret_cast<const V*>(&words);
      } else {  // a single 2-byte element (version 3's rows of odd lengths)
        column_vec[i] = t.column_in[i] ? load_vec<W>(t.column_in[i] + col) : filled(i);
      }
    }
  }

  // For vectors loaded for a row ahead of their use (ThreadChunks' ahead columns): the
  // present column inputs' vectors at `col`, the missing ones' left unset until
  // fill_missing_columns() just before they are used. Filled at the load, nvcc split the
  // 2-byte elements apart there, waiting for the loads' data to do it, and issued the
  // last chunk's load only after: RMSNorm's bfloat16 forward at 2048x1024 (ThreadChunks'
  // kColumnsWithRow) took 8.5 us where it takes 7.6 on the H200.
  static __device__ __forceinline__ void load_present_columns(const Tensors<scalar_t>& t,
                                                              int64_t col, V* column_vec) {
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) {
      if (t.column_in[i]) column_vec[i] = load_vec<W>(t.column_in[i] + col);
    }
  }

  // The missing column inputs' vectors of load_present_columns(), filled.
  static __device__ __forceinline__ void fill_missing_columns(const Tensors<scalar_t>& t,
                                                              V* column_vec) {
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) {
      if (!t.column_in[i]) column_vec[i] = filled(i);
    }
  }

  // The vectors' terms of the pass's rounds, combined into its totals.
  template <typename Totals>
  static __device__ __forceinline__ void reduce(const Op& op, Totals& totals, const V* in_vec,
                                                const V* column_vec) {
#pragma unroll
    for (int j = 0; j < W; ++j) {
      acc_t in[kMaxInputs];
      acc_t column_in[kMaxColumnInputs];
      element(in_vec, column_vec, j, in, column_in);
#pragma unroll
      for (int r = 0; r < Totals::kRounds; ++r) {
        totals.total[r] = combine(totals.kind[r], totals.total[r],
                                  op.contribution(totals.first_round + r, in, column_in));
      }
    }
  }

  // The vectors' outputs into out_vec; add_sum(i, j, term) takes element j's term of column
  // sum i.
  template <typename AddSum>
  static __device__ __forceinline__ void output(const Op& op, const V* in_vec,
                                                const V* column_vec, V* out_vec,
                                                AddSum&& add_sum) {
#pragma unroll
    for (int j = 0; j < W; ++j) {
      acc_t in[kMaxInputs];
      acc_t column_in[kMaxColumnInputs];
      acc_t out[kMaxOutputs];
      acc_t column_sum[kMaxColumnSums];
      element(in_vec, column_vec, j, in, column_in);
      op.output(in, column_in, out, column_sum);
#pragma unroll
      for (int i = 0; i < Op::kOutputs; ++i) out_vec[i].val[j] = scalar_t(out[i]);
#pragma unroll
      for (int i = 0; i < Op::kColumnSums; ++i) add_sum(i, j, column_sum[i]);
    }
  }

 private:
  // A vector of column input i's default.
  static __device__ __forceinline__ V filled(int i) {
    V fill;
#pragma unroll
    for (int j = 0; j < W; ++j) fill.val[j] = scalar_t(Op::column_default(i));
    return fill;
  }

  // Element j of the vectors in acc_t (a missing column input's vector holds its default).
  static __device__ __forceinline__ void element(const V* in_vec, const V* column_vec, int j,
                                                 acc_t* in, acc_t* column_in) {
#pragma unroll
    for (int i = 0; i < Op::kInputs; ++i) in[i] = to_acc(in_vec[i], j);
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) column_in[i] = to_acc(column_vec[i], j);
  }

  // Element j of a vector in acc_t. A bfloat16 is the high half of its float32, so the two
  // of a 32-bit word convert as the word shifted left and the word masked, an instruction
  // each; converted one by one (c10's), the high one took two (PRMT to the low half, SHF
  // back up). LayerNorm's bfloat16 forward at rows of 32768: 1392 instructions -> 1296
  // (160 PRMT -> none), 48 -> 40 registers (the kernel that checks its chunks; launch.cuh's
  // kWholeChunks has the timings, measured with both).
  static __device__ __forceinline__ acc_t to_acc(const V& v, int j) {
    if constexpr (std::is_same_v<scalar_t, c10::BFloat16> && W % 2 == 0) {
      const uint32_t word = reinterpret_cast<const uint32_t*>(&v)[j / 2];
      return __uint_as_float(j % 2 == 0 ? word << 16 : word & 0xffff0000u);
    } else {
      return acc_t(v.val[j]);
    }
  }
};

}  // namespace torchlab::rows
