"""LayerNorm's forward and backward at 8192x65536, bfloat16 then float32, once each, for
Nsight Compute (results/h200/rows/ncu_layer_norm_backward.txt):

    ncu --clock-control none --kernel-name regex:staged_kernel --section SpeedOfLight \
        --section WarpStateStats --section MemoryWorkloadAnalysis --section Occupancy \
        --section LaunchStats python benchmarks/ncu_layer_norm_backward.py
"""

import torch

from torchlab.testing import randn

ROWS, COLS = 8192, 65536

for dtype in (torch.bfloat16, torch.float32):
    x, grad = randn((ROWS, COLS), dtype, "cuda"), randn((ROWS, COLS), dtype, "cuda")
    weight, bias = randn((COLS,), dtype, "cuda"), randn((COLS,), dtype, "cuda")
    _, mean, rstd = torch.ops.torchlab.layer_norm(x, [COLS], weight, bias, 1e-5)
    torch.ops.torchlab.layer_norm_backward(grad, x, mean, rstd, [COLS], weight)
    torch.cuda.synchronize()
