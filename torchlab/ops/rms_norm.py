"""rms_norm: ``torch.nn.functional.rms_norm``, ``x / sqrt(mean(x^2) + eps) * weight`` over
the trailing ``normalized_shape``.

One fused kernel each way (csrc/ops/rms_norm/): the forward reads x once and writes the
output and rstd (one float a row, for the backward); the backward reads grad_out and x
once and writes grad_x, with grad_weight summed over rows in two deterministic stages.
Double backward goes through the native expression (``_rows.native_backward``).

``rms_norm_ladder(..., version=v)`` runs one version of the CUDA ladder (see
:mod:`torchlab.ops.softmax`), for the lesson and the ``rms_norm_ladder`` benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from torchlab.bench import spec as bench_spec
from torchlab.ops import _rows
from torchlab.ops._checks import (check_floating, check_like, check_same_device,
                                  check_same_dtype)

LADDER_VERSIONS = _rows.LADDER_VERSIONS


def _shape(normalized_shape: int | Sequence[int]) -> list[int]:
    return [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)


def rms_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``torch.nn.functional.rms_norm(x, normalized_shape, weight, eps)`` in one fused kernel.

    Args:
        x: float32, bfloat16 or float16 tensor (float64 too on the CPU) whose trailing
            dimensions are ``normalized_shape``; any strides.
        normalized_shape: the trailing dimensions to normalize over.
        weight: None, or a tensor of ``normalized_shape`` with x's dtype and device.
        eps: added to the mean square; None takes ``torch.finfo(x.dtype).eps``, as PyTorch.

    Returns:
        A contiguous tensor shaped like x, computed in float32 (float64 for float64 x).
    """
    return torch.ops.torchlab.rms_norm(x, _shape(normalized_shape), weight, eps)[0]


def rms_norm_ladder(x: Tensor, normalized_shape: int | Sequence[int],
                    weight: Tensor | None = None, eps: float | None = None, *,
                    version: int = 4) -> Tensor:
    """The RMSNorm forward by one version of the CUDA ladder (1 to 6); no autograd."""
    return torch.ops.torchlab.rms_norm_ladder(x, _shape(normalized_shape), weight, eps, version)


def reference(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
              eps: float | None = None) -> Tensor:
    return F.rms_norm(x, _shape(normalized_shape), weight, eps)


# --- fake kernels --------------------------------------------------------------------------

def check_normalized_shape(op: str, x: Tensor, normalized_shape: Sequence[int]) -> list[int]:
    """The checks of csrc/common/norm.h; returns the rows' shape (that of mean and rstd)."""
    check_floating(op, "x", x)
    torch._check(len(normalized_shape) > 0, lambda: (
        f"{op}: expected normalized_shape to have at least 1 dimension, got []"))
    k = len(normalized_shape)
    torch._check(x.dim() >= k and list(x.shape[x.dim() - k:]) == list(normalized_shape),
                 lambda: (f"{op}: expected the trailing dimensions of x to be normalized_shape "
                          f"{list(normalized_shape)}, got x of shape {list(x.shape)}"))
    return list(x.shape[:x.dim() - k])


def check_parameter(op: str, name: str, parameter: Tensor | None, x: Tensor,
                    normalized_shape: Sequence[int]) -> None:
    if parameter is None:
        return
    check_same_dtype(op, name, parameter, "x", x)
    check_same_device(op, name, parameter, "x", x)
    torch._check(list(parameter.shape) == list(normalized_shape), lambda: (
        f"{op}: expected {name} of shape {list(normalized_shape)} (normalized_shape), "
        f"got {list(parameter.shape)}"))


def check_eps(op: str, eps: float) -> None:
    torch._check(eps >= 0, lambda: f"{op}: expected eps >= 0, got {eps:g}")


def check_row_stats(op: str, name: str, stats: Tensor, x: Tensor, row_shape: list[int]) -> None:
    dtype = _rows.stats_dtype(x.dtype)
    torch._check(stats.dtype == dtype,
                 lambda: f"{op}: expected {name} to have dtype {dtype}, got {stats.dtype}")
    check_same_device(op, name, stats, "x", x)
    torch._check(list(stats.shape) == row_shape, lambda: (
        f"{op}: expected {name} of shape {row_shape} (the leading dimensions of x), "
        f"got {list(stats.shape)}"))


def empty_row_stats(x: Tensor, row_shape: list[int]) -> Tensor:
    return torch.empty(row_shape, dtype=_rows.stats_dtype(x.dtype), device=x.device)


@torch.library.register_fake("torchlab::rms_norm")
def _rms_norm_fake(x, normalized_shape, weight=None, eps=None):
    row_shape = check_normalized_shape("rms_norm", x, normalized_shape)
    check_parameter("rms_norm", "weight", weight, x, normalized_shape)
    if eps is not None:
        check_eps("rms_norm", eps)
    return torch.empty(x.shape, dtype=x.dtype, device=x.device), empty_row_stats(x, row_shape)


