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
# The CUDA ladder's versions (csrc/common/rows/v1_... to v6_...).
LADDER_VERSIONS = (1, 2, 3, 4, 5, 6)


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
    lengths = (4096,) if shapes == "quick" else (1024, 4096, 32768, 65536)
    return [bench_spec.Case((SWEEP_ELEMENTS // 8 // n, n)) for n in lengths]


def ladder_spec(op: str, make_inputs: Callable, native: Callable,
                run_version: Callable[[dict[str, Tensor], int], Tensor],
                bytes_moved: Callable) -> bench_spec.BenchSpec:
    """The benchmark of a CUDA ladder ``op``: each version (``run_version(inputs, v)``) on
    the ladder's sweep, forward only, beside the native expression."""
    return bench_spec.BenchSpec(
        op=op,
        cases=ladder_cases,
        make_inputs=make_inputs,
        differentiable=(),
        native=native,
        versions={f"v{v}": (lambda inputs, params, v=v: run_version(inputs, v))
                  for v in LADDER_VERSIONS},
        bytes_moved=bytes_moved,
        devices=("cuda",),  # the ladder is CUDA's
    )


def random_rows(case: bench_spec.Case, dtype: torch.dtype, device: str, *,
                names: Sequence[str] = ("x",), parameters: Sequence[str] = ()) -> dict[str, Tensor]:
    """Random [rows, cols] inputs by name, and [cols] parameters (around 1, as trained
    weights are)."""
    inputs = {name: randn(case.shape, dtype, device) for name in names}
    for name in parameters:
        inputs[name] = (1 + 0.1 * randn(case.shape[-1:], torch.float32, device)).to(dtype)
    return inputs


def broadcast_row_stat(stat: Tensor, normalized_shape: Sequence[int]) -> Tensor:
    """A row statistic (mean, rstd: one value a row) shaped to broadcast against its rows."""
    return stat.reshape(*stat.shape, *[1] * len(normalized_shape))


def needs_input_grad(ctx, count: int) -> tuple[bool, ...]:
    """``ctx.needs_input_grad`` for an operator of ``count`` arguments. The dispatcher drops
    trailing arguments passed at their default (``layer_norm(x, shape, weight, None,
    1e-5)`` arrives as three), so the tuple can be shorter; those need no gradient."""
    return ctx.needs_input_grad + (False,) * (count - len(ctx.needs_input_grad))


def native_backward(reference: Callable[..., Tensor | tuple[Tensor, ...]],
                    inputs: Sequence[object], needs_grad: Sequence[bool],
                    grad_outputs: Sequence[Tensor | None], *,
                    create_graph: bool = True) -> list[Tensor | None]:
    """The gradients of ``reference(*inputs)`` for the inputs that need them (None for the
    others and for non-tensor inputs), differentiable again where ``create_graph``. Used:
    - by the row operators when autograd records their backward (``create_graph=True``,
      double backward), where the fused backward kernel, which has no derivative of its own,
      cannot serve; ``inputs`` are the forward's saved tensors, still attached to the
      caller's graph;
    - as the derivative of the fused backward operators themselves
      (``register_backward_autograd``)."""
    wrt = [t for t, needed in zip(inputs, needs_grad) if needed and t is not None]
    with torch.enable_grad():
        outputs = reference(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    used = [(o, g) for o, g in zip(outputs, grad_outputs) if g is not None and o.requires_grad]
    grads = iter(torch.autograd.grad([o for o, _ in used], wrt, [g for _, g in used],
                                     create_graph=create_graph, allow_unused=True)
                 if used else [None] * len(wrt))
    return [next(grads) if needed and t is not None else None
            for t, needed in zip(inputs, needs_grad)]


def register_backward_autograd(op: str, reference: Callable[..., tuple[Tensor, ...]]) -> None:
    """Autograd for a fused backward operator ``op`` (``torchlab::layer_norm_backward``...):
    the derivative of ``reference``, the operator's computation in native torch ops, at the
    operator's inputs. It serves whoever differentiates the backward operator itself (a
    direct call, ``torch.library.opcheck``); the forward operators' double backward takes
    ``native_backward`` of the whole forward instead, which also follows the row statistics
    back to x."""
    def setup_context(ctx, inputs, output) -> None:
        ctx.is_tensor = [isinstance(a, Tensor) for a in inputs]
        ctx.save_for_backward(*(a for a in inputs if isinstance(a, Tensor)))
        ctx.non_tensors = [None if isinstance(a, Tensor) else a for a in inputs]

    def backward(ctx, *grad_outputs):
        saved = iter(ctx.saved_tensors)
        inputs = [next(saved) if is_tensor else a
                  for is_tensor, a in zip(ctx.is_tensor, ctx.non_tensors)]
        return tuple(native_backward(reference, inputs, ctx.needs_input_grad, grad_outputs,
                                     create_graph=torch.is_grad_enabled()))

    torch.library.register_autograd(op, backward, setup_context=setup_context)
