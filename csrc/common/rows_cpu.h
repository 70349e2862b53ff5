// Row operators on the CPU: rows spread over threads, each row by one thread
// (run_row_serially). Column sums (grad_weight, grad_bias) are summed in fixed chunks of
// rows, then over chunks in order, so the result is the same whatever the thread count.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <vector>

#include "common/checks.h"
#include "common/rows.h"

namespace torchlab::rows {

constexpr int64_t kRowsPerChunk = 64;

// column_sums: kColumnSums tensors of [cols], written (not added to).
template <typename Op>
void run_cpu(const Op& op, Tensors<typename Op::scalar_t> t,
             std::vector<at::Tensor> column_sums) {
  using acc_t = typename Op::acc_t;
  const int64_t chunks = (t.rows + kRowsPerChunk - 1) / kRowsPerChunk;
  at::Tensor partial;
  if constexpr (Op::kColumnSums > 0) {
    partial = at::zeros({chunks, Op::kColumnSums, t.cols},
                        at::TensorOptions().dtype(c10::CppTypeToScalarType<acc_t>::value));
  }
  // Chunks of rows, at least about 32k elements to a thread.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, t.cols * kRowsPerChunk));
  at::parallel_for(0, chunks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      acc_t* sums = Op::kColumnSums > 0 ? partial.data_ptr<acc_t>() +
                                              chunk * Op::kColumnSums * t.cols
                                        : nullptr;
      const int64_t last = std::min(t.rows, (chunk + 1) * kRowsPerChunk);
      for (int64_t row = chunk * kRowsPerChunk; row < last; ++row) {
        run_row_serially(op, t, row, sums);
      }
    }
  });
  if constexpr (Op::kColumnSums > 0) {
    TORCH_INTERNAL_ASSERT(column_sums.size() == size_t(Op::kColumnSums));
    const acc_t* p = partial.const_data_ptr<acc_t>();
    int i = 0;
    for (at::Tensor& sum : column_sums) {
      auto* out = sum.mutable_data_ptr<typename Op::scalar_t>();
      at::parallel_for(0, t.cols, 1024, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
          acc_t total = 0;
          for (int64_t chunk = 0; chunk < chunks; ++chunk) {
            total += p[(chunk * Op::kColumnSums + i) * t.cols + c];
          }
          out[c] = typename Op::scalar_t(total);
        }
      });
      ++i;
    }
  }
}

// The CPU as a device for the operators' shared wrappers (csrc/ops/<op>/<op>.h), beside
// CudaRows (csrc/common/rows/launch.cuh).
struct CpuRows {
  // Calls f(scalar_t{}) for the tensor's dtype: float64, float32, bfloat16 or float16.
  template <typename F>
  static void dispatch(const char* op, at::ScalarType dtype, F&& f) {
    switch (dtype) {
      case at::kDouble: return f(double{});
      case at::kFloat: return f(float{});
      case at::kBFloat16: return f(c10::BFloat16{});
      case at::kHalf: return f(c10::Half{});
      default:
        TORCH_CHECK(false, op, ": expected float64, float32, bfloat16 or float16, got ",
                    dtype_name(dtype));
    }
  }

  template <typename Op>
  void run(const Op& op, const Tensors<typename Op::scalar_t>& t,
           std::vector<at::Tensor> column_sums, const at::TensorOptions&) const {
    run_cpu(op, t, std::move(column_sums));
  }
};

}  // namespace torchlab::rows
