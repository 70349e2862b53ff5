"""layer_norm: ``torch.nn.functional.layer_norm``, ``(x - mean) / sqrt(var + eps) * weight +
bias`` over the trailing ``normalized_shape``.

One fused kernel each way (csrc/ops/layer_norm/): the forward reads x once and writes the
output, mean and rstd (one float a row each, for the backward); the backward reads
grad_out and x once and writes grad_x, with grad_weight and grad_bias summed over rows in
two deterministic stages. Double backward goes through the native expression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from torchlab.bench import spec as bench_spec
from torchlab.ops import _rows
from torchlab.ops._checks import check_like
from torchlab.ops.rms_norm import (_shape, check_eps, check_normalized_shape, check_parameter,
                                   check_row_stats, empty_row_stats)


def layer_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """``torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps)`` in one
    fused kernel.

    Args:
        x: float32, bfloat16 or float16 tensor (float64 too on the CPU) whose trailing
            dimensions are ``normalized_shape``; any strides.
        normalized_shape: the trailing dimensions to normalize over.
        weight, bias: None, or tensors of ``normalized_shape`` with x's dtype and device.
        eps: added to the variance, >= 0.

    Returns:
        A contiguous tensor shaped like x, computed in float32 (float64 for float64 x).
    """
    return torch.ops.torchlab.layer_norm(x, _shape(normalized_shape), weight, bias, eps)[0]


def reference(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
              bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    return F.layer_norm(x, _shape(normalized_shape), weight, bias, eps)


# --- fake kernels --------------------------------------------------------------------------

@torch.library.register_fake("torchlab::layer_norm")
def _layer_norm_fake(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    op = "layer_norm"
    row_shape = check_normalized_shape(op, x, normalized_shape)
    check_parameter(op, "weight", weight, x, normalized_shape)
    check_parameter(op, "bias", bias, x, normalized_shape)
    check_eps(op, eps)
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device),
            empty_row_stats(x, row_shape), empty_row_stats(x, row_shape))


@torch.library.register_fake("torchlab::layer_norm_backward")
def _layer_norm_backward_fake(grad_out, x, mean, rstd, normalized_shape, weight):
    op = "layer_norm_backward"
    row_shape = check_normalized_shape(op, x, normalized_shape)
    check_parameter(op, "weight", weight, x, normalized_shape)
    check_like(op, "grad_out", grad_out, "x", x)
    check_row_stats(op, "mean", mean, x, row_shape)
    check_row_stats(op, "rstd", rstd, x, row_shape)
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device),
            torch.empty(normalized_shape, dtype=x.dtype, device=x.device),
            torch.empty(normalized_shape, dtype=x.dtype, device=x.device))


# --- autograd ------------------------------------------------------------------------------

def _save(ctx, inputs, output) -> None:
    x, normalized_shape, weight, bias, eps = inputs
    ctx.save_for_backward(x, output[1], output[2], weight, bias)
    ctx.normalized_shape, ctx.eps = normalized_shape, eps
    # mean and rstd carry no gradient: left as None, not filled with zeros (two kernels).
    ctx.set_materialize_grads(False)


def _layer_norm_backward(ctx, grad_out: Tensor | None, grad_mean, grad_rstd):
    if grad_out is None:
        return None, None, None, None, None
    x, mean, rstd, weight, bias = ctx.saved_tensors
    if torch.is_grad_enabled():  # create_graph: a backward that is differentiable again
        needs = _rows.needs_input_grad(ctx, 5)
        grad_x, grad_weight, grad_bias = _rows.native_backward(
            lambda x, weight, bias: reference(x, ctx.normalized_shape, weight, bias, ctx.eps),
            [x, weight, bias], [needs[0], needs[2], needs[3]], [grad_out])
        return grad_x, None, grad_weight, grad_bias, None
    grad_x, grad_weight, grad_bias = torch.ops.torchlab.layer_norm_backward(
        grad_out, x, mean, rstd, ctx.normalized_shape, weight)
    return (grad_x, None, grad_weight if weight is not None else None,
            grad_bias if bias is not None else None, None)


torch.library.register_autograd("torchlab::layer_norm", _layer_norm_backward,
                                setup_context=_save)


def backward_reference(grad_out: Tensor, x: Tensor, mean: Tensor, rstd: Tensor,
                       normalized_shape: Sequence[int], weight: Tensor | None):
    """``layer_norm_backward`` in native ops, in the kernels' dtype (float32 for 16-bit x):
    (grad_x, grad_weight, grad_bias) for the given mean and rstd."""
    acc, k = _rows.stats_dtype(x.dtype), len(normalized_shape)
    dims, row_dims = tuple(range(-k, 0)), tuple(range(x.dim() - k))
    mean, rstd = (_rows.broadcast_row_stat(s, normalized_shape) for s in (mean, rstd))
    g = grad_out.to(acc)
    gw = g * weight.to(acc) if weight is not None else g
    xhat = (x.to(acc) - mean) * rstd
    grad_x = rstd * (gw - gw.mean(dims, keepdim=True)
                     - xhat * (gw * xhat).mean(dims, keepdim=True))
    return (grad_x.to(x.dtype), (g * xhat).sum(row_dims).to(x.dtype),
            g.sum(row_dims).to(x.dtype))


_rows.register_backward_autograd("torchlab::layer_norm_backward", backward_reference)


# --- benchmarks ----------------------------------------------------------------------------

def _bench_bytes(case: bench_spec.Case, dtype: torch.dtype, mode: str) -> int:
    # fwd reads x, weight and bias, writes out; bwd reads grad_out, x and weight, writes
    # grad_x, grad_weight and grad_bias. (mean and rstd, 8 bytes a row, are not counted.)
    n, cols = math.prod(case.shape), case.shape[-1]
    fwd, bwd = (2 * n + 2 * cols) * dtype.itemsize, (3 * n + 3 * cols) * dtype.itemsize
    return {"fwd": fwd, "bwd": bwd, "fwd+bwd": fwd + bwd}[mode]


bench_spec.register(bench_spec.BenchSpec(
    op="layer_norm",
    cases=lambda shapes, device: _rows.sweep_cases(shapes, device),
    make_inputs=lambda case, dtype, device: _rows.random_rows(
        case, dtype, device, parameters=("weight", "bias")),
    differentiable=("x", "weight", "bias"),
    native=lambda inputs, params: reference(inputs["x"], inputs["x"].shape[-1:],
                                            inputs["weight"], inputs["bias"]),
    versions={"": lambda inputs, params: layer_norm(inputs["x"], inputs["x"].shape[-1:],
                                                    inputs["weight"], inputs["bias"])},
    bytes_moved=_bench_bytes,
))
