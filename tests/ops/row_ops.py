"""The row operators (softmax, log_softmax, layer_norm, rms_norm, add_rms_norm), described
once for the tests that check them all alike (tests/ops/test_row_ops.py): how to make
random inputs, call torchlab, and compute the float64 reference of every output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

import torchlab
from torchlab.testing import randn


@dataclass(frozen=True)
class RowOp:
    name: str
    inputs: tuple[str, ...]  # [rows..., cols] inputs, then [cols] parameters
    parameters: tuple[str, ...]
    # (inputs by name) -> outputs, by torchlab / in float64 by native PyTorch
    run: Callable[..., tuple[Tensor, ...]]
    reference: Callable[..., tuple[Tensor, ...]]
    # (outputs, grad_outputs) -> the float64 gradient of the inputs, for an operator whose
    # backward reads its own output, rounded to the dtype, where that rounding is amplified
    # (as in eager PyTorch's): log_softmax reads y, and e^y from a bfloat16 y of -10 is off
    # by 4%; softmax's y (g - sum g y) by a few units of bfloat16 where g - sum g y cancels.
    backward_from_outputs: Callable[..., tuple[Tensor, ...]] | None = None

    def make_inputs(self, shape, dtype, device, *, requires_grad=False) -> dict[str, Tensor]:
        made = {name: randn(shape, dtype, device, scale=2.0) for name in self.inputs}
        for name in self.parameters:
            made[name] = (1 + 0.5 * randn(shape[-1:], torch.float32, device)).to(dtype)
        return {k: v.requires_grad_(requires_grad) for k, v in made.items()}


def _double(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.double()


def _softmax_backward(y: Tensor, g: Tensor) -> Tensor:
    y, g = y.double(), g.double()
    return y * (g - (g * y).sum(-1, keepdim=True))


def _add_rms_norm_reference(x, residual, weight):
    # h rounded to the inputs' dtype, as the kernel stores (and then normalizes) it; its
    # derivative still that of x + residual.
    exact = x.double() + residual.double()
    h = exact + ((x.detach() + residual.detach()).double() - exact).detach()
    return F.rms_norm(h, weight.shape, weight.double(), 1e-6), h


ROW_OPS = {
    "softmax": RowOp(
        "softmax", ("x",), (),
        run=lambda x: (torchlab.softmax(x, -1),),
        reference=lambda x: (torch.softmax(x.double(), -1),),
        backward_from_outputs=lambda outputs, grads: (_softmax_backward(outputs[0], grads[0]),)),
    "log_softmax": RowOp(
        "log_softmax", ("x",), (),
        run=lambda x: (torchlab.log_softmax(x, -1),),
        reference=lambda x: (torch.log_softmax(x.double(), -1),),
        backward_from_outputs=lambda outputs, grads: (
            grads[0].double() - outputs[0].double().exp() * grads[0].double().sum(-1, True),)),
    "layer_norm": RowOp(
        "layer_norm", ("x",), ("weight", "bias"),
        run=lambda x, weight, bias: (torchlab.layer_norm(x, x.shape[-1:], weight, bias),),
        reference=lambda x, weight, bias: (F.layer_norm(x.double(), x.shape[-1:],
                                                        _double(weight), _double(bias)),)),
    "rms_norm": RowOp(
        "rms_norm", ("x",), ("weight",),
        run=lambda x, weight: (torchlab.rms_norm(x, x.shape[-1:], weight, 1e-6),),
        reference=lambda x, weight: (F.rms_norm(x.double(), x.shape[-1:], _double(weight),
                                                1e-6),)),
    "add_rms_norm": RowOp(
        "add_rms_norm", ("x", "residual"), ("weight",),
        run=lambda x, residual, weight: torchlab.add_rms_norm(x, residual, weight, 1e-6),
        reference=_add_rms_norm_reference),
}


def reference_gradients(op: RowOp, inputs: dict[str, Tensor],
                        grad_outputs: tuple[Tensor, ...],
                        outputs: tuple[Tensor, ...] | None = None) -> dict[str, Tensor]:
    """The float64 gradients of every input but those passed as None, given the outputs'
    gradients (and the operator's own outputs, for backward_from_outputs)."""
    if op.backward_from_outputs is not None and outputs is not None:
        return dict(zip(inputs, op.backward_from_outputs(outputs, grad_outputs)))
    leaves = {k: None if v is None else v.detach().requires_grad_() for k, v in inputs.items()}
    outputs = op.reference(**leaves)
    present = {k: v for k, v in leaves.items() if v is not None}
    grads = torch.autograd.grad(outputs, list(present.values()),
                                [g.double() for g in grad_outputs])
    return dict(zip(present, grads))
