"""Forwards at 2048x1024 (LayerNorm, add_rms_norm and RMSNorm in bfloat16, LayerNorm in
float32), torchlab's and torch.compile's: the bench's figure (`time_cuda`, which times
these as CUDA graph replays, the L2 flushed by a write before each) beside the kernels' own
durations inside the same kind of replays (flush, replay, 200 times, recorded by the
profiler), so that the kernel and what surrounds it can be told apart. Nsight Compute
(`ncu_row_forwards.py small`) times each kernel alone, from clean caches; these run as the
bench runs them, after the flush's writes. Into a JSON file:

    python benchmarks/row_small_kernel_times.py OUT.json
"""

import json
import statistics
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from ncu_row_forwards import torchlab_and_native
from torchlab.bench.timing import _capture, _l2_flush_buffer, time_cuda
from torchlab.testing import randn

ROWS, COLS = 2048, 1024
POINTS = [("layer_norm", torch.bfloat16), ("add_rms_norm", torch.bfloat16),
          ("rms_norm", torch.bfloat16), ("layer_norm", torch.float32)]
REPLAYS = 200


def torchlab_and_compiled(op, dtype):
    x = randn((ROWS, COLS), dtype, "cuda")
    mine, native = torchlab_and_native(op, ROWS, COLS, dtype)
    compiled = torch.compile(native, dynamic=False)
    return lambda: mine(x), lambda: compiled(x)


def gpu_events(work):
    """The profiler's records of the GPU work that work() queues."""
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        work()
        torch.cuda.synchronize()
    return [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]


def kernel_times_us(fn, flush, flush_kernels):
    """Median device time of each kernel of fn's graph over REPLAYS replays, each after the
    flush (whose kernels, flush_kernels, are left out), with the number of records."""
    graph = _capture(fn)
    assert graph is not None, "the forward could not be captured as a CUDA graph"

    def replays():
        for _ in range(REPLAYS):
            flush.zero_()
            graph.replay()

    times = {}
    for event in gpu_events(replays):
        if event.name not in flush_kernels:
            times.setdefault(event.name, []).append(event.device_time)
    return {name: [statistics.median(t), len(t)] for name, t in times.items()}


def main(out):
    flush = _l2_flush_buffer()
    flush_kernels = {e.name for e in gpu_events(flush.zero_)}
    results = []
    for op, dtype in POINTS:
        point = {"op": op, "dtype": str(dtype).removeprefix("torch."), "shape": [ROWS, COLS]}
        for provider, fn in zip(("torchlab", "compile"), torchlab_and_compiled(op, dtype)):
            timing = time_cuda(fn)
            point[provider] = {"bench_us": timing.median_ms * 1e3, "method": timing.method,
                               "kernels_us": kernel_times_us(fn, flush, flush_kernels)}
        print(json.dumps(point))
        results.append(point)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
