"""add_rms_norm: ``h = x + residual; return rms_norm(h, weight.shape, weight, eps), h``,
the residual add of a Llama-style block fused into the RMSNorm that follows it.

The forward reads x and residual once and writes the normalized output and h; eager
PyTorch writes h, reads it back to normalize, and writes the output (a third more bytes).
The backward takes the gradients of both outputs and returns one gradient for x and
residual alike (h's, to which both contribute with derivative 1), and grad_weight.
h is rounded to x's dtype before it is normalized, as when it is stored: the normalized
output is that of the h returned.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from torchlab.bench import spec as bench_spec
from torchlab.ops import _rows
from torchlab.ops._checks import (check_floating, check_like, check_same_device,
                                  check_same_dtype)
from torchlab.ops.rms_norm import (check_eps, check_normalized_shape, check_row_stats,
                                   empty_row_stats)
from torchlab.ops.rms_norm import backward_reference as rms_norm_backward_reference
from torchlab.ops.rms_norm import reference as rms_norm_reference


def add_rms_norm(x: Tensor, residual: Tensor, weight: Tensor,
                 eps: float | None = None) -> tuple[Tensor, Tensor]:
    """``(rms_norm(x + residual, weight.shape, weight, eps), x + residual)`` in one kernel.

    Args:
        x, residual: tensors of the same shape, dtype (float32, bfloat16 or float16;
            float64 too on the CPU) and device, whose trailing dimensions are weight's.
        weight: the RMSNorm weight; its shape is the normalized shape.
        eps: added to the mean square; None takes ``torch.finfo(x.dtype).eps``.

    Returns:
        (normalized, h): contiguous tensors shaped like x; h = x + residual in x's dtype.
    """
    out, residual_out, _ = torch.ops.torchlab.add_rms_norm(x, residual, weight, eps)
    return out, residual_out


def reference(x: Tensor, residual: Tensor, weight: Tensor,
              eps: float | None = None) -> tuple[Tensor, Tensor]:
    """The native expression the fused kernel replaces."""
    h = x + residual
    return rms_norm_reference(h, weight.shape, weight, eps), h


# --- fake kernels --------------------------------------------------------------------------

@torch.library.register_fake("torchlab::add_rms_norm")
def _add_rms_norm_fake(x, residual, weight, eps=None):
    op = "add_rms_norm"
    check_floating(op, "x", x)
    check_like(op, "residual", residual, "x", x)
    check_same_dtype(op, "weight", weight, "x", x)
    check_same_device(op, "weight", weight, "x", x)
    torch._check(weight.dim() >= 1, lambda: (
        f"{op}: expected weight to have at least 1 dimension, got a 0-d tensor"))
    row_shape = check_normalized_shape(op, x, weight.shape)
    if eps is not None:
        check_eps(op, eps)
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device),
            torch.empty(x.shape, dtype=x.dtype, device=x.device),
            empty_row_stats(x, row_shape))


@torch.library.register_fake("torchlab::add_rms_norm_backward")
def _add_rms_norm_backward_fake(grad_out, grad_residual_out, residual_out, rstd, weight):
    op = "add_rms_norm_backward"
    check_floating(op, "residual_out", residual_out)
    check_like(op, "grad_out", grad_out, "residual_out", residual_out)
    check_like(op, "grad_residual_out", grad_residual_out, "residual_out", residual_out)
    check_same_dtype(op, "weight", weight, "residual_out", residual_out)
    check_same_device(op, "weight", weight, "residual_out", residual_out)
    row_shape = check_normalized_shape(op, residual_out, weight.shape)
    check_row_stats(op, "rstd", rstd, residual_out, row_shape)
    return (torch.empty(residual_out.shape, dtype=residual_out.dtype, device=residual_out.device),
            torch.empty(weight.shape, dtype=weight.dtype, device=weight.device))


# --- autograd ------------------------------------------------------------------------------

def _save(ctx, inputs, output) -> None:
    x, residual, weight, eps = inputs
    ctx.save_for_backward(x, residual, weight, output[1], output[2])
    ctx.eps = eps
    # An output without a gradient comes as None, not as zeros filled by a kernel: rstd's
    # never has one, and the backward makes zeros only for an output the loss left out.
    ctx.set_materialize_grads(False)


def _add_rms_norm_backward(ctx, grad_out, grad_residual_out, grad_rstd):
    if grad_out is None and grad_residual_out is None:
        return None, None, None, None
    x, residual, weight, residual_out, rstd = ctx.saved_tensors
    if grad_out is None:
        grad_out = torch.zeros_like(residual_out)
    if grad_residual_out is None:
        grad_residual_out = torch.zeros_like(residual_out)
    if torch.is_grad_enabled():  # create_graph: a backward that is differentiable again
        return (*_rows.native_backward(
            lambda x, residual, weight: reference(x, residual, weight, ctx.eps),
            [x, residual, weight], ctx.needs_input_grad[:3], [grad_out, grad_residual_out]),
            None)
    grad_h, grad_weight = torch.ops.torchlab.add_rms_norm_backward(
        grad_out, grad_residual_out, residual_out, rstd, weight)
    return grad_h, grad_h, grad_weight, None


torch.library.register_autograd("torchlab::add_rms_norm", _add_rms_norm_backward,
                                setup_context=_save)


def backward_reference(grad_out: Tensor, grad_residual_out: Tensor, residual_out: Tensor,
                       rstd: Tensor, weight: Tensor):
    """``add_rms_norm_backward`` in native ops: RMSNorm's, with grad_residual_out added."""
    return rms_norm_backward_reference(grad_out, residual_out, rstd, list(weight.shape), weight,
                                       grad_residual_out)


_rows.register_backward_autograd("torchlab::add_rms_norm_backward", backward_reference)


# --- benchmarks ----------------------------------------------------------------------------

def _bench_bytes(case: bench_spec.Case, dtype: torch.dtype, mode: str) -> int:
    # fwd reads x, residual and weight, writes out and h; bwd reads both outputs'
    # gradients, h and weight, writes the one grad_x (x's and residual's) and grad_weight.
    n, cols = math.prod(case.shape), case.shape[-1]
    fwd, bwd = (4 * n + cols) * dtype.itemsize, (4 * n + 2 * cols) * dtype.itemsize
    return {"fwd": fwd, "bwd": bwd, "fwd+bwd": fwd + bwd}[mode]


bench_spec.register(bench_spec.BenchSpec(
    op="add_rms_norm",
    cases=lambda shapes, device: _rows.sweep_cases(shapes, device),
    make_inputs=lambda case, dtype, device: _rows.random_rows(
        case, dtype, device, names=("x", "residual"), parameters=("weight",)),
    differentiable=("x", "residual", "weight"),
    native=lambda inputs, params: reference(inputs["x"], inputs["residual"],
                                            inputs["weight"], 1e-6),
    versions={"": lambda inputs, params: add_rms_norm(inputs["x"], inputs["residual"],
                                                      inputs["weight"], 1e-6)},
    bytes_moved=_bench_bytes,
))
