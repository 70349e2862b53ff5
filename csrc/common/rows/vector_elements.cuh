// What versions 3 to 6 do with one 16-byte vector of each input at a column: read the
// column inputs' vectors there (weight, bias), then run the operator on each of the W
// elements, for a round's reduction or for the outputs.
#pragma once

#include "common/rows.h"
#include "common/vec.cuh"

namespace torchlab::rows {

template <typename Op, int W>
struct VectorElements {
  using scalar_t = typename Op::scalar_t;
  using acc_t = typename Op::acc_t;
  using V = Vec<scalar_t, W>;

  // The column inputs' vectors at `col`; a missing one (nullptr) is not read.
  static __device__ __forceinline__ void load_columns(const Tensors<scalar_t>& t, int64_t col,
                                                      V* column_vec) {
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) {
      if (t.column_in[i]) column_vec[i] = load_vec<W>(t.column_in[i] + col);
    }
  }

  // The vectors' terms of `round`'s reduction, combined into `local`.
  static __device__ __forceinline__ acc_t reduce(const Op& op, int round, acc_t local,
                                                 const Tensors<scalar_t>& t, const V* in_vec,
                                                 const V* column_vec) {
    const Reduce kind = Op::reduction(round);
#pragma unroll
    for (int j = 0; j < W; ++j) {
      acc_t in[kMaxInputs];
      acc_t column_in[kMaxColumnInputs];
      element(t, in_vec, column_vec, j, in, column_in);
      local = combine(kind, local, op.contribution(round, in, column_in));
    }
    return local;
  }

  // The vectors' outputs into out_vec; add_sum(i, j, term) takes element j's term of column
  // sum i.
  template <typename AddSum>
  static __device__ __forceinline__ void output(const Op& op, const Tensors<scalar_t>& t,
                                                const V* in_vec, const V* column_vec,
                                                V* out_vec, AddSum&& add_sum) {
#pragma unroll
    for (int j = 0; j < W; ++j) {
      acc_t in[kMaxInputs];
      acc_t column_in[kMaxColumnInputs];
      acc_t out[kMaxOutputs];
      acc_t column_sum[kMaxColumnSums];
      element(t, in_vec, column_vec, j, in, column_in);
      op.output(in, column_in, out, column_sum);
#pragma unroll
      for (int i = 0; i < Op::kOutputs; ++i) out_vec[i].val[j] = scalar_t(out[i]);
#pragma unroll
      for (int i = 0; i < Op::kColumnSums; ++i) add_sum(i, j, column_sum[i]);
    }
  }

 private:
  // Element j of the vectors in acc_t; a missing column input reads as its default.
  static __device__ __forceinline__ void element(const Tensors<scalar_t>& t, const V* in_vec,
                                                 const V* column_vec, int j, acc_t* in,
                                                 acc_t* column_in) {
#pragma unroll
    for (int i = 0; i < Op::kInputs; ++i) in[i] = acc_t(in_vec[i].val[j]);
#pragma unroll
    for (int i = 0; i < Op::kColumnInputs; ++i) {
      column_in[i] = t.column_in[i] ? acc_t(column_vec[i].val[j]) : Op::column_default(i);
    }
  }
};

}  // namespace torchlab::rows
