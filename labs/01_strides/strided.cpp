// Lab 01: reading a tensor through its strides, by hand and through TensorIterator.
//
// Built just in time by the lab (torch.utils.cpp_extension.load); its operators live in the
// namespace LAB_NAMESPACE, chosen by the build, and are called as torch.ops.<namespace>.*.
#include <ATen/ATen.h>
#include <ATen/TensorIterator.h>
#include <torch/library.h>

#include <vector>

// Where element number `index` (counted in row-major order over `sizes`) lives in the
// storage: peel off one coordinate per dimension, last dimension first.
int64_t offset_of(int64_t index, c10::IntArrayRef sizes, c10::IntArrayRef strides,
                  int64_t storage_offset) {
  // EXERCISE offset_of: return storage_offset + sum over dimensions d of coordinate[d] * strides[d],
  // where the coordinates are the row-major digits of `index` in the mixed radix `sizes`.
  int64_t offset = storage_offset;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    offset += (index % sizes[d]) * strides[d];
    index /= sizes[d];
  }
  return offset;
  // END EXERCISE
}

// A contiguous copy of `src` (float64), reading each element at offset_of(...) by hand.
at::Tensor strided_copy(const at::Tensor& src) {
  TORCH_CHECK(src.scalar_type() == at::kDouble, "strided_copy: expected float64, got ",
              src.scalar_type());
  at::Tensor out = at::empty(src.sizes(), src.options());
  // EXERCISE strided_copy: for every index i, out's element i (out is contiguous) is the
  // storage element of src at offset_of(i, ...). Read src's storage from
  // src.storage().data() (not src.data_ptr(), which already includes the storage offset).
  const double* storage = static_cast<const double*>(src.storage().data());
  double* dst = out.data_ptr<double>();
  for (int64_t i = 0; i < src.numel(); ++i) {
    dst[i] = storage[offset_of(i, src.sizes(), src.strides(), src.storage_offset())];
  }
  // END EXERCISE
  return out;
}

// The same copy through TensorIterator, the machinery behind ATen's elementwise kernels: it
// merges dimensions it can, reorders them for locality, and hands the loop a pointer and a
// byte stride per operand for each run of elements.
at::Tensor iterator_copy(const at::Tensor& src) {
  TORCH_CHECK(src.scalar_type() == at::kDouble, "iterator_copy: expected float64, got ",
              src.scalar_type());
  at::Tensor out = at::empty(src.sizes(), src.options());
  auto iter = at::TensorIteratorConfig().add_output(out).add_const_input(src).build();
  iter.for_each([](char** data, const int64_t* strides, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      *reinterpret_cast<double*>(data[0] + i * strides[0]) =
          *reinterpret_cast<const double*>(data[1] + i * strides[1]);
    }
  });
  return out;
}

int64_t offset_of_op(int64_t index, std::vector<int64_t> sizes, std::vector<int64_t> strides,
                     int64_t storage_offset) {
  return offset_of(index, sizes, strides, storage_offset);
}

TORCH_LIBRARY(LAB_NAMESPACE, m) {
  m.def("offset_of(int index, int[] sizes, int[] strides, int storage_offset) -> int",
        &offset_of_op);
  m.def("strided_copy(Tensor src) -> Tensor", &strided_copy);
  m.def("iterator_copy(Tensor src) -> Tensor", &iterator_copy);
}
