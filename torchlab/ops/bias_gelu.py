"""bias_gelu: ``gelu(x + bias)``, bias broadcast over the last dimension of x.

The epilogue of every transformer MLP, fused: eager PyTorch writes ``x + bias`` to memory
and reads it back for the GELU; the fused kernel reads x once and writes the output once.

Registrations here: the fake kernel (shapes for torch.compile and meta tensors) and the
autograd formulas. The backward is itself one fused kernel, ``bias_gelu_backward``, which
returns grad_x and grad_bias (grad_bias = grad_x summed over all rows, reduced in a fixed
order, so it is deterministic). Double backward works: the backward's own derivative is
written with native PyTorch ops below.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from torchlab.bench import spec as bench_spec
from torchlab.ops._checks import (check_floating, check_like, check_same_device,
                                  check_same_dtype)
from torchlab.testing import randn

APPROXIMATIONS = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715


def bias_gelu(x: Tensor, bias: Tensor, *, approximate: str = "none") -> Tensor:
    """``torch.nn.functional.gelu(x + bias, approximate=approximate)`` in one fused kernel.

    Args:
        x: float64, float32, bfloat16 or float16 tensor of at least one dimension, on the CPU
            or a CUDA GPU. Non-contiguous inputs are read correctly (copied first).
        bias: 1-d tensor of x's last dimension, with x's dtype and device.
        approximate: ``"none"`` for the exact GELU, ``"tanh"`` for the tanh approximation.

    Returns:
        A contiguous tensor shaped like x. Computed in float32 (float64 for float64 inputs)
        and rounded once: x + bias is not rounded to x's dtype first, unlike the eager
        expression.
    """
    return torch.ops.torchlab.bias_gelu(x, bias, approximate=approximate)


def reference(x: Tensor, bias: Tensor, *, approximate: str = "none") -> Tensor:
    """The native PyTorch expression the fused kernel replaces."""
    return torch.nn.functional.gelu(x + bias, approximate=approximate)


# --- fake kernels: the C++ kernels' checks, and the outputs' metadata ---------------------

def _check_inputs(x: Tensor, bias: Tensor, approximate: str) -> None:
    op = "bias_gelu"
    check_floating(op, "x", x)
    check_same_dtype(op, "bias", bias, "x", x)
    check_same_device(op, "bias", bias, "x", x)
    torch._check(x.dim() >= 1,
                 lambda: f"{op}: expected x to have at least 1 dimension, got a 0-d tensor")
    torch._check(bias.dim() == 1 and bias.shape[0] == x.shape[-1], lambda: (
        f"{op}: expected bias of shape [{x.shape[-1]}] (the last dimension of x), "
        f"got {list(bias.shape)}"))
    torch._check(approximate in APPROXIMATIONS, lambda: (
        f"{op}: expected approximate to be 'none' or 'tanh', got '{approximate}'"))


@torch.library.register_fake("torchlab::bias_gelu")
def _bias_gelu_fake(x: Tensor, bias: Tensor, *, approximate: str = "none") -> Tensor:
    _check_inputs(x, bias, approximate)
    return torch.empty(x.shape, dtype=x.dtype, device=x.device)


@torch.library.register_fake("torchlab::bias_gelu_backward")
def _bias_gelu_backward_fake(grad_out: Tensor, x: Tensor, bias: Tensor, *,
                             approximate: str = "none") -> tuple[Tensor, Tensor]:
    _check_inputs(x, bias, approximate)
    op = "bias_gelu_backward"
    check_like(op, "grad_out", grad_out, "x", x)
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device),
            torch.empty(bias.shape, dtype=bias.dtype, device=bias.device))


# --- autograd ----------------------------------------------------------------------------

def _save_inputs(ctx, inputs, keyword_only_inputs, output) -> None:
    ctx.save_for_backward(*inputs)
    ctx.approximate = keyword_only_inputs["approximate"]


def _bias_gelu_backward(ctx, grad_out: Tensor):
    x, bias = ctx.saved_tensors
    return torch.ops.torchlab.bias_gelu_backward(grad_out, x, bias, approximate=ctx.approximate)


torch.library.register_autograd(
    "torchlab::bias_gelu", _bias_gelu_backward, setup_context=_save_inputs)


def gelu_grad(u: Tensor, approximate: str) -> Tensor:
    """d gelu(u) / du, in native ops (differentiable again)."""
    if approximate == "none":
        return _normal_cdf(u) + u * _normal_pdf(u)
    s, dk = _tanh_sigmoid(u), _SQRT_2_OVER_PI * (1 + 3 * _CUBIC * u * u)
    return s + 2 * u * s * (1 - s) * dk


def gelu_second_grad(u: Tensor, approximate: str) -> Tensor:
    """d^2 gelu(u) / du^2, in native ops."""
    if approximate == "none":
        return _normal_pdf(u) * (2 - u * u)
    # With s = sigmoid(2k), q = s (1 - s): gelu' = s + 2 u q k', and ds/du = 2 q k'.
    s = _tanh_sigmoid(u)
    q = s * (1 - s)
    dk = _SQRT_2_OVER_PI * (1 + 3 * _CUBIC * u * u)
    ddk = _SQRT_2_OVER_PI * 6 * _CUBIC * u
    return 4 * q * dk + 2 * u * q * (2 * (1 - 2 * s) * dk * dk + ddk)


def _normal_cdf(u: Tensor) -> Tensor:
    return 0.5 * torch.special.erfc(-u * math.sqrt(0.5))


def _normal_pdf(u: Tensor) -> Tensor:
    return torch.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)


def _tanh_sigmoid(u: Tensor) -> Tensor:
    return torch.sigmoid(2 * _SQRT_2_OVER_PI * (u + _CUBIC * u * u * u))


def _bias_gelu_double_backward(ctx, grad_grad_x: Tensor, grad_grad_bias: Tensor):
    # grad_x = g * gelu'(u) and grad_bias = grad_x summed over rows, with u = x + bias;
    # grad_bias's cotangent reaches every row, so both outputs' cotangents add up.
    grad_out, x, bias = ctx.saved_tensors
    u = x + bias
    cotangent = grad_grad_x + grad_grad_bias
    through_u = cotangent * grad_out * gelu_second_grad(u, ctx.approximate)
    return (cotangent * gelu_grad(u, ctx.approximate),
            through_u,
            through_u.reshape(-1, bias.shape[0]).sum(0))


torch.library.register_autograd(
    "torchlab::bias_gelu_backward", _bias_gelu_double_backward,
    setup_context=_save_inputs)


# --- benchmark -----------------------------------------------------------------------------

def _bench_cases(shapes: str, device: str) -> list[bench_spec.Case]:
    if device == "cpu":
        sizes = [(256, 1024), (1024, 4096)] + ([(4096, 4096)] if shapes == "full" else [])
        return [bench_spec.Case(s, {"approximate": "none"}) for s in sizes]
    if shapes == "quick":
        sizes = [(4096, 4096), (32768, 8192)]
    else:  # hidden size 4096, from a few hundred tokens to 64k, and the headline shape
        sizes = [(rows, 4096) for rows in (256, 1024, 4096, 16384, 65536)] + [(32768, 8192)]
    cases = [bench_spec.Case(s, {"approximate": "none"}) for s in sizes]
    return cases + [bench_spec.Case((32768, 8192), {"approximate": "tanh"})]


def _bench_inputs(case: bench_spec.Case, dtype: torch.dtype, device: str) -> dict[str, Tensor]:
    return {"x": randn(case.shape, dtype, device), "bias": randn(case.shape[-1:], dtype, device)}


def _bench_bytes(case: bench_spec.Case, dtype: torch.dtype, mode: str) -> int:
    # fwd reads x and bias, writes out; bwd reads grad_out, x and bias, writes grad_x and
    # grad_bias.
    n, cols, size = math.prod(case.shape), case.shape[-1], dtype.itemsize
    fwd, bwd = (2 * n + cols) * size, (3 * n + 2 * cols) * size
    return {"fwd": fwd, "bwd": bwd, "fwd+bwd": fwd + bwd}[mode]


bench_spec.register(bench_spec.BenchSpec(
    op="bias_gelu",
    cases=_bench_cases,
    make_inputs=_bench_inputs,
    differentiable=("x", "bias"),
    native=lambda inputs, params: reference(inputs["x"], inputs["bias"], **params),
    versions={"": lambda inputs, params: bias_gelu(inputs["x"], inputs["bias"], **params)},
    bytes_moved=_bench_bytes,
))
