"""Which device copy reaches the GPU's memory bandwidth: the driver's memcpy (`copy_` of
contiguous tensors of one dtype) against an elementwise kernel ("add0": x + 0), in three dtypes,
copying 1 GiB and 4 GiB. The ceiling of `torchlab bench` is the faster of the two at 1 GiB
(torchlab/bench/ceilings.py); this is the measurement behind that choice.

    python benchmarks/copy_ways.py
"""

import torch

from torchlab.bench.timing import time_cuda

for gib in (1, 4):
    nbytes = gib << 30
    for dtype in (torch.float32, torch.bfloat16, torch.uint8):
        count = nbytes // dtype.itemsize
        if dtype.is_floating_point:
            src = torch.randn(count, dtype=dtype, device="cuda")
        else:
            src = torch.empty(count, dtype=dtype, device="cuda").random_()
        dst = torch.empty_like(src)
        ways = {"memcpy": lambda: dst.copy_(src), "add0": lambda: torch.add(src, 0, out=dst)}
        for way, copy in ways.items():
            timing = time_cuda(copy)
            print(f"{gib} GiB {str(dtype).removeprefix('torch.'):9s} {way:7s}"
                  f"{2 * nbytes / timing.median_ms / 1e6:6.0f} GB/s  spread {timing.spread:.2f}")
        del src, dst
