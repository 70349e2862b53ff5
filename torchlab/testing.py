"""Helpers for checking torchlab's operators: fresh random inputs, references in float64,
tolerances by dtype, and outputs poisoned before a kernel runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

# Tolerances by dtype. RTOL: a few roundings of the dtype, after float32 (float64 for
# float64) arithmetic inside the kernel. ATOL: a floor for values near zero, below which
# neither the dtype (float16 goes subnormal under 6e-5) nor a float64 reference computed
# by PyTorch's own formulas is accurate relative to the value.
RTOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.bfloat16: 1e-2, torch.float16: 2e-3}
ATOL = {torch.float64: 1e-12, torch.float32: 1e-6, torch.bfloat16: 1e-5, torch.float16: 1e-5}


def devices() -> list[str]:
    """The devices torchlab's kernels can run on here."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def randn(shape: Sequence[int], dtype: torch.dtype, device: str | torch.device,
          *, scale: float = 1.0, requires_grad: bool = False) -> Tensor:
    """Fresh normal random values (never zeros, which hide unwritten outputs)."""
    t = torch.randn(tuple(shape), dtype=torch.float32, device=device) * scale
    return t.to(dtype).requires_grad_(requires_grad)


def assert_close_to_reference(actual: Tensor, reference: Tensor, dtype: torch.dtype,
                              *, name: str = "output") -> None:
    """Every element of ``actual`` within the dtype's tolerance of ``reference`` (float64).

    An element passes if |actual - ref| <= rtol * (|ref| + rms(ref)) + atol: relative where
    values are large, relative to the tensor's scale where they are near zero (a near-zero
    value computed from larger ones carries their rounding), with the dtype's floor (ATOL).
    NaN passes only where the reference is NaN.
    """
    assert actual.shape == reference.shape, (
        f"{name}: shape {tuple(actual.shape)}, expected {tuple(reference.shape)}")
    assert actual.dtype == dtype, f"{name}: dtype {actual.dtype}, expected {dtype}"
    if reference.numel() == 0:
        return
    got = actual.detach().to(torch.float64)
    ref = reference.detach().to(device=got.device, dtype=torch.float64)
    nan_mismatch = got.isnan() != ref.isnan()
    assert not nan_mismatch.any(), (
        f"{name}: {int(nan_mismatch.sum())} elements are NaN where the reference is not "
        f"(or the other way round), first at {_first_index(nan_mismatch, got.shape)}")
    finite = ~ref.isnan()
    got, ref = got[finite], ref[finite]
    rtol = RTOL[dtype]
    scale = ref.square().mean().sqrt()
    error = (got - ref).abs()
    bad = error > rtol * (ref.abs() + scale) + ATOL[dtype]
    if bad.any():
        worst = int(torch.argmax(error / (ref.abs() + scale)))
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {ref.numel()} elements off by more than "
            f"rtol={rtol:g} of (|ref| + rms {float(scale):.3g}) + atol={ATOL[dtype]:g}; "
            f"worst: got {float(got[worst]):.10g}, expected {float(ref[worst]):.10g}")


def _first_index(mask: Tensor, shape: torch.Size) -> tuple[int, ...]:
    flat = int(mask.reshape(-1).nonzero()[0])
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), shape))


@contextlib.contextmanager
def poisoned_outputs() -> Iterator[None]:
    """Inside, every new tensor from torch.empty (in Python or in C++, on any device) is
    filled with NaN, so an output element a kernel forgot to write cannot pass a check."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill
