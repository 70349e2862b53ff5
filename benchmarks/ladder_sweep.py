"""Times every version of the softmax and RMSNorm ladders at every row length of the
sweep (2^28 elements each), beside eager PyTorch: which version wins where.

    python benchmarks/ladder_sweep.py [--dtype bfloat16 float32] [--versions 3 4 5]
                                      [--lengths 1024 ...] [--out FILE]
"""

import argparse
import json

import torch

import torchlab  # noqa: F401
from torchlab.bench.ceilings import measure
from torchlab.bench.timing import time_on
from torchlab.ops.rms_norm import rms_norm_ladder
from torchlab.ops.softmax import softmax_ladder
from torchlab.testing import randn

LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)
ELEMENTS = 2**28

parser = argparse.ArgumentParser()
parser.add_argument("--dtype", nargs="+", default=["bfloat16", "float32"])
parser.add_argument("--versions", nargs="+", type=int, default=[3, 4, 5])
parser.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS))
parser.add_argument("--out")
args = parser.parse_args()

copy_gbps = measure("cuda").copy_gbps
print(f"copy: {copy_gbps:.0f} GB/s")
results = []
for dtype_name in args.dtype:
    dtype = getattr(torch, dtype_name)
    for n in args.lengths:
        x = randn((ELEMENTS // n, n), dtype, "cuda")
        weight = randn((n,), dtype, "cuda")
        nbytes = 2 * x.numel() * x.element_size()
        runs = {"softmax eager": lambda: torch.softmax(x, -1),
                "rms_norm eager": lambda: torch.nn.functional.rms_norm(x, (n,), weight, 1e-6)}
        for v in args.versions:
            runs[f"softmax v{v}"] = lambda v=v: softmax_ladder(x, -1, version=v)
            runs[f"rms_norm v{v}"] = lambda v=v: rms_norm_ladder(x, (n,), weight, 1e-6, version=v)
        line = []
        for name, fn in runs.items():
            ms = time_on("cuda", fn).median_ms
            pct = 100 * nbytes / (ms / 1e3) / 1e9 / copy_gbps
            results.append({"dtype": dtype_name, "cols": n, "run": name, "ms": ms, "pct_of_copy": pct})
            line.append(f"{name} {pct:5.1f}%")
        print(f"{dtype_name:9s} {n:7d}  " + "  ".join(line), flush=True)
        del x
if args.out:
    with open(args.out, "w") as f:
        json.dump({"copy_gbps": copy_gbps, "results": results}, f, indent=1)
