"""Row forwards on the H200, each launched once inside the profiler's range: torchlab's
kernel, then `torch.compile`'s for the same point (compiled and warmed before the range).
By default the bfloat16 forwards furthest from the copy; with `small`, the norms'
forwards at 2048x1024, bfloat16 then float32. For Nsight Compute:

    ncu --clock-control none --profile-from-start off --section SpeedOfLight \\
        --section Occupancy --section LaunchStats --section WarpStateStats \\
        --section MemoryWorkloadAnalysis python benchmarks/ncu_row_forwards.py

    ncu --clock-control none --profile-from-start off --section LaunchStats \\
        --section Occupancy \\
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \\
        python benchmarks/ncu_row_forwards.py small

    ncu --clock-control none --profile-from-start off --kernel-name regex:staged_kernel \\
        --section SpeedOfLight --section WarpStateStats --section SourceCounters \\
        --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\\.ratio" \\
        python benchmarks/ncu_row_forwards.py      # results/h200/rows/ncu_stalls_far.txt
"""

import sys

import torch
import torch.nn.functional as F

import torchlab
from torchlab.testing import randn

BF16, FP32 = torch.bfloat16, torch.float32
POINTS = {
    "far": [("layer_norm", 65536, 8192, BF16), ("layer_norm", 8192, 65536, BF16),
            ("layer_norm", 131072, 4096, BF16), ("rms_norm", 8192, 65536, BF16),
            ("softmax", 2048, 262144, BF16), ("softmax", 8192, 65536, BF16)],
    "small": [(op, 2048, 1024, dtype) for dtype in (BF16, FP32)
              for op in ("layer_norm", "rms_norm", "add_rms_norm")],
}


def torchlab_and_native(op, rows, n, dtype):
    """torchlab's forward of `op` and the native expression, each a function of x (rows x n),
    with weights (and add_rms_norm's residual) made here."""
    weight, bias = randn((n,), dtype, "cuda"), randn((n,), dtype, "cuda")
    if op == "layer_norm":
        return (lambda x: torchlab.layer_norm(x, (n,), weight, bias),
                lambda x: F.layer_norm(x, (n,), weight, bias))
    if op == "rms_norm":
        return (lambda x: torchlab.rms_norm(x, (n,), weight, 1e-6),
                lambda x: F.rms_norm(x, (n,), weight, 1e-6))
    if op == "add_rms_norm":
        residual = randn((rows, n), dtype, "cuda")

        def native(x):
            h = x + residual
            return F.rms_norm(h, (n,), weight, 1e-6), h

        return lambda x: torchlab.add_rms_norm(x, residual, weight, 1e-6), native
    return lambda x: torchlab.softmax(x, -1), lambda x: torch.softmax(x, -1)


def main(point_set="far"):
    work = []
    for op, rows, n, dtype in POINTS[point_set]:
        x = randn((rows, n), dtype, "cuda")
        mine, native = torchlab_and_native(op, rows, n, dtype)
        compiled = torch.compile(native, dynamic=False)
        compiled(x), mine(x)
        work.append((x, mine, compiled))
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStart()
    for x, mine, compiled in work:
        mine(x), compiled(x)
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStop()


if __name__ == "__main__":
    main(*sys.argv[1:])
