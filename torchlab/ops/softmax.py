"""softmax and log_softmax over one dimension: ``torch.softmax`` / ``torch.log_softmax``.

The kernels (csrc/ops/softmax/) hold each row in registers: one read of x, one write of the
output, where a row that does not fit is read once per reduction. The backward is one
fused kernel too (``softmax_backward``: ``grad_x = y (g - sum g y)``;
``log_softmax_backward``: ``grad_x = g - e^y sum g``), differentiable again through the
formulas below.

``softmax_ladder(x, dim, version)`` runs one version of the CUDA ladder (1: a thread per
row; 2: a block per row, shared-memory tree; 3: warp shuffles and 16-byte loads, the row
streamed; 4: the row in registers, split over a cluster when long; 5: the next row staged
in shared memory while this one is computed): the lesson in ``csrc/common/rows/`` and
the ``softmax_ladder`` benchmark.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from torchlab.bench import spec as bench_spec
from torchlab.ops import _rows
from torchlab.ops._checks import check_floating, check_like

LADDER_VERSIONS = _rows.LADDER_VERSIONS


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``torch.softmax(x, dim)`` in one fused kernel.

    Args:
        x: float32, bfloat16 or float16 tensor (float64 too on the CPU), on the CPU or a
            CUDA GPU, of any shape and strides.
        dim: the dimension to normalize over.

    Returns:
        A tensor shaped like x, computed in float32 (float64 for float64 x). Its strides
        follow from moving ``dim`` last: contiguous when ``dim`` is the last dimension.
    """
    return torch.ops.torchlab.softmax(x, dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``torch.log_softmax(x, dim)`` in one fused kernel; as :func:`softmax` otherwise."""
    return torch.ops.torchlab.log_softmax(x, dim)


def softmax_ladder(x: Tensor, dim: int = -1, *, version: int = 4) -> Tensor:
    """The softmax forward by one version of the CUDA ladder (1 to 6); no autograd."""
    return torch.ops.torchlab.softmax_ladder(x, dim, version)


def reference(x: Tensor, dim: int = -1) -> Tensor:
    return torch.softmax(x, dim)


def log_reference(x: Tensor, dim: int = -1) -> Tensor:
    return torch.log_softmax(x, dim)


# --- fake kernels --------------------------------------------------------------------------

def _wrap_dim(op: str, x: Tensor, dim: int) -> int:
    rank = max(x.dim(), 1)
    torch._check(-rank <= dim < rank, lambda: (
        f"{op}: Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
        f"but got {dim})"))
    return dim % rank


def _like_rows(x: Tensor, dim: int) -> Tensor:
    """An empty tensor laid out as the kernels lay out their output: ``dim`` moved last,
    contiguous, and moved back."""
    if x.dim() == 0:
        return torch.empty((), dtype=x.dtype, device=x.device)
    moved = x.movedim(dim, -1)
    return torch.empty(moved.shape, dtype=x.dtype, device=x.device).movedim(-1, dim)


def _forward_fake(op: str):
    def fake(x: Tensor, dim: int = -1) -> Tensor:
        check_floating(op, "x", x)
        return _like_rows(x, _wrap_dim(op, x, dim))
    return fake


def _backward_fake(op: str):
    def fake(grad_out: Tensor, out: Tensor, dim: int) -> Tensor:
        check_floating(op, "out", out)
        check_like(op, "grad_out", grad_out, "out", out)
        return _like_rows(out, _wrap_dim(op, out, dim))
    return fake


torch.library.register_fake("torchlab::softmax", _forward_fake("softmax"))
torch.library.register_fake("torchlab::log_softmax", _forward_fake("log_softmax"))
torch.library.register_fake("torchlab::softmax_backward", _backward_fake("softmax_backward"))
torch.library.register_fake("torchlab::log_softmax_backward",
                            _backward_fake("log_softmax_backward"))


@torch.library.register_fake("torchlab::softmax_ladder")
def _softmax_ladder_fake(x: Tensor, dim: int, version: int) -> Tensor:
    torch._check(version in LADDER_VERSIONS,
                 lambda: f"expected version to be 1 to {LADDER_VERSIONS[-1]}, got {version}")
    return _forward_fake("softmax")(x, dim)


# --- autograd ------------------------------------------------------------------------------

def _save_output(ctx, inputs, output) -> None:
    ctx.save_for_backward(output)
    ctx.dim = inputs[1]


def _softmax_backward(ctx, grad_out: Tensor):
    (out,) = ctx.saved_tensors
    return torch.ops.torchlab.softmax_backward(grad_out, out, ctx.dim), None


def _log_softmax_backward(ctx, grad_out: Tensor):
    (out,) = ctx.saved_tensors
    return torch.ops.torchlab.log_softmax_backward(grad_out, out, ctx.dim), None


torch.library.register_autograd("torchlab::softmax", _softmax_backward,
                                setup_context=_save_output)
torch.library.register_autograd("torchlab::log_softmax", _log_softmax_backward,
                                setup_context=_save_output)


def _save_backward_inputs(ctx, inputs, output) -> None:
    ctx.save_for_backward(inputs[0], inputs[1])
    ctx.dim = inputs[2]


def _softmax_double_backward(ctx, grad_grad_x: Tensor):
    # grad_x = y (g - s), s = sum g y over the row. With c = grad_grad_x:
    # d/dg: y (c - sum c y);  d/dy: c (g - s) - g sum c y.
    grad_out, out = ctx.saved_tensors
    s = (grad_out * out).sum(ctx.dim, keepdim=True)
    cy = (grad_grad_x * out).sum(ctx.dim, keepdim=True)
    return out * (grad_grad_x - cy), grad_grad_x * (grad_out - s) - grad_out * cy, None


def _log_softmax_double_backward(ctx, grad_grad_x: Tensor):
    # grad_x = g - e^y s, s = sum g over the row. With c = grad_grad_x:
    # d/dg: c - sum c e^y;  d/dy: -c e^y s.
    grad_out, out = ctx.saved_tensors
    p = out.exp()
    s = grad_out.sum(ctx.dim, keepdim=True)
    return (grad_grad_x - (grad_grad_x * p).sum(ctx.dim, keepdim=True),
            -grad_grad_x * p * s, None)


torch.library.register_autograd("torchlab::softmax_backward", _softmax_double_backward,
                                setup_context=_save_backward_inputs)
torch.library.register_autograd("torchlab::log_softmax_backward", _log_softmax_double_backward,
                                setup_context=_save_backward_inputs)


# --- benchmarks ----------------------------------------------------------------------------

# Softmax rows also of 128k and 256k elements: vocabulary-sized rows.
SOFTMAX_ROW_LENGTHS = _rows.ROW_LENGTHS + (131072, 262144)


def _bench_bytes(case: bench_spec.Case, dtype: torch.dtype, mode: str) -> int:
    # fwd reads x, writes y; bwd reads grad_out and y, writes grad_x.
    n = math.prod(case.shape) * dtype.itemsize
    return {"fwd": 2 * n, "bwd": 3 * n, "fwd+bwd": 5 * n}[mode]


def _bench_inputs(case, dtype, device):
    return _rows.random_rows(case, dtype, device)


# The backwards in float64 from a provider's own y (BenchSpec.backward_from_outputs).
def _bench_backward(outputs, grad_outputs, params):
    y, g = outputs[0].double(), grad_outputs[0].double()
    return (y * (g - (g * y).sum(-1, keepdim=True)),)


def _bench_log_backward(outputs, grad_outputs, params):
    y, g = outputs[0].double(), grad_outputs[0].double()
    return (g - y.exp() * g.sum(-1, keepdim=True),)


for _name, _native, _fused, _backward in (
        ("softmax", reference, softmax, _bench_backward),
        ("log_softmax", log_reference, log_softmax, _bench_log_backward)):
    bench_spec.register(bench_spec.BenchSpec(
        op=_name,
        cases=lambda shapes, device: _rows.sweep_cases(shapes, device, SOFTMAX_ROW_LENGTHS),
        make_inputs=_bench_inputs,
        differentiable=("x",),
        native=lambda inputs, params, f=_native: f(inputs["x"]),
        versions={"": lambda inputs, params, f=_fused: f(inputs["x"])},
        bytes_moved=_bench_bytes,
        backward_from_outputs=_backward,
    ))


bench_spec.register(_rows.ladder_spec(
    "softmax_ladder", _bench_inputs, lambda inputs, params: reference(inputs["x"]),
    lambda inputs, v: softmax_ladder(inputs["x"], version=v), _bench_bytes))
