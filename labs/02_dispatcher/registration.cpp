// Lab 02: registering an operator's kernels from C++, one per dispatch key.
//
// The schema is given; the CPU kernel computes, the Meta kernel only says what the output
// looks like (shape, dtype, device) and never touches data. LAB_NAMESPACE is chosen by the
// build; the operator is called as torch.ops.<namespace>.row_sum_squares.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

namespace {

std::vector<int64_t> row_shape(const at::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1, "row_sum_squares: expected x with at least 1 dimension");
  return std::vector<int64_t>(x.sizes().begin(), x.sizes().end() - 1);
}

// out[...] = sum over the last dimension of x[..., j]^2, for float32 x.
at::Tensor row_sum_squares_cpu(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "row_sum_squares: expected float32 x");
  // EXERCISE cpu_kernel: allocate `out` (x's shape without its last dimension), then, reading
  // a contiguous copy of x as rows of x.size(-1) floats, write each row's sum of squares.
  // Return out. Empty x must work.
  const at::Tensor input = x.contiguous();
  at::Tensor out = at::empty(row_shape(x), x.options());
  const int64_t cols = x.size(-1);
  const float* in = input.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t r = 0; r < out.numel(); ++r) {
    float sum = 0.0f;
    for (int64_t c = 0; c < cols; ++c) sum += in[r * cols + c] * in[r * cols + c];
    dst[r] = sum;
  }
  return out;
  // END EXERCISE
}

// What a meta tensor, a FakeTensor under torch.compile, or a shape check needs: no data.
at::Tensor row_sum_squares_meta(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "row_sum_squares: expected float32 x");
  // EXERCISE meta_kernel: return an empty tensor of the output's shape with x's options (on
  // the meta device, at::empty allocates nothing).
  return at::empty(row_shape(x), x.options());
  // END EXERCISE
}

}  // namespace

TORCH_LIBRARY(LAB_NAMESPACE, m) {
  m.def("row_sum_squares(Tensor x) -> Tensor");
}

TORCH_LIBRARY_IMPL(LAB_NAMESPACE, CPU, m) {
  m.impl("row_sum_squares", &row_sum_squares_cpu);
}

TORCH_LIBRARY_IMPL(LAB_NAMESPACE, Meta, m) {
  m.impl("row_sum_squares", &row_sum_squares_meta);
}
