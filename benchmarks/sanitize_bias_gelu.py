"""Runs every bias_gelu kernel once on small odd shapes, for compute-sanitizer:

    compute-sanitizer --tool memcheck --error-exitcode 1 python benchmarks/sanitize_bias_gelu.py
"""

import torch

import torchlab

for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.float64):
    for approximate in ("none", "tanh"):
        for shape in ((1, 1), (3, 7), (33, 64), (5, 8192 + 8), (1000, 24), (7, 13, 40)):
            x = torch.randn(shape, device="cuda", dtype=dtype)
            bias = torch.randn(shape[-1], device="cuda", dtype=dtype)
            torchlab.bias_gelu(x, bias, approximate=approximate)
            torch.ops.torchlab.bias_gelu_backward(x, x, bias, approximate=approximate)
            # contiguous, but one element past a 16-byte boundary: the one-element path
            shifted = torch.randn(x.numel() + 1, device="cuda", dtype=dtype)[1:].view(shape)
            torchlab.bias_gelu(shifted, bias, approximate=approximate)
            torch.ops.torchlab.bias_gelu_backward(shifted, shifted, bias, approximate=approximate)
torch.cuda.synchronize()
print("sanitizer run: all kernels launched")
