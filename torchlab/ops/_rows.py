"""What the row operators' Python modules share (softmax, log_softmax, layer_norm, rms_norm,
add_rms_norm): the row statistics' dtype, double backward through the native expression,
and the benchmark sweeps over row lengths."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from torchlab.bench import spec as bench_spec
from torchlab.testing import randn

# The sweep: row lengths, and rows enough for 2^29 elements (1 GiB of bfloat16).
ROW_LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536)
SWEEP_ELEMENTS = 2**29
# Where launch cost shows: a small shape every op must run no slower than eager.
SMALL_SHAPE = (2048, 1024)
# The CUDA ladder's versions (csrc/common/rows/v1_... to v5_...).
LADDER_VERSIONS = (1, 2, 3, 4, 5)


def stats_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of mean and rstd: what the kernels compute in (float32 for 16-bit x)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def sweep_cases(shapes: str, device: str, lengths: Sequence[int] = ROW_LENGTHS,
                params: dict | None = None) -> list[bench_spec.Case]:
    """GPU: the small shape, then one case a row length (quick: 4096 and 32768 alone).
    CPU: two small ones."""
    params = params or {}
    if device == "cpu":
        sizes = [(256, 1024), (64, 4096)]
    elif shapes == "quick":
        sizes = [SMALL_SHAPE] + [(SWEEP_ELEMENTS // n, n) for n in (4096, 32768)]
    else:
        sizes = [SMALL_SHAPE] + [(SWEEP_ELEMENTS // n, n) for n in lengths]
    return [bench_spec.Case(s, dict(params)) for s in sizes]


def ladder_cases(shapes: str, device: str) -> list[bench_spec.Case]:
    """The ladder's sweep: a row a thread (version 1) is slow, so 2^26 elements a case."""
    lengths = (4096,) if shapes == "quick" else (1024, 4096, 32768)
    return [bench_spec.Case((SWEEP_ELEMENTS // 8 // n, n)) for n in lengths]


def random_rows(case: bench_spec.Case, dtype: torch.dtype, device: str, *,
                names: Sequence[str] = ("x",), parameters: Sequence[str] = ()) -> dict[str, Tensor]:
    """Random [rows, cols] inputs by name, and [cols] parameters (around 1, as trained
    weights are)."""
    inputs = {name: randn(case.shape, dtype, device) for name in names}
    for name in parameters:
        inputs[name] = (1 + 0.1 * randn(case.shape[-1:], torch.float32, device)).to(dtype)
    return inputs


def native_backward(reference: Callable[..., Tensor | tuple[Tensor, ...]],
                    inputs: Sequence[Tensor | None], needs_grad: Sequence[bool],
                    grad_outputs: Sequence[Tensor | None]) -> list[Tensor | None]:
    """The gradients of ``reference(*inputs)``, differentiable again: the backward the row
    operators take when autograd records it (``create_graph=True``, double backward),
    where the fused backward kernel, which has no derivative of its own, cannot serve.
    ``inputs`` are the forward's saved tensors, still attached to the caller's graph."""
    wrt = [t for t, needed in zip(inputs, needs_grad) if needed and t is not None]
    outputs = reference(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    used = [(o, g) for o, g in zip(outputs, grad_outputs) if g is not None]
    grads = iter(torch.autograd.grad([o for o, _ in used], wrt, [g for _, g in used],
                                     create_graph=True, allow_unused=True))
    return [next(grads) if needed and t is not None else None
            for t, needed in zip(inputs, needs_grad)]
