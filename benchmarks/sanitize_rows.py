"""Runs every row operator's kernels (softmax, log_softmax, layer_norm, rms_norm,
add_rms_norm, forward and backward, which run versions 5 and 6, and versions 1 to 4 of
the two ladders) once on shapes that take every launch configuration, for
compute-sanitizer:

    compute-sanitizer --tool memcheck --error-exitcode 1 python benchmarks/sanitize_rows.py
"""

import torch

import torchlab
from torchlab.ops.rms_norm import rms_norm_ladder
from torchlab.ops.softmax import softmax_ladder

# A warp a row, 64 to 512 threads a row, clusters of 2 to 8, version 6's streamed rows
# (32768 to 65536 2-byte elements), version 3's fallback (odd lengths, and rows longer than
# a cluster holds), ragged row counts, and rows that fill their blocks' chunks exactly (the
# kernels that check no chunk) in blocks of 2 or 4 rows whose last rows lie past the end.
SHAPES = ((1, 1), (5, 13), (6, 512), (5, 1024), (3, 2048), (7, 1000), (3, 2000), (3, 4099),
          (5, 4096), (3, 16384), (2, 32768), (3, 45000), (2, 65536), (1, 131072), (1, 262144))

for dtype in (torch.float32, torch.bfloat16, torch.float16):
    for shape in SHAPES:
        def r(*s):
            return torch.randn(s, device="cuda", dtype=dtype, requires_grad=True)
        x, residual, weight, bias = r(*shape), r(*shape), r(shape[-1]), r(shape[-1])
        outputs = [torchlab.softmax(x), torchlab.log_softmax(x),
                   torchlab.layer_norm(x, shape[-1:], weight, bias),
                   torchlab.rms_norm(x, shape[-1:], weight), *torchlab.add_rms_norm(x, residual, weight)]
        torch.autograd.grad(outputs, [x, residual, weight, bias],
                            [torch.ones_like(o) for o in outputs])
        for version in (1, 2, 3, 4):
            if version == 1 and shape[-1] > 16384:
                continue  # a thread per row: correct, but minutes under the sanitizer
            softmax_ladder(x.detach(), version=version)
            rms_norm_ladder(x.detach(), shape[-1:], weight.detach(), version=version)
torch.cuda.synchronize()
print("sanitizer run: all kernels launched")
