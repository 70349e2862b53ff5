"""What a benchmark of one operator is: a ``BenchSpec``, declared next to the operator.

A spec says, for its operator:
- the cases to sweep (shapes, and keyword parameters such as ``approximate``), a quick and
  a full sweep, each for the GPU and for the CPU;
- how to make random inputs for a case, and which of them take gradients;
- the native PyTorch expression (the ``eager`` provider, and the one ``compile`` compiles;
  run in float64 it is also the reference, but for the gradients of an operator whose
  backward reads its outputs: ``backward_from_outputs``) and torchlab's operator, with each
  version of its ladder if it has one;
- the minimum bytes each mode must move (each input read once, each output written once)
  and/or the FLOPs it must do.

Modes: ``fwd`` (the forward, no autograd), ``bwd`` (the backward alone, from a forward
recorded outside the timed region), ``fwd+bwd`` (both). ``fwd+bwd`` moves the bytes of the
forward plus those of the backward: each pass reads its inputs once and writes its outputs
once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from torchlab.bench import DTYPE_NAMES, MODES, SHAPE_SETS  # noqa: F401  (re-exported)

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


@dataclass(frozen=True)
class Case:
    """One point of a sweep: the shape of the main input and the operator's parameters."""

    shape: tuple[int, ...]
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        shape = "x".join(str(s) for s in self.shape)
        return " ".join([shape] + [f"{k}={v}" for k, v in self.params.items()])


# An operator call: (inputs by name, parameters) -> a tensor or a tuple of tensors.
OpFn = Callable[[Mapping[str, Tensor], Mapping[str, object]], "Tensor | tuple[Tensor, ...]"]


@dataclass(frozen=True)
class BenchSpec:
    op: str
    # (shape set, device type) -> the cases to run.
    cases: Callable[[str, str], list[Case]]
    # (case, dtype, device) -> random inputs by name (never zeros).
    make_inputs: Callable[[Case, torch.dtype, str], dict[str, Tensor]]
    # Names of the inputs that take gradients in the bwd modes.
    differentiable: tuple[str, ...]
    native: OpFn
    # torchlab's operator by version; "" is the public op. A ladder adds its versions here.
    versions: Mapping[str, OpFn]
    # (case, dtype, mode) -> bytes the mode must move, at the least.
    bytes_moved: Callable[[Case, torch.dtype, str], int] | None = None
    # (case, dtype, mode) -> floating-point operations, where they count.
    flops: Callable[[Case, torch.dtype, str], int] | None = None
    # Which ceiling the operator is measured against: "memory" (the device copy) or
    # "compute" (the matrix product of its dtype).
    bound: str = "memory"
    # The device types it runs on (a CUDA ladder: "cuda" alone).
    devices: tuple[str, ...] = ("cpu", "cuda")
    # For an operator whose backward reads its own outputs (softmax's y): (the outputs a
    # provider computed, the outputs' gradients, parameters) -> the inputs' gradients in
    # float64. The backward modes' reference then starts from the outputs each provider's
    # backward reads, rounded to the dtype, rather than from the float64 ones: a rounding
    # the backward amplifies is not its error (log_softmax's g - e^y sum g, with a
    # bfloat16 y of -3 rounded by up to 2^-7: every provider, eager and compile too, missed
    # the tolerance).
    backward_from_outputs: Callable[[tuple[Tensor, ...], tuple[Tensor, ...],
                                     Mapping[str, object]], tuple[Tensor, ...]] | None = None


_SPECS: dict[str, BenchSpec] = {}


def register(spec: BenchSpec) -> BenchSpec:
    if spec.op in _SPECS:
        raise ValueError(f"a benchmark spec for {spec.op!r} is already registered")
    if spec.bound not in ("memory", "compute"):
        raise ValueError(f"{spec.op}: bound must be 'memory' or 'compute', got {spec.bound!r}")
    if spec.bound == "memory" and spec.bytes_moved is None:
        raise ValueError(f"{spec.op}: a memory-bound spec needs a byte model (bytes_moved)")
    if spec.bound == "compute" and spec.flops is None:
        raise ValueError(f"{spec.op}: a compute-bound spec needs a FLOP model (flops)")
    _SPECS[spec.op] = spec
    return spec


def specs() -> dict[str, BenchSpec]:
    """Every registered spec by operator name (importing torchlab registers them)."""
    import torchlab.ops  # noqa: F401  (each op module registers its spec)

    return dict(_SPECS)