@torch.library.register_fake("torchlab::rms_norm_backward")
def _rms_norm_backward_fake(grad_out, x, rstd, normalized_shape, weight):
    op = "rms_norm_backward"
    row_shape = check_normalized_shape(op, x, normalized_shape)
    check_parameter(op, "weight", weight, x, normalized_shape)
    check_like(op, "grad_out", grad_out, "x", x)
    check_row_stats(op, "rstd", rstd, x, row_shape)
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device),
            torch.empty(normalized_shape, dtype=x.dtype, device=x.device))


@torch.library.register_fake("torchlab::rms_norm_ladder")
def _rms_norm_ladder_fake(x, normalized_shape, weight, eps, version):
    torch._check(version in LADDER_VERSIONS,
                 lambda: f"expected version to be 1 to {LADDER_VERSIONS[-1]}, got {version}")
    return _rms_norm_fake(x, normalized_shape, weight, eps)[0]


# --- autograd ------------------------------------------------------------------------------

def _save(ctx, inputs, output) -> None:
    x, normalized_shape, weight, eps = inputs
    ctx.save_for_backward(x, output[1], weight)
    ctx.normalized_shape, ctx.eps = normalized_shape, eps
    # rstd carries no gradient: left as None, not filled with zeros (a kernel).
    ctx.set_materialize_grads(False)


def _rms_norm_backward(ctx, grad_out: Tensor | None, grad_rstd: Tensor | None):
    if grad_out is None:
        return None, None, None, None
    x, rstd, weight = ctx.saved_tensors
    if torch.is_grad_enabled():  # create_graph: a backward that is differentiable again
        needs = _rows.needs_input_grad(ctx, 4)
        grad_x, grad_weight = _rows.native_backward(
            lambda x, weight: reference(x, ctx.normalized_shape, weight, ctx.eps),
            [x, weight], [needs[0], needs[2]], [grad_out])
        return grad_x, None, grad_weight, None
    grad_x, grad_weight = torch.ops.torchlab.rms_norm_backward(
        grad_out, x, rstd, ctx.normalized_shape, weight)
    return grad_x, None, grad_weight if weight is not None else None, None


torch.library.register_autograd("torchlab::rms_norm", _rms_norm_backward, setup_context=_save)


def backward_reference(grad_out: Tensor, x: Tensor, rstd: Tensor,
                       normalized_shape: Sequence[int], weight: Tensor | None,
                       grad_residual_out: Tensor | None = None):
    """``rms_norm_backward`` in native ops, in the kernels' dtype (float32 for 16-bit x):
    (grad_x, grad_weight) for the given rstd; with ``grad_residual_out`` added to grad_x,
    ``add_rms_norm_backward``'s."""
    acc, k = _rows.stats_dtype(x.dtype), len(normalized_shape)
    dims, row_dims = tuple(range(-k, 0)), tuple(range(x.dim() - k))
    rstd = _rows.broadcast_row_stat(rstd, normalized_shape)
    g, x_acc = grad_out.to(acc), x.to(acc)
    gw = g * weight.to(acc) if weight is not None else g
    grad_x = rstd * gw - x_acc * rstd**3 * (gw * x_acc).mean(dims, keepdim=True)
    if grad_residual_out is not None:
        grad_x = grad_x + grad_residual_out.to(acc)
    return grad_x.to(x.dtype), (g * x_acc * rstd).sum(row_dims).to(x.dtype)


_rows.register_backward_autograd("torchlab::rms_norm_backward", backward_reference)


# --- benchmarks ----------------------------------------------------------------------------

def _bench_bytes(case: bench_spec.Case, dtype: torch.dtype, mode: str) -> int:
    # fwd reads x and weight, writes out; bwd reads grad_out, x and weight, writes grad_x
    # and grad_weight. (rstd, 4 bytes a row, is the kernels' choice, not counted.)
    n, cols = math.prod(case.shape), case.shape[-1]
    fwd, bwd = (2 * n + cols) * dtype.itemsize, (3 * n + 2 * cols) * dtype.itemsize
    return {"fwd": fwd, "bwd": bwd, "fwd+bwd": fwd + bwd}[mode]


def _bench_inputs(case, dtype, device):
    return _rows.random_rows(case, dtype, device, parameters=("weight",))


def _native(inputs, params):
    return reference(inputs["x"], inputs["x"].shape[-1:], inputs["weight"], 1e-6)


bench_spec.register(bench_spec.BenchSpec(
    op="rms_norm",
    cases=lambda shapes, device: _rows.sweep_cases(shapes, device),
    make_inputs=_bench_inputs,
    differentiable=("x", "weight"),
    native=_native,
    versions={"": lambda inputs, params: rms_norm(inputs["x"], inputs["x"].shape[-1:],
                                                  inputs["weight"], 1e-6)},
    bytes_moved=_bench_bytes,
))


bench_spec.register(_rows.ladder_spec(
    "rms_norm_ladder", _bench_inputs, _native,
    lambda inputs, v: rms_norm_ladder(inputs["x"], inputs["x"].shape[-1:], inputs["weight"],
                                      1e-6, version=v),
    _bench_bytes))
