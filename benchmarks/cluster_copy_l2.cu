// Why did the row kernels split over a cluster read twice the L2 sectors they asked for
// (results/h200/rows/ncu_l2_cluster_variants.txt)? One copy of 1 GiB, 64 KB a block of 512
// threads as those kernels take, in six ways: loads to registers (LDG), or asynchronous
// copies to shared memory (LDGSTS, as version 5 stages a row) with the shared memory
// 128-byte aligned or 16 bytes off (where version 5's cluster blocks found it, after their
// 272 bytes of static shared memory), each in clusters of one block and of two. The result
// (results/h200/rows/cluster_copy_l2.txt): register loads and aligned copies read once, in
// clusters of one or two; the copies 16 bytes off read twice, in clusters of one or two.
// For Nsight Compute:
//
//   nvcc -O3 -arch=sm_90a -o cluster_copy_l2 benchmarks/cluster_copy_l2.cu
//   ncu --clock-control none --metrics METRICS ./cluster_copy_l2
//
// with METRICS lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sectors_op_read_lookup_hit.sum,
// dram__bytes_read.sum,gpu__time_duration.sum (one comma-separated argument).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kThreads = 512;
constexpr int kChunks = 8;  // 16-byte vectors a thread: 64 KB a block
constexpr size_t kBlockBytes = size_t(kThreads) * kChunks * 16;
constexpr size_t kBytes = size_t(1) << 30;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

// Each block copies its 64 KB; chunk k of thread x is vector k * kThreads + x.
__global__ void __launch_bounds__(kThreads) copy_registers(const uint4* in, uint4* out) {
  const size_t first = size_t(blockIdx.x) * kThreads * kChunks + threadIdx.x;
  uint4 v[kChunks];
#pragma unroll
  for (int k = 0; k < kChunks; ++k) v[k] = in[first + k * kThreads];
#pragma unroll
  for (int k = 0; k < kChunks; ++k) out[first + k * kThreads] = v[k];
}

// The same through shared memory, cp.async.cg as version 5 stages a row; `offset` bytes
// past the start of the dynamic shared memory.
__global__ void __launch_bounds__(kThreads) copy_staged(const uint4* in, uint4* out, int offset) {
  extern __shared__ __align__(128) unsigned char shared[];
  uint4* slots = reinterpret_cast<uint4*>(shared + offset);
  const size_t first = size_t(blockIdx.x) * kThreads * kChunks + threadIdx.x;
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const auto address =
        static_cast<uint32_t>(__cvta_generic_to_shared(slots + k * kThreads + threadIdx.x));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address),
                 "l"(in + first + k * kThreads)
                 : "memory");
  }
  asm volatile("cp.async.commit_group;\n" ::: "memory");
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#pragma unroll
  for (int k = 0; k < kChunks; ++k) out[first + k * kThreads] = slots[k * kThreads + threadIdx.x];
}

// Launches `kernel` over the 1 GiB in clusters of cluster_size, then checks that the
// output's first and last 4 KB arrived (the input is every byte 1, the output zeroed first).
template <typename... Args>
void copy(void (*kernel)(Args...), int cluster_size, int shared_bytes, uint4* out,
          Args... args) {
  check(cudaMemset(out, 0, kBytes), "cudaMemset");
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(unsigned(kBytes / kBlockBytes));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = shared_bytes;
  cudaLaunchAttribute cluster;
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = cluster_size;
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  check(cudaLaunchKernelEx(&config, kernel, args...), "launch");
  check(cudaDeviceSynchronize(), "run");
  unsigned char ends[2][4096];
  const auto* bytes = reinterpret_cast<const unsigned char*>(out);
  check(cudaMemcpy(ends[0], bytes, 4096, cudaMemcpyDeviceToHost), "cudaMemcpy");
  check(cudaMemcpy(ends[1], bytes + kBytes - 4096, 4096, cudaMemcpyDeviceToHost), "cudaMemcpy");
  for (const auto& end : ends) {
    for (unsigned char b : end) {
      if (b != 1) {
        std::fprintf(stderr, "the copy is wrong\n");
        std::exit(1);
      }
    }
  }
}

}  // namespace

int main() {
  uint4 *in, *out;
  check(cudaMalloc(&in, kBytes), "cudaMalloc");
  check(cudaMalloc(&out, kBytes), "cudaMalloc");
  check(cudaMemset(in, 1, kBytes), "cudaMemset");
  const int shared_bytes = int(kBlockBytes) + 128;
  check(cudaFuncSetAttribute(copy_staged, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             shared_bytes),
        "cudaFuncSetAttribute");
  const uint4* from = in;
  for (int cluster_size : {1, 2}) {
    std::printf("clusters of %d: registers, staged aligned, staged 16 bytes off\n",
                cluster_size);
    copy(copy_registers, cluster_size, 0, out, from, out);
    copy(copy_staged, cluster_size, shared_bytes, out, from, out, 0);
    copy(copy_staged, cluster_size, shared_bytes, out, from, out, 16);
  }
  std::printf("the ends of every copy checked\n");
  return 0;
}
