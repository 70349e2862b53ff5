"""Which device copy reaches the GPU's memory bandwidth: the driver's memcpy (`copy_` of
contiguous tensors of one dtype) against an elementwise kernel (x + 0), the two ways of the
ceiling's `copy_bandwidth`, in three dtypes, copying 1 GiB and 4 GiB. The ceiling of
`torchlab bench` is the faster of the two in float32 at 1 GiB (torchlab/bench/ceilings.py);
this is the measurement behind that choice. (`results/h200/copy_ways.txt` was printed
before the script called `copy_bandwidth`, and names the kernel "add0".)

    python benchmarks/copy_ways.py
"""

import torch

from torchlab.bench.ceilings import copy_bandwidth

for gib in (1, 4):
    for dtype in (torch.float32, torch.bfloat16, torch.uint8):
        for way, (gbps, timing) in copy_bandwidth("cuda", gib << 30, dtype).items():
            print(f"{gib} GiB {str(dtype).removeprefix('torch.'):9s} {way:7s}"
                  f"{gbps:6.0f} GB/s  spread {timing.spread:.2f}")
        torch.cuda.empty_cache()
