"""Times bias_gelu on the GPU against native PyTorch (eager and torch.compile), beside the
device-copy ceiling measured in the same run. Writes JSON and Markdown to --out.

    python benchmarks/bias_gelu.py --out benchmarks/results/local

Bytes moved, the minimum each mode must move: forward reads x and bias and writes the
output; backward reads x and grad_out and writes grad_x (bias and grad_bias, one row each,
are left out). GB/s is those bytes over the median time.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

import torchlab
from torchlab.bench.timing import copy_bandwidth, gpu_environment, time_cuda
from torchlab.testing import assert_close_to_reference

SHAPE = (32768, 8192)
CONFIGS = [  # (dtype, approximate)
    (torch.bfloat16, "none"), (torch.float32, "none"), (torch.float16, "none"),
    (torch.bfloat16, "tanh"),
]


def native(approximate):
    def bias_gelu(x, bias):
        return F.gelu(x + bias, approximate=approximate)
    return bias_gelu


def compiled(approximate):
    torch._dynamo.reset()  # a fresh cache: no recompile limit can turn this back into eager
    return torch.compile(native(approximate), fullgraph=True)


def forward_providers(x, bias, approximate):
    compile_fn = compiled(approximate)
    start = time.perf_counter()
    compile_fn(x, bias)
    torch.cuda.synchronize()
    compile_s = time.perf_counter() - start
    return {
        "torchlab": (lambda: torchlab.bias_gelu(x, bias, approximate=approximate), None),
        "eager": (lambda: native(approximate)(x, bias), None),
        "compile": (lambda: compile_fn(x, bias), compile_s),
    }


def backward_providers(grad_out, x, bias, approximate):
    providers = {"torchlab": (lambda: torch.ops.torchlab.bias_gelu_backward(
        grad_out, x, bias, approximate=approximate), None)}
    for name, fn in (("eager", native(approximate)), ("compile", compiled(approximate))):
        xr, br = x.detach().requires_grad_(), bias.detach().requires_grad_()
        start = time.perf_counter()
        out = fn(xr, br)
        torch.autograd.grad(out, (xr, br), grad_out, retain_graph=True)
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - start if name == "compile" else None
        providers[name] = (lambda out=out, xr=xr, br=br: torch.autograd.grad(
            out, (xr, br), grad_out, retain_graph=True), compile_s)
    return providers


def reference(mode, grad_out, x, bias, approximate):
    x64 = x.double().requires_grad_()
    b64 = bias.double().requires_grad_()
    out = F.gelu(x64 + b64, approximate=approximate)
    if mode == "fwd":
        return (out.detach(),)
    return torch.autograd.grad(out, (x64, b64), grad_out.double())


def run(out_dir: str) -> None:
    env = gpu_environment()
    copy_gbps, copy_timing = copy_bandwidth()
    print(f"{env['gpu']}: device copy {copy_gbps:.0f} GB/s "
          f"(median of {copy_timing.reps}, spread {copy_timing.spread:.1%})")
    records = []
    rows, cols = SHAPE
    for dtype, approximate in CONFIGS:
        x = torch.randn(SHAPE, device="cuda", dtype=dtype)
        bias = torch.randn(cols, device="cuda", dtype=dtype)
        grad_out = torch.randn(SHAPE, device="cuda", dtype=dtype)
        elt = x.element_size()
        for mode in ("fwd", "bwd"):
            if mode == "fwd":
                providers = forward_providers(x, bias, approximate)
                nbytes = 2 * x.numel() * elt + cols * elt
            else:
                providers = backward_providers(grad_out, x, bias, approximate)
                nbytes = 3 * x.numel() * elt
            expected = reference(mode, grad_out, x, bias, approximate)
            for provider, (fn, compile_s) in providers.items():
                result = fn()
                result = result if isinstance(result, tuple) else (result,)
                record = {"op": "bias_gelu", "provider": provider, "mode": mode,
                          "dtype": str(dtype).removeprefix("torch."), "approximate": approximate,
                          "shape": list(SHAPE), "bytes": nbytes, "compile_s": compile_s}
                try:
                    for got, ref in zip(result, expected):
                        assert_close_to_reference(got, ref, dtype)
                except AssertionError as error:
                    record["error"] = f"wrong result, not timed: {error}"
                    records.append(record)
                    print(f"{provider} {mode} {dtype}: {record['error']}")
                    continue
                del result
                timing = time_cuda(fn)
                gbps = nbytes / timing.median_ms / 1e6
                record.update(median_ms=timing.median_ms, min_ms=timing.min_ms,
                              max_ms=timing.max_ms, reps=timing.reps, gbps=gbps,
                              pct_of_copy=100 * gbps / copy_gbps)
                records.append(record)
            del expected
        del x, bias, grad_out
        torch.cuda.empty_cache()
    for r in records:
        base = {p["provider"]: p for p in records if p["mode"] == r["mode"]
                and p["dtype"] == r["dtype"] and p["approximate"] == r["approximate"]}
        for other in ("eager", "compile"):
            if "median_ms" in r and "median_ms" in base.get(other, {}):
                r[f"speedup_vs_{other}"] = base[other]["median_ms"] / r["median_ms"]
    env_after = gpu_environment()
    result = {"environment": env, "environment_after": env_after,
              "ceilings": {"copy_gbps": copy_gbps, "copy_spread": copy_timing.spread},
              "records": records}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bias_gelu.json"), "w") as f:
        json.dump(result, f, indent=1)
    table = markdown(result)
    with open(os.path.join(out_dir, "bias_gelu.md"), "w") as f:
        f.write(table)
    print(table)


def markdown(result) -> str:
    env, copy = result["environment"], result["ceilings"]["copy_gbps"]
    lines = [
        f"# bias_gelu on {env['gpu']}, {SHAPE[0]}x{SHAPE[1]}",
        "",
        f"torch {env['torch']}, CUDA {env['cuda']}, driver {env.get('driver', '?')}; "
        f"SM clock {env.get('sm_clock_mhz', '?')} MHz at the start. Device copy "
        f"{copy:.0f} GB/s (read + write), measured in the same run"
        + (f"; theoretical peak {env['peak_bandwidth_gbps']:.0f} GB/s." if "peak_bandwidth_gbps" in env else "."),
        "",
        "| mode | dtype | approximate | provider | median ms | GB/s | % of copy | vs eager | vs compile |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["records"]:
        if "error" in r:
            lines.append(f"| {r['mode']} | {r['dtype']} | {r['approximate']} | {r['provider']} "
                         f"| wrong result | | | | |")
            continue
        lines.append(
            f"| {r['mode']} | {r['dtype']} | {r['approximate']} | {r['provider']} "
            f"| {r['median_ms']:.3f} | {r['gbps']:.0f} | {r['pct_of_copy']:.1f}% "
            f"| {r.get('speedup_vs_eager', float('nan')):.2f}x "
            f"| {r.get('speedup_vs_compile', float('nan')):.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/results/local")
    run(parser.parse_args().out)
