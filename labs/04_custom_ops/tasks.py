"""Lab 04 exercises: clamp_scale from a bare kernel to an operator that passes opcheck and
compiles with fullgraph=True."""

import torch

from torchlab.labs import Task
from torchlab.testing import randn

SOURCES = ["clamp_scale.cpp"]
ARGS = (-0.5, 0.5, 3.0)


def operator(ops):
    try:
        return ops.clamp_scale.default
    except AttributeError:
        raise AssertionError("no operator clamp_scale: define it in TORCH_LIBRARY") from None


def opcheck_failures(op, *tests):
    x = randn((5, 7), torch.float32, "cpu")
    results = torch.library.opcheck(op, (x, *ARGS), test_utils=tests, raise_exception=False)
    return {test: result for test, result in results.items() if result != "SUCCESS"}


def check_schema(ops):
    op = operator(ops)
    x = randn((4, 9), torch.float32, "cpu")
    assert torch.equal(op(x, *ARGS), x.clamp(*ARGS[:2]) * ARGS[2]), "wrong result on CPU"
    failures = opcheck_failures(op, "test_schema")
    assert not failures, f"opcheck: {failures}"


def check_meta(ops):
    op = operator(ops)
    failures = opcheck_failures(op, "test_faketensor", "test_aot_dispatch_dynamic")
    assert not failures, f"opcheck: {failures}"


def check_compile(ops):
    op = operator(ops)
    torch._dynamo.reset()
    compiled = torch.compile(lambda x: op(x, *ARGS) + 1, fullgraph=True)
    x = randn((3, 11), torch.float32, "cpu")
    assert torch.equal(compiled(x), x.clamp(*ARGS[:2]) * ARGS[2] + 1), "wrong compiled result"


TASKS = [
    Task("schema",
         "In clamp_scale.cpp, inside TORCH_LIBRARY: define clamp_scale(x, lo, hi, scale) with "
         "a schema, and register clamp_scale_cpu as its CPU kernel. Graded on CPU results "
         "and opcheck's schema test.",
         check_schema),
    Task("meta",
         "In clamp_scale.cpp, inside TORCH_LIBRARY_IMPL(..., Meta, ...): register "
         "clamp_scale_meta. Graded by opcheck's fake-tensor and AOT-dispatch tests.",
         check_meta),
    Task("compile",
         "With both done, torch.compile(fullgraph=True) traces clamp_scale with no graph "
         "break. Graded by compiling a function that calls it.",
         check_compile),
]
