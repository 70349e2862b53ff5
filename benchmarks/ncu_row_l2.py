"""The L2 traffic of the row kernels on the H200: softmax's bfloat16 forward split over a
cluster (rows of 65536) beside a block a row (32768), then softmax's float32 rows of
65536 and bfloat16 rows of 262144, and RMSNorm's streamed forward (bfloat16, 65536); each
launched once inside the profiler's range. For Nsight Compute:

    ncu --clock-control none --profile-from-start off --metrics \\
        dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sectors_op_read.sum,\\
    lts__t_sectors_op_write.sum,lts__t_sectors_op_read_lookup_hit.sum,\\
    lts__t_sectors_op_write_lookup_hit.sum,lts__t_sectors_srcunit_tex_op_read.sum,\\
    lts__t_sectors_srcunit_tex_op_write.sum,lts__t_sectors_srcunit_ltcfabric.sum,\\
    lts__t_sectors.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,\\
    gpu__time_duration.sum,sm__sass_inst_executed_op_global_st.sum,\\
    sm__sass_inst_executed_op_ldgsts.sum python benchmarks/ncu_row_l2.py
"""

import torch

import torchlab
from torchlab.testing import randn


def softmax(rows, n, dtype):
    x = randn((rows, n), dtype, "cuda")
    return lambda: torchlab.softmax(x, -1)


def rms_norm(rows, n, dtype):
    x, weight = randn((rows, n), dtype, "cuda"), randn((n,), dtype, "cuda")
    return lambda: torchlab.rms_norm(x, (n,), weight, 1e-6)


work = [softmax(8192, 65536, torch.bfloat16), softmax(16384, 32768, torch.bfloat16),
        softmax(8192, 65536, torch.float32),
        softmax(2048, 262144, torch.bfloat16), rms_norm(8192, 65536, torch.bfloat16)]
for launch in work:
    launch()
torch.cuda.synchronize()
torch.cuda.cudart().cudaProfilerStart()
for launch in work:
    launch()
torch.cuda.synchronize()
torch.cuda.cudart().cudaProfilerStop()
