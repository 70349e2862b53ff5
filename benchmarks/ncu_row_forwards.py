"""The bfloat16 row forwards furthest from the copy on the H200, each launched once inside
the profiler's range: torchlab's kernel, then `torch.compile`'s for the same point
(compiled and warmed before the range). For Nsight Compute:

    ncu --clock-control none --profile-from-start off --section SpeedOfLight \\
        --section Occupancy --section LaunchStats --section WarpStateStats \\
        --section MemoryWorkloadAnalysis python benchmarks/ncu_row_forwards.py
"""

import torch

import torchlab
from torchlab.testing import randn

POINTS = [("layer_norm", 65536, 8192), ("layer_norm", 8192, 65536), ("layer_norm", 131072, 4096),
          ("rms_norm", 8192, 65536), ("softmax", 2048, 262144), ("softmax", 8192, 65536)]


def torchlab_and_native(op, n):
    weight, bias = randn((n,), torch.bfloat16, "cuda"), randn((n,), torch.bfloat16, "cuda")
    if op == "layer_norm":
        return (lambda x: torchlab.layer_norm(x, (n,), weight, bias),
                lambda x: torch.nn.functional.layer_norm(x, (n,), weight, bias))
    if op == "rms_norm":
        return (lambda x: torchlab.rms_norm(x, (n,), weight, 1e-6),
                lambda x: torch.nn.functional.rms_norm(x, (n,), weight, 1e-6))
    return lambda x: torchlab.softmax(x, -1), lambda x: torch.softmax(x, -1)


work = []
for op, rows, n in POINTS:
    x = randn((rows, n), torch.bfloat16, "cuda")
    mine, native = torchlab_and_native(op, n)
    compiled = torch.compile(native, dynamic=False)
    compiled(x), mine(x)
    work.append((x, mine, compiled))
torch.cuda.synchronize()
torch.cuda.cudart().cudaProfilerStart()
for x, mine, compiled in work:
    mine(x), compiled(x)
torch.cuda.synchronize()
torch.cuda.cudart().cudaProfilerStop()
