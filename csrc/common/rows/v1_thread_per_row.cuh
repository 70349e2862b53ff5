// Version 1: one thread per row.
//
// The CPU loop (run_row_serially) moved to the GPU as it is: thread r walks row r alone,
// once per reduction and once more to write. Neighbouring threads read addresses a whole
// row apart, so every 32-byte sector a warp fetches serves one element of one thread:
// for 2-byte elements, 1/16 of the bytes fetched are used. With rows of a few thousand
// elements and fewer rows than a GPU has threads, most of the machine also sits idle.
// Expect a few percent of the copy bandwidth: the baseline every later version beats.
#pragma once

#include "common/rows.h"

namespace torchlab::rows {

constexpr int kV1Threads = 128;

template <typename Op>
__global__ void __launch_bounds__(kV1Threads)
    thread_per_row_kernel(Op op, Tensors<typename Op::scalar_t> t) {
  static_assert(Op::kColumnSums == 0, "version 1 runs forward operators only");
  const int64_t row = int64_t(blockIdx.x) * kV1Threads + threadIdx.x;
  if (row < t.rows) run_row_serially(op, t, row, nullptr);
}

}  // namespace torchlab::rows
