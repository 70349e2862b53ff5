"""The row operators' forwards (and softmax's backward kernel) at chosen points, timed as
`torchlab bench` times them (`time_cuda`: the L2 flushed before each repetition, medians,
graph replays where the CPU is the bound), with the copy bandwidth, into a JSON file: run
once per build, a build in each checkout (or once per setting of a build switched at run
time), to set changes side by side (`results/h200/rows/side_by_side/held_short_rows_*.json`,
`column_prefetch_*.json` and `weights_none_layer_norm_fwd.json` merge such runs).

    python benchmarks/row_forward_points.py {small,small_1024,big,long,mid,softmax,
                                             layer_norm_weights,rms_256_threads,
                                             warp_rows_small,warp_rows_big,once_32768,
                                             long_two_rounds} OUT.json
"""

import json
import sys

import torch

import torchlab
from torchlab.bench.ceilings import copy_bandwidth
from torchlab.bench.timing import time_cuda
from torchlab.testing import randn

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
# layer_norm, rms_norm, add_rms_norm; forward() takes "softmax" and "softmax_bwd" too
NORMS = ("ln", "rms", "arms")
POINT_SETS = {
    "small": [(op, 2048, 1024, d, True) for op in NORMS for d in DTYPES]
             + [(op, 2048, 2048, d, True) for op in ("ln", "rms") for d in DTYPES],
    "small_1024": [(op, 2048, 1024, d, True) for op in NORMS for d in DTYPES],
    "big": [(op, rows, cols, d, True) for op in NORMS
            for rows, cols, d in ((524288, 1024, "bf16"), (262144, 1024, "fp32"),
                                  (131072, 2048, "fp32"), (262144, 2048, "bf16"))],
    "long": [(op, 2**29 // n, n, d, True) for op in NORMS for d in DTYPES
             for n in (1024, 4096, 16384, 32768, 65536)],
    "mid": [(op, 2**29 // n, n, d, True) for op in NORMS for d in DTYPES for n in (2048, 8192)],
    "softmax": [("softmax", 2**29 // n, n, d, True) for d in DTYPES
                for n in (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)],
    "layer_norm_weights": [("ln", rows, cols, d, weights)
                           for rows, cols, d in ((32768, 16384, "bf16"), (16384, 32768, "bf16"),
                                                 (8192, 65536, "bf16"), (8192, 32768, "fp32"),
                                                 (4096, 65536, "fp32"), (16384, 16384, "fp32"))
                           for weights in (True, False)],
    "rms_256_threads": [("rms", rows, cols, "bf16", True)
                        for rows, cols in ((131072, 4096), (65536, 8192), (98304, 5120),
                                           (32768, 16384), (2048, 8192))],
    # Rows of a warp (four a block), short and long grids.
    "warp_rows_small": [(op, 2048, 1024, "bf16", True) for op in ("ln", "rms", "arms", "softmax")],
    "warp_rows_big": [(op, 524288, 1024, "bf16", True) for op in ("ln", "rms", "arms")]
                     + [(op, 1048576, 512, "fp32", True) for op in ("ln", "rms")]
                     + [("softmax", 524288, 1024, "bf16", True)],
    # The operators that reduce once at float32 rows version 5 splits over a cluster of two
    # (to set version 6 beside it), and at bfloat16 rows of one block, as a control.
    "once_32768": [(op, 16384, 32768, "fp32", True) for op in ("rms", "arms", "softmax_bwd")]
                  + [(op, 16384, 32768, "bf16", True) for op in ("softmax_bwd", "rms")],
    # The operators that reduce twice, at the rows version 5 splits over 512-thread blocks.
    "long_two_rounds": [(op, 2**29 // n, n, d, True) for op in ("ln", "softmax")
                        for d in DTYPES for n in (16384, 32768, 65536, 131072, 262144)
                        if op == "softmax" or n <= 65536],
}


def forward(op, rows, cols, dtype, weights):
    """The forward of `op` on fresh inputs, and the bytes its rows move (in and out; the
    weight and bias, read once, are left out). "softmax_bwd": softmax's backward kernel
    alone (the gradient and y in, the input's gradient out)."""
    x = randn((rows, cols), dtype, "cuda")
    if op == "softmax_bwd":
        y, grad = torchlab.softmax(x, -1), randn((rows, cols), dtype, "cuda")
        return lambda: torch.ops.torchlab.softmax_backward(grad, y, -1), 3 * x.nbytes
    weight = randn((cols,), dtype, "cuda") if weights else None
    bias = randn((cols,), dtype, "cuda") if weights else None
    nbytes = 2 * x.nbytes
    if op == "softmax":
        return lambda: torchlab.softmax(x, -1), nbytes
    if op == "ln":
        return lambda: torchlab.layer_norm(x, (cols,), weight, bias), nbytes
    if op == "rms":
        return lambda: torchlab.rms_norm(x, (cols,), weight), nbytes
    residual = randn((rows, cols), dtype, "cuda")
    return lambda: torchlab.add_rms_norm(x, residual, weight, 1e-6), 2 * nbytes


def main(point_set, out):
    copy_gbps = max(gbps for gbps, _ in copy_bandwidth("cuda").values())
    points = []
    for op, rows, cols, dtype, weights in POINT_SETS[point_set]:
        run, nbytes = forward(op, rows, cols, DTYPES[dtype], weights)
        timing = time_cuda(run)
        points.append({"op": op, "rows": rows, "cols": cols, "dtype": dtype, "weights": weights,
                       "us": timing.median_ms * 1e3, "method": timing.method, "bytes": nbytes})
        print(f"{op} {dtype} {rows}x{cols} weights={weights}: {timing.median_ms * 1e3:.1f} us, "
              f"{nbytes / timing.median_ms / 1e6 / copy_gbps:.1%} of the copy")
        del run
        torch.cuda.empty_cache()
    with open(out, "w") as f:
        json.dump({"copy_GBps": copy_gbps, "points": points}, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
