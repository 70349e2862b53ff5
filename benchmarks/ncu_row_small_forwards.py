"""The norms' forwards at 2048x1024 (bfloat16, then float32), each launched once inside the
profiler's range: torchlab's kernel, then `torch.compile`'s for the same point (compiled
and warmed before the range). For Nsight Compute (`results/h200/rows/ncu_small_forwards.txt`):

    ncu --clock-control none --profile-from-start off --section LaunchStats \\
        --section Occupancy \\
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \\
        python benchmarks/ncu_row_small_forwards.py
"""

import torch
import torch.nn.functional as F

import torchlab
from torchlab.testing import randn

ROWS, COLS = 2048, 1024


def add_rms_norm_native(x, residual, weight):
    h = x + residual
    return F.rms_norm(h, (COLS,), weight, 1e-6), h


def pairs(x, residual, weight, bias):
    """(torchlab's forward, the native expression and its arguments) for each norm."""
    return [
        (lambda: torchlab.layer_norm(x, (COLS,), weight, bias),
         lambda x, weight, bias: F.layer_norm(x, (COLS,), weight, bias), (x, weight, bias)),
        (lambda: torchlab.rms_norm(x, (COLS,), weight, 1e-6),
         lambda x, weight: F.rms_norm(x, (COLS,), weight, 1e-6), (x, weight)),
        (lambda: torchlab.add_rms_norm(x, residual, weight, 1e-6),
         add_rms_norm_native, (x, residual, weight)),
    ]


work = []
for dtype in (torch.bfloat16, torch.float32):
    x, residual = randn((ROWS, COLS), dtype, "cuda"), randn((ROWS, COLS), dtype, "cuda")
    weight, bias = randn((COLS,), dtype, "cuda"), randn((COLS,), dtype, "cuda")
    for mine, native, args in pairs(x, residual, weight, bias):
        compiled = torch.compile(native, dynamic=False)
        compiled(*args), mine()
        work.append((mine, compiled, args))
torch.cuda.synchronize()
torch.cuda.cudart().cudaProfilerStart()
for mine, compiled, args in work:
    mine(), compiled(*args)
torch.cuda.synchronize()
torch.cuda.cudart().cudaProfilerStop()
