"""The machine's ceilings, measured in the same run as the benchmarks they judge.

- Memory: a large device-to-device copy (on the CPU, a large tensor copy), counted as the
  bytes read plus the bytes written, made both by the driver's memcpy and by an
  elementwise kernel that reads and writes each byte once; the faster of the two is the
  ceiling. No kernel that reads and writes memory can beat it by much; memory-bound
  operators are reported as a percent of it. (On the H200, copying 1 GiB, the memcpy
  moved 2.70 TB/s and the kernel 4.22; copying 4 GiB, both 4.24. Row kernels there read
  and wrote 1 GiB at 4.1 TB/s: the memcpy alone would be no ceiling.)
- Compute: a large matrix product from cuBLAS (on the CPU, from PyTorch's BLAS), in
  bfloat16 and in float32 with TF32 off. Compute-bound operators are reported against the
  product of their dtype (float16 against bfloat16's).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import torch

from torchlab.bench.timing import Timing, time_on

# Sizes: large enough to reach the ceiling, small enough to run in about a second.
COPY_BYTES = {"cuda": 1 << 30, "cpu": 256 << 20}
MATMUL_N = {"cuda": 8192, "cpu": 1024}


@dataclass(frozen=True)
class Ceilings:
    device: str
    copy_gbps: float  # the faster of copy_by's
    copy_spread: float
    copy_by: dict[str, float]  # GB/s by way of copying: "memcpy", "kernel"
    matmul_tflops: dict[str, float]  # by dtype name

    def as_dict(self) -> dict:
        return asdict(self)

    def for_op(self, bound: str, dtype: torch.dtype) -> tuple[str, float]:
        """The ceiling an operator of this bound and dtype is judged against: its name and
        value (GB/s, or TFLOP/s). 16-bit types meet the bfloat16 product where it was
        measured (on the GPU), float32's otherwise."""
        if bound == "memory":
            return "copy", self.copy_gbps
        name = str(dtype).removeprefix("torch.")
        name = "float32" if name == "float32" or "bfloat16" not in self.matmul_tflops else "bfloat16"
        return f"matmul {name}", self.matmul_tflops[name]


def copy_bandwidth(device: str, nbytes: int | None = None,
                   dtype: torch.dtype = torch.float32) -> dict[str, tuple[float, Timing]]:
    """GB/s (bytes read + bytes written) and timing of a copy of nbytes of dtype, by way of
    copying: "memcpy" (copy_ of contiguous tensors of one dtype) and "kernel" (x + 0, an
    elementwise kernel; in float32 its loads and stores are 16 bytes)."""
    nbytes = nbytes or COPY_BYTES[device]
    count = nbytes // dtype.itemsize
    if dtype.is_floating_point:
        src = torch.randn(count, dtype=dtype, device=device)
    else:
        src = torch.empty(count, dtype=dtype, device=device).random_()
    dst = torch.empty_like(src)
    ways = {"memcpy": lambda: dst.copy_(src), "kernel": lambda: torch.add(src, 0, out=dst)}
    by_way = {}
    for way, copy in ways.items():
        timing = time_on(device, copy)
        by_way[way] = (2 * src.nbytes / timing.median_ms / 1e6, timing)
    return by_way


@contextlib.contextmanager
def _no_tf32():
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved


def matmul_tflops(device: str, dtype: torch.dtype, n: int | None = None) -> float:
    """TFLOP/s of an n x n x n product (2 n^3 operations); float32 without TF32."""
    n = n or MATMUL_N[device]
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    with _no_tf32():
        timing = time_on(device, lambda: torch.mm(a, b, out=out))
    return 2 * n**3 / timing.median_ms / 1e9


def measure(device: str) -> Ceilings:
    by_way = copy_bandwidth(device)
    copy_gbps, copy_timing = max(by_way.values(), key=lambda gbps_timing: gbps_timing[0])
    dtypes = [torch.bfloat16, torch.float32] if device == "cuda" else [torch.float32]
    matmul = {str(d).removeprefix("torch."): matmul_tflops(device, d) for d in dtypes}
    if device == "cuda":
        torch.cuda.empty_cache()
    return Ceilings(device, copy_gbps, copy_timing.spread,
                    {way: gbps for way, (gbps, _) in by_way.items()}, matmul)
