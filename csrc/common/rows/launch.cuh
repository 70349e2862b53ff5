// Launching a row operator on CUDA: the version ladder (v1_... to v6_...), the choice of
// threads per row by row length, and the column sums' second stage.
#pragma once

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/checks.h"
#include "common/launch.cuh"
#include "common/rows/v1_thread_per_row.cuh"
#include "common/rows/v2_block_shared.cuh"
#include "common/rows/v3_warp_vector.cuh"
#include "common/rows/v4_registers.cuh"
#include "common/rows/v5_staged.cuh"
#include "common/rows/v6_streamed.cuh"

namespace torchlab::rows {

constexpr int kBestVersion = kVersions;
// Versions 4 and 5: 16-byte vectors a thread holds of each input, the largest block of a
// row, and the largest clusters (8 is the portable limit; Hopper allows 16 on request).
constexpr int kChunks = 4;
constexpr int kMaxRowThreads = 512;
constexpr int kMaxClusterSize = 8;
constexpr int kMaxStagedClusterSize = 16;
// Rows a row slot takes at least, for operators with column sums. Measured on the H100,
// forward+backward of 2048 float32 rows of 1024 (64 threads a row): 4 launches twice the
// blocks that 16 or 8 do, 13-15% faster; 2 made LayerNorm's bfloat16 one (a warp a row)
// 19% slower.
constexpr int64_t kMinRowsPerSlot = 4;

// Column sums: sums[i][c] = the sum over partial rows p of partial[p, i, c], in a fixed
// order (the same bits every run). A block covers 32 columns; each of its 32 rows of
// threads adds every 32nd partial row, then the 32 sums are added in turn. (A few hundred
// partial rows are common, and few blocks, a row of 1024 columns gives 32: the rows of
// threads keep more loads in flight.)
constexpr int kSumCols = 32;
constexpr int kSumRows = 32;

template <typename scalar_t>
struct ColumnSumOutputs {
  scalar_t* out[kMaxColumnSums];
};

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kSumCols* kSumRows) sum_partials_kernel(
    const acc_t* __restrict__ partial, ColumnSumOutputs<scalar_t> sums, int64_t partial_rows,
    int num_sums, int64_t cols) {
  __shared__ acc_t block_sums[kSumRows][kSumCols];
  const int i = blockIdx.y;
  const int64_t col = int64_t(blockIdx.x) * kSumCols + threadIdx.x;
  acc_t sum = 0;
  if (col < cols) {
    // Unrolled: eight loads in flight at once, the additions still in order.
#pragma unroll 8
    for (int64_t p = threadIdx.y; p < partial_rows; p += kSumRows) {
      sum += partial[(p * num_sums + i) * cols + col];
    }
  }
  block_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
#pragma unroll
    for (int y = 1; y < kSumRows; ++y) sum += block_sums[y][threadIdx.x];
    sums.out[i][col] = scalar_t(sum);
  }
}

// kLadder: versions 1 and 2 are compiled too (for the ladder operators alone: the public
// ones run version 6, which runs version 5 where it does not apply, or version 3 where
// neither can: odd row lengths, unaligned pointers, rows longer than a cluster holds).
template <typename Op, bool kLadder>
class Launcher {
 public:
  using scalar_t = typename Op::scalar_t;
  using acc_t = typename Op::acc_t;

  // column_sums: Op::kColumnSums tensors of [cols], written.
  Launcher(const Op& op, const Tensors<scalar_t>& t, std::vector<at::Tensor> column_sums,
           const at::TensorOptions& options)
      : op_(op), t_(t), column_sums_(std::move(column_sums)), options_(options),
        stream_(at::cuda::getCurrentCUDAStream()) {
    TORCH_INTERNAL_ASSERT(column_sums_.size() == size_t(Op::kColumnSums));
  }

  void run(int version) {
    check_ladder_version(version);
    if (t_.rows == 0) {
      for (at::Tensor& sum : column_sums_) sum.zero_();  // sums over no rows
      return;
    }
    if constexpr (kLadder && Op::kColumnSums == 0) {
      if (version == 1) return launch_v1();
      if (version == 2) return launch_v2();
    } else {
      TORCH_CHECK(version >= 3, "versions 1 and 2 run the ladder operators only");
    }
    if (vectorizable()) {
      constexpr int W = kVec16<scalar_t>;
      const bool fitted = (version == 4 && launch_fitted<W, /*kStaged=*/false>()) ||
                          (version == 6 && launch_streamed<W>()) ||
                          (version >= 5 && launch_fitted<W, /*kStaged=*/true>());
      if (!fitted) launch_v3<W>();
    } else {
      launch_v3<1>();  // 16-byte vectors need whole vectors in a row and aligned pointers
    }
  }

