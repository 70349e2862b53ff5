"""Benchmark specs: the registry, and each registered spec's byte model against the
tensors it describes."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from torchlab.bench import MODES, spec
from torchlab.bench.runner import prepare


def nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def test_every_operator_has_a_spec():
    registered = spec.specs()
    assert "bias_gelu" in registered
    assert all(s.op == name for name, s in registered.items())


def test_register_rejects_a_duplicate_and_a_spec_without_the_model_of_its_bound():
    existing = spec.specs()["bias_gelu"]
    with pytest.raises(ValueError, match="already registered"):
        spec.register(existing)
    no_model = dataclasses.replace(existing, op="no_model", bytes_moved=None)
    with pytest.raises(ValueError, match="memory-bound spec needs a byte model"):
        spec.register(no_model)
    with pytest.raises(ValueError, match="compute-bound spec needs a FLOP model"):
        spec.register(dataclasses.replace(no_model, bound="compute"))
    with pytest.raises(ValueError, match="bound must be 'memory' or 'compute'"):
        spec.register(dataclasses.replace(existing, op="odd", bound="latency"))
    assert "no_model" not in spec.specs() and "odd" not in spec.specs()


@pytest.mark.parametrize("shape_set", spec.SHAPE_SETS)
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_cases_are_declared_for_every_shape_set_and_device(shape_set, device):
    for s in spec.specs().values():
        if device not in s.devices:
            continue
        cases = s.cases(shape_set, device)
        assert cases, f"{s.op}: no {shape_set} cases on {device}"
        assert all(all(n > 0 for n in c.shape) for c in cases)


def test_full_sweep_contains_the_quick_one():
    for s in spec.specs().values():
        for device in s.devices:
            quick = {c.label for c in s.cases("quick", device)}
            full = {c.label for c in s.cases("full", device)}
            assert quick <= full, f"{s.op} on {device}: quick cases missing from full"


def test_bias_gelu_byte_model_counts_each_input_read_and_each_output_written_once():
    bias_gelu = spec.specs()["bias_gelu"]
    case = spec.Case((37, 64), {"approximate": "none"})
    for dtype in (torch.float32, torch.bfloat16):
        prepared = prepare(bias_gelu, case, dtype, "cpu", MODES, with_reference=False)
        x, b = prepared.inputs["x"], prepared.inputs["bias"]
        (grad_out,) = prepared.grad_outputs
        out, grad_x, grad_bias = torch.empty_like(x), torch.empty_like(x), torch.empty_like(b)
        fwd = nbytes(x, b, out)  # reads x, bias; writes out
        bwd = nbytes(grad_out, x, b, grad_x, grad_bias)
        assert bias_gelu.bytes_moved(case, dtype, "fwd") == fwd
        assert bias_gelu.bytes_moved(case, dtype, "bwd") == bwd
        assert bias_gelu.bytes_moved(case, dtype, "fwd+bwd") == fwd + bwd
        assert fwd == (2 * math.prod(case.shape) + 64) * dtype.itemsize


def test_inputs_are_random_and_match_the_case():
    bias_gelu = spec.specs()["bias_gelu"]
    case = spec.Case((5, 8), {"approximate": "tanh"})
    a = bias_gelu.make_inputs(case, torch.bfloat16, "cpu")
    b = bias_gelu.make_inputs(case, torch.bfloat16, "cpu")
    assert a["x"].shape == (5, 8) and a["bias"].shape == (8,)
    assert a["x"].dtype == torch.bfloat16
    assert not torch.equal(a["x"], b["x"]), "inputs must be fresh random values"
    assert bool(a["x"].ne(0).any())


def test_case_label_names_shape_and_params():
    assert spec.Case((4, 8), {"approximate": "tanh"}).label == "4x8 approximate=tanh"
