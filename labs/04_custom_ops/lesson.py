"""Lab 04: Custom operators and torch.compile.

An operator that torch.compile can trace needs more than a kernel: a schema that tells the
truth about what it mutates, a fake kernel that computes output shapes without data, and
(for training) an autograd formula. torch.library.opcheck tests each of those; this lab
breaks them one at a time and watches it catch each.
"""

import warnings
from pathlib import Path

import torch

import torchlab
from torchlab.labs import Lab, check

lab = Lab(4, "Custom operators and torch.compile")
HERE = Path(__file__).parent


def failing(results: dict) -> list[str]:
    return [test for test, result in results.items() if result != "SUCCESS"]


@lab.step("torch.library.custom_op, and the same thing from C++")
def custom_op_in_python():
    """custom_op turns a Python function into an operator in one decorator; register_fake
    gives its shapes. torchlab's bias_gelu is the C++ route to the same place: a schema in
    TORCH_LIBRARY, kernels in TORCH_LIBRARY_IMPL, the fake kernel and autograd in Python."""

    @torch.library.custom_op("lab04::twice", mutates_args=())
    def twice(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @twice.register_fake
    def _(x):
        return torch.empty_like(x)

    x = torch.randn(4)
    check(torch.equal(torch.ops.lab04.twice(x), x * 2), "torch.ops.lab04.twice runs the function")
    print(torch.ops.lab04.twice.default._schema)
    print(torch.ops.torchlab.bias_gelu.default._schema)
    check(not failing(torch.library.opcheck(twice, (x,), raise_exception=False)),
          "the Python custom op passes every opcheck test")
    bias = torch.randn(4)
    check(not failing(torch.library.opcheck(torch.ops.torchlab.bias_gelu.default, (x, bias),
                                            raise_exception=False)),
          "and so does torchlab's C++ bias_gelu")


@lab.step("Without a fake kernel, torch.compile cannot trace the op")
def missing_fake_kernel():
    """torch.compile runs operators on FakeTensors to learn output shapes. An operator with
    no fake (or Meta) kernel fails there; opcheck's test_faketensor says so before compile
    does."""

    @torch.library.custom_op("lab04::no_fake", mutates_args=())
    def no_fake(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    results = torch.library.opcheck(no_fake, (torch.randn(3),), raise_exception=False)
    print({test: result if result == "SUCCESS" else "FAILED" for test, result in results.items()})
    check("test_faketensor" in failing(results), "opcheck's test_faketensor fails")


@lab.step("A schema that hides a mutation")
def wrong_mutation_annotation():
    """A kernel that writes into an input must say so in its schema (Tensor(a!)), or
    functionalization and compile will reorder or drop the write. opcheck's test_schema runs
    the kernel and compares inputs before and after."""
    def add_into(x, y):
        x.add_(y)

    lib = torch.library.Library("lab04_schema", "FRAGMENT")
    lib.define("add_into(Tensor x, Tensor y) -> ()")  # wrong: x is mutated
    lib.impl("add_into", add_into, "CPU")
    lib.define("add_into_honest(Tensor(a!) x, Tensor y) -> ()")
    lib.impl("add_into_honest", add_into, "CPU")
    args = lambda: (torch.randn(3), torch.randn(3))  # noqa: E731
    lying = torch.library.opcheck(torch.ops.lab04_schema.add_into.default, args(),
                                  test_utils="test_schema", raise_exception=False)
    honest = torch.library.opcheck(torch.ops.lab04_schema.add_into_honest.default, args(),
                                   test_utils="test_schema", raise_exception=False)
    print("declared immutable:", lying["test_schema"] if failing(lying) else "SUCCESS")
    check(failing(lying) == ["test_schema"] and "mutat" in str(lying["test_schema"]),
          "test_schema catches the undeclared mutation")
    check(not failing(honest), "and passes once the schema says Tensor(a!)")
    lib._destroy()


@lab.step("Graph breaks, and fullgraph=True")
def graph_breaks():
    """Dynamo turns Python into graphs; what it cannot trace (printing, reading a value back
    to Python with .item() and branching on it) splits the graph. By default it falls back to
    Python between graphs; fullgraph=True makes a break an error instead."""

    def branchy(x):
        if x.sum().item() > 0:  # data-dependent Python control flow
            return x * 2
        return x - 1

    def fused(x, bias):
        return torchlab.bias_gelu(x, bias) * 2

    x, bias = torch.randn(8, 16), torch.randn(16)
    breaks = torch._dynamo.explain(branchy)(x).graph_break_count
    print("graph breaks in branchy:", breaks)
    check(breaks >= 1, "reading .item() into an if breaks the graph")
    check(torch._dynamo.explain(fused)(x, bias).graph_break_count == 0,
          "torchlab.bias_gelu (schema + fake kernel) traces with no break")
    torch._dynamo.reset()
    try:
        torch.compile(branchy, fullgraph=True)(x)
        refused = False
    except Exception as error:  # torch._dynamo.exc.Unsupported / UserError, by version
        print("fullgraph=True:", type(error).__name__)
        refused = True
    check(refused, "with fullgraph=True the break is an error")


@lab.step("From a bare C++ kernel to a compiled operator")
def cpp_operator():
    """clamp_scale.cpp starts from a bare kernel and makes it an operator: a schema and a CPU
    registration in TORCH_LIBRARY, a Meta kernel in TORCH_LIBRARY_IMPL. That is the
    exercise; here is the reference passing opcheck and compiling. (First run compiles.)"""
    from torchlab.labs.build import build

    ops = build("lab04", [HERE / "clamp_scale.cpp"])
    x = torch.randn(5, 7)
    results = torch.library.opcheck(ops.clamp_scale.default, (x, -0.5, 0.5, 3.0),
                                    raise_exception=False)
    print(results)
    check(not failing(results), "clamp_scale passes every opcheck test")
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: ops.clamp_scale(t, -0.5, 0.5, 3.0) + 1, fullgraph=True)
    check(torch.equal(compiled(x), x.clamp(-0.5, 0.5) * 3 + 1), "and compiles with fullgraph=True")


@lab.step("A kernel on the default stream breaks CUDA graphs", needs="cuda")
def default_stream_under_cuda_graphs():
    """A CUDA graph records the work queued on the capturing stream. A kernel launched on
    the default stream instead of torch's current stream escapes the capture: depending on
    the stream flags and the capture mode, CUDA either refuses the launch, or runs it once,
    right away, and leaves it out of the graph, so that every replay silently skips it. That
    is why torchlab's kernels launch on at::cuda::getCurrentCUDAStream()."""
    x = torch.ones(1024, device="cuda")
    graph = torch.cuda.CUDAGraph()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "The CUDA Graph is empty": the point here
            with torch.cuda.graph(graph):
                with torch.cuda.stream(torch.cuda.default_stream()):  # a careless kernel
                    x.mul_(2)
        refused = False
    except RuntimeError as error:
        print("refused:", str(error).splitlines()[0][:100])
        refused = True
    torch.cuda.synchronize()
    if not refused:
        print(f"after the capture, x = {x[0].item():g} (the kernel ran once, eagerly)")
        graph.replay()
        torch.cuda.synchronize()
        print(f"after a replay,    x = {x[0].item():g}")
    check(refused or bool((x == 2).all()),
          "the default-stream kernel is not in the graph: refused, or skipped by replays")

    x = torch.randn(1024, device="cuda")
    bias = torch.randn(1024, device="cuda")
    torchlab.bias_gelu(x, bias)  # warm up outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = torchlab.bias_gelu(x, bias)
    x.copy_(torch.randn_like(x))  # new input, same memory: a replay must recompute
    graph.replay()
    torch.cuda.synchronize()
    check(torch.equal(out, torchlab.bias_gelu(x, bias)),
          "bias_gelu, on the current stream, is in the graph: a replay recomputes it")


if __name__ == "__main__":
    raise SystemExit(lab.main())