 private:
  bool vectorizable() const {
    constexpr int W = kVec16<scalar_t>;
    if (t_.cols % W != 0) return false;
    for (int i = 0; i < Op::kInputs; ++i) {
      if (!is_aligned(t_.in[i], 16)) return false;
    }
    for (int i = 0; i < Op::kOutputs; ++i) {
      if (!is_aligned(t_.out[i], 16)) return false;
    }
    for (int i = 0; i < Op::kColumnInputs; ++i) {
      if (!is_aligned(t_.column_in[i], 16)) return false;
    }
    return true;
  }

  void launch_v1() {
    thread_per_row_kernel<Op><<<ceil_div(t_.rows, kV1Threads), kV1Threads, 0, stream_>>>(op_, t_);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  void launch_v2() {
    const int64_t blocks = std::min<int64_t>(t_.rows, 1 << 20);
    block_shared_kernel<Op><<<blocks, kV2Threads, 0, stream_>>>(op_, t_);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  template <int W>
  void launch_v3() {
    constexpr auto kernel = warp_vector_kernel<Op, W>;
    const int64_t blocks =
        std::min(t_.rows, resident_threads<kernel>(kV3Threads) / kV3Threads);
    // Each block adds its rows' terms to its own partial row: start from zero.
    const at::Tensor partial = partial_sums(blocks, /*zeroed=*/true);
    kernel<<<blocks, kV3Threads, 0, stream_>>>(op_, t_);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    sum_partials(partial, blocks);
  }

  // Chunks a thread holds where kChunks would put more than 32 column sums in its
  // registers (one for each of its columns, kept across its rows): LayerNorm's bfloat16
  // backward (two sums, 8 elements a vector) takes 2.
  template <int W>
  static constexpr int kChunksHoldingSums =
      Op::kColumnSums == 0 ? kChunks
                           : std::max(1, std::min(kChunks, 32 / (Op::kColumnSums * W)));

  // Versions 4 and 5: the smallest configuration whose threads hold the row, a warp a row
  // (four rows a block) to 256 threads a row, then 512-thread blocks and clusters of them;
  // false if none does (a row too long, or clusters on a GPU older than Hopper). For one
  // input and no column input (softmax's forward), version 5 stages only the rows that take
  // 512 threads or more: shorter rows leave room for enough blocks that version 4 keeps
  // memory busy (measured on the H100, softmax's and RMSNorm's forwards: version 4 as fast
  // or faster up to rows of 8192 elements; RMSNorm's is no longer, below).
  template <int W, bool kStaged>
  bool launch_fitted() {
    // Operators of two inputs or more (the backwards, add_rms_norm) hold too many registers
    // for version 4 to keep enough 256-thread blocks on a multiprocessor: version 5 stages
    // them from there on (measured on the H100: RMSNorm's backward, bfloat16 rows of 8192,
    // 84% of the copy forward and backward in registers, 92% staged). Not below: there,
    // add_rms_norm's backward ran at 40-68% staged, 97% in registers. So are those of a
    // column input (RMSNorm's forward): on the H200, side by side, its bfloat16 rows of
    // 8192 (2^29 elements) ran at 91.8% of the copy in registers (58 registers a thread,
    // four blocks a multiprocessor), 96.8% staged (30 registers, 16 KB of shared memory a
    // block); rows of 5120, 75.1% -> 98.2%; 512-thread blocks of two chunks in registers
    // (40 registers) gave 96.2% and 76.0%. Its float32 rows of 2049 to 4096 elements were
    // not timed side by side (in the sweeps before and after, 131072x4096: 97.9% -> 97.3%).
    // Operators of two column inputs (LayerNorm's forward, weight and bias) are staged at
    // every length: in registers they held 56-70 registers a thread, staged 32, and on the
    // H200 bfloat16 rows of 1024/2048/4096/8192 ran at 78/80/84/78% of the copy in
    // registers (held to 64 registers), 97/96/97/95% staged.
    constexpr bool kStageAll = kStaged && Op::kColumnInputs > 1;
    constexpr bool kStageShort = kStaged && (Op::kInputs > 1 || Op::kColumnInputs > 0);
    constexpr int64_t kPerThread = int64_t(kChunks) * W;
    const int64_t cols = t_.cols;
    // Rows of a warp, four a block: one a block of 32 threads was slower in the short
    // grids. On the H200, side by side, forwards, two rounds at 2048x1024: bfloat16
    // LayerNorm 8.3 / 8.6 -> 9.3 / 9.0 us, RMSNorm 7.7 / 7.6 -> 8.3 / 8.1, add_rms_norm
    // 9.8 / 10.1 -> 10.5 / 10.3 (softmax faster, 8.2 / 8.2 -> 8.0 / 7.9); the long grids
    // faster, bfloat16 524288x1024 by 1.2-1.5% (LayerNorm 96.5% of the copy -> 97.9%),
    // float32 1048576x512 by 1.5-1.8%. One a block only where the grid does not fit at
    // once would take both: not built yet.
    if (cols <= 32 * kPerThread) {
      if constexpr (kColumnsWithRowInOneWave) {
        if (launch_fitted<W, /*kStaged=*/false, 32, 4, kChunks, /*kCluster=*/false,
                          /*kColumnsWithRow=*/true>(1)) {
          return true;
        }
      }
      return launch_fitted<W, kStageAll, 32, 4, kChunks, false>(1);
    }
    // Rows past a warp whose column sums kChunks would hold in too many registers take
    // fewer chunks, up to 256 threads. On the H200, LayerNorm's bfloat16 backward with 4
    // chunks held 161-200 registers before the weight was held too (383a688; a warp a row
    // now holds 221), two blocks of 128 threads a multiprocessor: forward
    // and backward, rows of 2048 and 4096, 65.7% and 67.3% of the copy; with 2 chunks (80
    // registers), 72.0% and 76.5%. Not a warp a row (77% against 73% at 1024: a row of
    // two warps meets at a barrier), nor past 256 threads (512-thread blocks of 2 chunks,
    // one a multiprocessor: 69% against 77% at 8192).
    constexpr int kSumChunks = kChunksHoldingSums<W>;
    if constexpr (kSumChunks < kChunks) {
      constexpr int64_t kSumPerThread = int64_t(kSumChunks) * W;
      if (cols <= 128 * kSumPerThread) {
        return launch_fitted<W, false, 128, 1, kSumChunks, false>(1);
      }
      if (cols <= 256 * kSumPerThread) {
        return launch_fitted<W, kStageShort, 256, 1, kSumChunks, false>(1);
      }
    }
    if (cols <= 64 * kPerThread) return launch_fitted<W, kStageAll, 64, 2, kChunks, false>(1);
    if (cols <= 128 * kPerThread) return launch_fitted<W, kStageAll, 128, 1, kChunks, false>(1);
    if (cols <= 256 * kPerThread) return launch_fitted<W, kStageShort, 256, 1, kChunks, false>(1);
    if constexpr (kStaged) {
      return launch_staged<W>();
    } else {
      return launch_long<W, false, kChunks, kMaxClusterSize>();
    }
  }

  // Version 5 splits a row over as few blocks as it can: one of kStagedChunks vectors of
  // each input a thread (two stages of them, 64 KB of shared memory; one stage in the
  // whole grid, 32 KB), else blocks of kLongChunks (128 KB, or 64 KB; the backwards'
  // clusters hold their weight too, v5_staged.cuh's kSharedColumns), one or a cluster of
  // them. Measured on the H100, bfloat16 rows, two stages: 16384 elements at 89% of the
  // copy in one 64 KB block against 65% in one of 128 KB (too few warps left to compute);
  // 32768 at 91% in one 128 KB block against 76% in a cluster of two 64 KB blocks
  // (RMSNorm); clusters cost more than they give while one block can hold the row. On the
  // H200, clusters of twice as many kStagedChunks blocks were slower, by up to 18 points
  // (softmax, bfloat16 rows of 262144, both as a whole grid: 43% of the copy against 61%).
  static constexpr int kStagedChunks = Op::kInputs >= kChunks ? 1 : kChunks / Op::kInputs;
  static constexpr int kLongChunks = 2 * kStagedChunks;

  template <int W>
  bool launch_staged() {
    if (t_.cols <= int64_t(kMaxRowThreads) * kStagedChunks * W) {
      return launch_fitted<W, true, kMaxRowThreads, 1, kStagedChunks, false>(1);
    }
    return launch_long<W, true, kLongChunks, kMaxStagedClusterSize>();
  }

  // The launch attribute that groups the grid's blocks into clusters of cluster_size.
  static cudaLaunchAttribute cluster_attribute(int cluster_size) {
    cudaLaunchAttribute cluster_dim;
    cluster_dim.id = cudaLaunchAttributeClusterDimension;
    cluster_dim.val.clusterDim.x = cluster_size;
    cluster_dim.val.clusterDim.y = 1;
    cluster_dim.val.clusterDim.z = 1;
    return cluster_dim;
  }

  // Version 6 for operators with a single reduction and no column sums (RMSNorm's and
  // add_rms_norm's forwards, softmax's backward) on rows of 2-byte elements that version 5
  // splits over a cluster, up to 128 KB of each input (two blocks). Measured on the H100
  // side by side with version 5 (2^29 elements, bfloat16): RMSNorm, rows of 65536, 83% ->
  // 94% of the copy; add_rms_norm, rows of 32768, 74% -> 98%, of 65536, 67% -> 84%, of
  // 45000, 54% -> 80%; softmax's backward about even (float16: 68-78% -> 86-88% at 65536).
  // Slower at RMSNorm's rows of 45000 (66% -> 61%): a row that is not a whole number of a
  // block's batches is read a vector at a time. Where an operator reduces twice, the second
  // reread cost more than the cluster (softmax, LayerNorm). Nor float32 rows (version 6's
  // two 1024-thread blocks against version 5's cluster of two 512-thread ones): on the
  // H200, side by side, at 16384x32768, RMSNorm's forward 93.3% -> 73.4%, add_rms_norm's
  // 91.7% -> 87.7%, softmax's backward 98.5% -> 80.4%.
  // Rows of any element size longer than version 5's largest cluster holds take version 6
  // in a cluster of up to 16 blocks (64 KB of each input a block), where version 3 would
  // read them from memory twice: on the H200, side by side, softmax's float32 forward and
  // backward at 2048x262144, 66.2% of the copy -> 80.7%. False where it does not apply.
  template <int W>
  bool launch_streamed() {
    if constexpr (Op::kColumnSums > 0 || Op::kRounds != 1) {
      return false;
    } else {
      // Version 5's longest row in one block and in a cluster, and version 6's in a block.
      constexpr int64_t kLongBlock = int64_t(kMaxRowThreads) * kLongChunks * W;
      constexpr int64_t kStagedCluster = kMaxStagedClusterSize * kLongBlock;
      constexpr int64_t kStreamBlock = int64_t(kStreamThreads) * kStreamUnroll * W;
      const int64_t cols = t_.cols;
      const bool past_staged = cols > kStagedCluster;
      const bool two_blocks_of_2_bytes =
          sizeof(scalar_t) == 2 && cols > kLongBlock && cols <= 2 * kStreamBlock;
      const bool fits_a_cluster = cols <= kMaxStagedClusterSize * kStreamBlock;
      if (!(past_staged || two_blocks_of_2_bytes) || !fits_a_cluster) return false;
      if (cols <= kStreamBlock) return launch_streamed_kernel<W, /*kCluster=*/false>(1);
      if (at::cuda::getCurrentDeviceProperties()->major < 9) return false;
      int cluster_size = 2;
      while (cluster_size * kStreamBlock < cols) cluster_size *= 2;
      return launch_streamed_kernel<W, /*kCluster=*/true>(cluster_size);
    }
  }

  // A block a row, as kWholeGrid; or, in clusters of cluster_size, as many clusters as fit
  // at once, looping over the rows. False if no cluster fits.
  template <int W, bool kCluster>
  bool launch_streamed_kernel(int cluster_size) {
    constexpr auto kernel = streamed_kernel<Op, W, kCluster>;
    constexpr int kShared = kStreamedSharedBytes<Op, W>;
    static bool configured = false;  // the kernel's attributes, set once
    if (!configured) {
      if (kShared > 48 * 1024) {
        C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            kShared));
      }
      if constexpr (kCluster) {
        C10_CUDA_CHECK(
            cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
      }
      configured = true;
    }
    cudaLaunchConfig_t config = {};
    config.blockDim = dim3(kStreamThreads);
    config.dynamicSmemBytes = kShared;
    config.stream = stream_;
    int64_t groups = std::min<int64_t>(t_.rows, kMaxGridBlocks);
    cudaLaunchAttribute cluster_dim = cluster_attribute(cluster_size);
    if constexpr (kCluster) {
      config.attrs = &cluster_dim;
      config.numAttrs = 1;
      // Clusters that fit at once, by cluster size (2 to 16), asked once per kernel.
      static int resident[5] = {-1, -1, -1, -1, -1};
      int& fits = resident[__builtin_ctz(cluster_size)];
      if (fits < 0) {
        config.gridDim = dim3(cluster_size);
        C10_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&fits, kernel, &config));
      }
      if (fits == 0) return false;
      groups = std::min<int64_t>(t_.rows, fits);
    }
    config.gridDim = dim3(groups * cluster_size);
    C10_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, op_, t_));
    return true;
  }

  // Rows for 512-thread blocks of kBlockChunks vectors a thread: one block a row, or a
  // cluster of up to kMaxCluster blocks.
  template <int W, bool kStaged, int kBlockChunks, int kMaxCluster>
  bool launch_long() {
    const int64_t per_block = int64_t(kMaxRowThreads) * kBlockChunks * W;
    if (t_.cols <= per_block) {
      return launch_fitted<W, kStaged, kMaxRowThreads, 1, kBlockChunks, false>(1);
    }
    if (at::cuda::getCurrentDeviceProperties()->major < 9 || t_.cols > kMaxCluster * per_block) {
      return false;
    }
    int cluster_size = 2;
    while (cluster_size * per_block < t_.cols) cluster_size *= 2;
    return launch_fitted<W, kStaged, kMaxRowThreads, 1, kBlockChunks, true>(cluster_size);
  }

  // A block (or a cluster) for every kRowsPerBlock rows (the loop over rows runs once),
  // rather than as many as fit looping over the rows: the blocks then run in order, on rows
  // next to each other. On the H100, softmax and RMSNorm forwards, rows of 1024 to 16384
  // elements, 2^28: 98-100% of the copy bandwidth, against 92-96% looping. Operators
  // without column sums only (the forwards, softmax's backward): the others' partial rows
  // would multiply. Clusters too where the operator reduces twice (softmax's and
  // LayerNorm's forwards), now that the cluster kernels' stores are whole 16-byte ones
  // (before, a whole grid of clusters ran 5-19 points slower). On the H200, rows split over
  // clusters, softmax's forward: bfloat16 rows of 65536 / 131072 / 262144, 72.1 / 64.2 /
  // 61.5% -> 84.6 / 79.1 / 73.6% of the copy, float32 rows of 32768 to 262144, 65.1-86.6%
  // -> 73.1-90.6%; LayerNorm's float32 forward at 16384x32768, 71.8% -> 74.9%. Not where it
  // reduces once, which ran slower as a whole grid: softmax's backward took 10-19% longer
  // (bfloat16 rows of 131072 and 262144, float32 of 65536 and 131072), RMSNorm's float32
  // forward at rows of 65536 fell from 81.8% to 70.1%, add_rms_norm's from 88.2% to 79.4%.
  template <bool kCluster>
  static constexpr bool kWholeGrid = Op::kColumnSums == 0 && (!kCluster || Op::kRounds > 1);
  static constexpr int64_t kMaxGridBlocks = int64_t(1) << 30;

  // Stages of version 5. A block that loops over rows stages the next row while it
  // computes this one: two stages. A block of the whole grid takes a single row (its part
  // of one, in a cluster) and stages nothing ahead: one stage, half the shared memory, so
  // that three blocks of 64 KB fit a multiprocessor where one of 128 KB did (a row of
  // 32768 bfloat16 elements), and the other blocks keep memory busy through each one's
  // reductions. Three stages (192 KB blocks) were measured slower for the norms on the
  // H100 (RMSNorm bfloat16 rows of 65536: 79% of the copy against 86%): the shared memory
  // they take is the L1's, which then no longer holds the weight between rows (the
  // backwards' clusters now hold it in shared memory: v5_staged.cuh's kSharedColumns says
  // what a third stage did there).
  template <bool kCluster>
  static constexpr int kStages = kWholeGrid<kCluster> ? 1 : 2;

  // LayerNorm's forward (two column inputs) in 512-thread blocks of kStagedChunks, a row
  // each (32 KB of bfloat16 rows of 16384, float32 rows of 8192), held to 40 registers a
  // thread: three blocks a multiprocessor, where the 52-53 registers it takes unheld left
  // room for two. On the H200, forward, two runs side by side: float32 65536x8192,
  // 92.6/93.2% -> 99.1/98.2% of the copy; bfloat16 32768x16384, 84.8/83.9% -> 87.2/84.7%.
  // Its clusters too (blocks of twice the chunks, 64 KB, a part of a row each), which took
  // 56-61 registers, two blocks a multiprocessor; held to 40 (a few bytes spilled), three,
  // as softmax's clusters take unheld: on the H200, bfloat16 8192x65536 64.5% -> 67.0%,
  // float32 16384x32768 74.7% -> 76.0%, 8192x65536 66.9% -> 71.5%. Its float32 single
  // blocks of twice the chunks (rows of 8193 to 16384) too, at 36-40 registers where they
  // took 44: held alone (e64ab0a's kernels), 32768x16384 85.8 / 85.5% -> 89.4 / 89.2%
  // (held before e64ab0a, when held meant spills, they lost: 90.6% -> 74.2%). Not
  // bfloat16's, at 40 registers unheld since its conversion by words (VectorElements), held
  // at 38 with more instructions before that (16384x32768, 85.7 / 85.8% -> 81.8 / 81.7%);
  // nor the other operators, which lost up to 3 points (softmax bf16 rows of 16384).
  template <int kRowThreads, int kBlockChunks, bool kCluster>
  static constexpr int kStagedMinBlocks =
      Op::kColumnInputs > 1 && kWholeGrid<kCluster> && kRowThreads == kMaxRowThreads &&
              (kCluster || kBlockChunks == kStagedChunks || sizeof(scalar_t) == 4)
          ? 3
          : 0;

  // Version 4's rows of a warp whose grid fits on the GPU at once (no block follows another
  // on a multiprocessor) load the column input with the row (ThreadChunks' kColumnsWithRow)
  // for operators of one input and one column input in 2-byte elements (RMSNorm's forward;
  // its float32 one holds the weight already, kHoldShortRowColumns): where each row's output
  // pass waits for the weight's chunks one by one, from the L2 or memory, and no other row
  // hides the wait. On the H200, side by side, means of four rounds: bfloat16 2048x1024,
  // 8.30 -> 7.78 us (92 registers a thread, 56 before; float16's, 55 against 40, not timed).
  // Not LayerNorm's (weight and bias, 119 registers: 8.70 -> 10.02 us, against its staged
  // kernel), nor add_rms_norm's (two inputs: 10.26 -> 10.31 us).
  static constexpr bool kColumnsWithRowInOneWave = Op::kColumnSums == 0 && Op::kInputs == 1 &&
                                                   Op::kColumnInputs == 1 &&
                                                   sizeof(scalar_t) == 2;

  // Dynamic shared memory a block of the fitted kernel takes (none in version 4).
  template <int W, bool kStaged, int kRowThreads, int kRowsPerBlock, int kBlockChunks,
            bool kCluster>
  static constexpr int kFittedSharedBytes =
      kStaged ? kStagedSharedBytes<Op, W, kRowThreads, kRowsPerBlock, kBlockChunks,
                                   kStages<kCluster>, kCluster>
              : 0;

  // Hopper's shared memory a multiprocessor.
  static constexpr int kSharedPerMultiprocessor = 228 * 1024;

  // Version 5's forwards whose shared memory leaves room for one block a multiprocessor
  // (more than half of Hopper's 228 KB: two stages of 64 KB, RMSNorm's and
  // add_rms_norm's clusters, which loop over the rows: float32 rows longer than a block
  // holds, 8192 or 16384 elements, and bfloat16 rows past version 6's 128 KB) load the
  // column inputs ahead of the output pass (ThreadChunks' kColumnsAhead): the registers
  // that takes cost no blocks there, while each round trip idles the multiprocessor's
  // one block. On the H200, side by side, RMSNorm's float32 forward at rows of 32768 and
  // 65536: 91.8% and 87.2% of the copy -> 94.4% and 92.8%; add_rms_norm's float32
  // forward about even (rows of 16384 to 65536, 92.5/91.1/92.7% -> 92.8/91.0/93.3%). Not
  // where registers set the blocks a multiprocessor holds: RMSNorm's bfloat16 forward at
  // rows of 8192 (version 4, 58 -> 94 registers) fell from 92.1% to 64.8%, LayerNorm's
  // float32 forward at rows of 16384 (one block of 8 chunks, then 40 -> 101 registers)
  // from 90.4% to 76.0%. Nor the backwards: LayerNorm's bfloat16 one, at 128 registers
  // already, went to 166 or spilled and took 11-35% longer at rows of 8192 to 65536.
  template <int kShared>
  static constexpr bool kColumnsAhead =
      Op::kColumnSums == 0 && 2 * kShared > kSharedPerMultiprocessor;

  // Rows that fill their blocks' chunks exactly (where version 5, and version 4 up to 128
  // threads a row, take them: powers of two from 512 float32 or 1024 2-byte elements) run
  // kernels of kWholeChunks, which check no chunk against the row's end: each check was a
  // branch around the chunk's work in every pass (BSSY, BRA, BSYNC and the test).
  // LayerNorm's bfloat16 forward at rows of 32768: 1272 instructions -> 1040; its clusters,
  // 1800 -> 1680. With bfloat16's conversion by words (VectorElements::to_acc), side by
  // side on the H200, forwards: LayerNorm bfloat16 32768x16384 / 16384x32768 / 8192x65536,
  // 87.4 / 81.6 / 76.4% of the copy -> 90.9 / 85.7 / 85.7%, float32 (its rows of 16384 held
  // to three blocks too, kStagedMinBlocks) 86.9 / 86.2 / 84.1% -> 90.5 / 89.4 / 86.8%;
  // softmax bfloat16 8192x65536 / 4096x131072 / 2048x262144, 92.0 / 87.1 / 89.2% -> 97.5 /
  // 94.5 / 96.4%. Not the operators with column sums (the norms' backwards), whose kernels
  // took more registers unchecked (LayerNorm's bfloat16 one at rows of 8192, 128 -> 146,
  // one block a multiprocessor where two fit; float32 clusters 64 -> 100) or spilled; nor
  // version 4's rows of 256 threads or more, for their registers too (softmax's bfloat16
  // forward at rows of 8192: 64 where 40, four blocks a multiprocessor where six fit),
  // though the time did not tell them apart (98.9% of the copy -> 97.4% unchecked in one
  // run, 94.5% -> 97.0% checked in another).
  template <bool kStaged, int kRowThreads>
  static constexpr bool kWholeChunkKernels =
      Op::kColumnSums == 0 && (kStaged || kRowThreads <= 128);

  template <int W, bool kStaged, int kRowThreads, int kRowsPerBlock, int kBlockChunks,
            bool kCluster, bool kColumnsWithRow, bool kWholeChunks>
  static constexpr auto fitted_kernel() {
    if constexpr (kStaged) {
      constexpr int kShared =
          kFittedSharedBytes<W, true, kRowThreads, kRowsPerBlock, kBlockChunks, kCluster>;
      static_assert(kShared <= 227 * 1024, "more shared memory than a Hopper block takes");
      return staged_kernel<Op, W, kRowThreads, kRowsPerBlock, kBlockChunks, kStages<kCluster>,
                           kCluster, kStagedMinBlocks<kRowThreads, kBlockChunks, kCluster>,
                           kColumnsAhead<kShared>, kWholeChunks>;
    } else {
      return registers_kernel<Op, W, kRowThreads, kRowsPerBlock, kBlockChunks, kCluster,
                              kWholeChunks, kColumnsWithRow>;
    }
  }

  // False, launching nothing, where no block fits, or where a kColumnsWithRow kernel's grid
  // does not fit at once (kColumnsWithRowInOneWave).
  template <int W, bool kStaged, int kRowThreads, int kRowsPerBlock, int kBlockChunks,
            bool kCluster, bool kColumnsWithRow = false>
  bool launch_fitted(int cluster_size) {
    if constexpr (kWholeChunkKernels<kStaged, kRowThreads>) {
      if (t_.cols == int64_t(cluster_size) * kRowThreads * kBlockChunks * W) {
        return launch_fitted_kernel<W, kStaged, kRowThreads, kRowsPerBlock, kBlockChunks,
                                    kCluster, kColumnsWithRow, true>(cluster_size);
      }
    }
    return launch_fitted_kernel<W, kStaged, kRowThreads, kRowsPerBlock, kBlockChunks, kCluster,
                                kColumnsWithRow, false>(cluster_size);
  }

  template <int W, bool kStaged, int kRowThreads, int kRowsPerBlock, int kBlockChunks,
            bool kCluster, bool kColumnsWithRow, bool kWholeChunks>
  bool launch_fitted_kernel(int cluster_size) {
    constexpr auto kernel = fitted_kernel<W, kStaged, kRowThreads, kRowsPerBlock, kBlockChunks,
                                          kCluster, kColumnsWithRow, kWholeChunks>();
    constexpr int kShared =
        kFittedSharedBytes<W, kStaged, kRowThreads, kRowsPerBlock, kBlockChunks, kCluster>;
    // How many blocks (or clusters) fit on the GPU at once, by cluster size (1 to 16): the
    // size of a grid that loops over the rows, asked once per kernel.
    static int resident[5] = {-1, -1, -1, -1, -1};
    int& fits = resident[__builtin_ctz(cluster_size)];

    cudaLaunchConfig_t config = {};
    config.blockDim = dim3(kRowThreads, kRowsPerBlock);
    config.dynamicSmemBytes = kShared;
    config.stream = stream_;
    cudaLaunchAttribute cluster_dim = cluster_attribute(cluster_size);
    if constexpr (kCluster) {
      config.attrs = &cluster_dim;
      config.numAttrs = 1;
    }
    if (fits < 0) {
      if (kShared > 48 * 1024) {
        C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            kShared));
      }
      if constexpr (kCluster) {
        if (cluster_size > kMaxClusterSize) {
          C10_CUDA_CHECK(cudaFuncSetAttribute(
              kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
        }
        config.gridDim = dim3(cluster_size);
        C10_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&fits, kernel, &config));
      } else {
        int blocks_per_sm = 0;
        C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
            &blocks_per_sm, kernel, kRowThreads * kRowsPerBlock, kShared));
        fits = blocks_per_sm * at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
      }
    }
    if (fits == 0) return false;
    const int64_t row_groups = ceil_div(t_.rows, kRowsPerBlock);  // a block's rows each
    if (kColumnsWithRow && row_groups > fits) return false;
    int64_t groups = std::min<int64_t>(row_groups, fits);
    if constexpr (kWholeGrid<kCluster>) {
      groups = std::min<int64_t>(row_groups, kMaxGridBlocks / cluster_size);
    } else if constexpr (Op::kColumnSums > 0) {
      // Each row slot writes a partial row of column sums, which sum_partials adds up
      // row after row: with few rows to a slot, that outweighs the rows themselves (2048
      // rows of 1024 float32 sums: 8 MB, for 4 MB of bfloat16 input, and a long loop).
      // A slot takes kMinRowsPerSlot rows or more, unless that leaves multiprocessors idle.
      const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
      groups = std::min<int64_t>(
          groups, std::max<int64_t>(ceil_div(row_groups, kMinRowsPerSlot),
                                    std::min<int64_t>(row_groups, sms)));
    }
    config.gridDim = dim3(groups * cluster_size);
    const at::Tensor partial = partial_sums(groups * kRowsPerBlock, /*zeroed=*/false);
    C10_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, op_, t_));
    sum_partials(partial, groups * kRowsPerBlock);
    return true;
  }

  at::Tensor partial_sums(int64_t partial_rows, bool zeroed) {
    if constexpr (Op::kColumnSums == 0) {
      return at::Tensor();
    } else {
      const auto options = options_.dtype(c10::CppTypeToScalarType<acc_t>::value);
      at::Tensor partial = zeroed
          ? at::zeros({partial_rows, Op::kColumnSums, t_.cols}, options)
          : at::empty({partial_rows, Op::kColumnSums, t_.cols}, options);
      t_.column_partial = partial.mutable_data_ptr<acc_t>();
      return partial;
    }
  }

  void sum_partials(const at::Tensor& partial, int64_t partial_rows) {
    if constexpr (Op::kColumnSums > 0) {
      if (t_.cols == 0) return;
      ColumnSumOutputs<scalar_t> outputs;
      for (int i = 0; i < Op::kColumnSums; ++i) {
        outputs.out[i] = column_sums_[i].mutable_data_ptr<scalar_t>();
      }
      const dim3 grid(ceil_div(t_.cols, kSumCols), Op::kColumnSums);
      sum_partials_kernel<scalar_t, acc_t><<<grid, dim3(kSumCols, kSumRows), 0, stream_>>>(
          partial.const_data_ptr<acc_t>(), outputs, partial_rows, Op::kColumnSums, t_.cols);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  }

  Op op_;
  Tensors<scalar_t> t_;
  std::vector<at::Tensor> column_sums_;
  at::TensorOptions options_;
  cudaStream_t stream_;
};

// CUDA as a device for the operators' shared wrappers (csrc/ops/<op>/<op>.h), beside
// CpuRows (csrc/common/rows_cpu.h), running the given version of the ladder.
template <bool kLadder = false>
struct CudaRows {
  int version = kBestVersion;

  // Calls f(scalar_t{}) for the tensor's dtype: float32, bfloat16 or float16.
  template <typename F>
  static void dispatch(const char* op, at::ScalarType dtype, F&& f) {
    switch (dtype) {
      case at::kFloat: return f(float{});
      case at::kBFloat16: return f(c10::BFloat16{});
      case at::kHalf: return f(c10::Half{});
      default:
        TORCH_CHECK(false, op, ": on CUDA, expected float32, bfloat16 or float16, got ",
                    dtype_name(dtype), " (float64 runs on the CPU)");
    }
  }

  template <typename Op>
  void run(const Op& op, const Tensors<typename Op::scalar_t>& t,
           std::vector<at::Tensor> column_sums, const at::TensorOptions& options) const {
    Launcher<Op, kLadder>(op, t, std::move(column_sums), options).run(version);
  }
};

}  // namespace torchlab::rows
