"""The machine's ceilings, measured in the same run as the benchmarks they judge.

- Memory: a large device-to-device copy (on the CPU, a large tensor copy), counted as the
  bytes read plus the bytes written. No kernel that reads and writes memory can beat it by
  much; memory-bound operators are reported as a percent of it.
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
    copy_gbps: float
    copy_spread: float
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


def copy_bandwidth(device: str, nbytes: int | None = None) -> tuple[float, Timing]:
    """The copy ceiling in GB/s (bytes read + bytes written)."""
    nbytes = nbytes or COPY_BYTES[device]
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    timing = time_on(device, lambda: dst.copy_(src))
    return 2 * nbytes / timing.median_ms / 1e6, timing


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
    copy_gbps, copy_timing = copy_bandwidth(device)
    dtypes = [torch.bfloat16, torch.float32] if device == "cuda" else [torch.float32]
    matmul = {str(d).removeprefix("torch."): matmul_tflops(device, d) for d in dtypes}
    if device == "cuda":
        torch.cuda.empty_cache()
    return Ceilings(device, copy_gbps, copy_timing.spread, matmul)
