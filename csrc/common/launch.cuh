// Grid sizing shared by the CUDA kernels.
#pragma once

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace torchlab {

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Threads of `kernel` that fit on the current GPU at once: the size of a grid that runs in
// one wave, each thread looping over its share of the work.
template <auto kernel>
int64_t resident_threads(int threads_per_block) {
  // Blocks per SM depend on the kernel and the architecture, not on the call: ask once per
  // kernel (every caller passes the kernel's one block size).
  static const int blocks_per_sm = [&] {
    int blocks = 0;
    C10_CUDA_CHECK(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads_per_block, 0));
    return blocks;
  }();
  const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return int64_t(blocks_per_sm) * sms * threads_per_block;
}

}  // namespace torchlab
