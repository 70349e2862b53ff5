"""Lab 02: The dispatcher.

Every call to a PyTorch operator goes through the dispatcher: it looks at the dispatch keys
of the arguments (device, autograd, tracing, ...) and calls the kernel registered for the
highest-priority key, which may do its part and pass the call further down. This lab reads
those keys and tables, traces one call through the layers, and registers kernels per key.
"""

import warnings
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import torchlab
from torchlab import _compat
from torchlab.labs import Lab, check

lab = Lab(2, "The dispatcher")
HERE = Path(__file__).parent


@lab.step("A tensor's dispatch keys")
def tensor_keys():
    """A tensor carries a set of dispatch keys: its backend (CPU, CUDA, Meta), and the layers
    that must see an operator call before the backend does, such as autograd."""
    plain = _compat.dispatch_keys(torch.randn(2))
    print("CPU tensor:        ", plain)
    meta = _compat.dispatch_keys(torch.empty(2, device="meta"))
    print("meta tensor:       ", meta)
    check("CPU" in plain and "AutogradCPU" in plain,
          "a CPU tensor carries CPU and AutogradCPU")
    check("Meta" in meta and "CPU" not in meta, "a meta tensor carries Meta instead of CPU")


@lab.step("An operator's dispatch table")
def dispatch_tables():
    """Each operator has a table from dispatch key to kernel. aten::add has kernels for every
    backend; torchlab::bias_gelu has the ones this project registered: CPU and CUDA from
    C++ (TORCH_LIBRARY_IMPL), Meta from its Python fake kernel, and Autograd from
    torch.library.register_autograd."""
    add = _compat.dispatch_table("aten::add.Tensor")
    ours = _compat.dispatch_table("torchlab::bias_gelu")
    for key in ("CPU", "CUDA", "Meta", "AutogradCPU"):
        print(f"{key:<12} aten::add: {add.get(key, '-')[:55]:<57} torchlab::bias_gelu: "
              f"{ours.get(key, '-')[:60]}")
    check(all(_compat.has_kernel("torchlab::bias_gelu", key) for key in ("CPU", "Meta", "Autograd")),
          "torchlab::bias_gelu has CPU, Meta and Autograd kernels")


class FunctionCalls(TorchFunctionMode):
    """Sees calls at the Python API, before the dispatcher."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.seen.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


class DispatchCalls(TorchDispatchMode):
    """Sees operators at the bottom of the dispatcher, after autograd has done its part."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


@lab.step("One call, traced through the layers")
def trace_a_call():
    """A TorchFunctionMode sees the Python calls; a TorchDispatchMode sees the operators the
    dispatcher reaches below autograd. For a tensor that requires grad, the Autograd kernel
    records the graph and then redispatches to the same operator below it."""
    x = torch.randn(4, 8, requires_grad=True)
    bias = torch.randn(8, requires_grad=True)
    with FunctionCalls() as python_level, DispatchCalls() as dispatcher_level:
        y = torchlab.bias_gelu(x + 1, bias)
    print("Python level:    ", python_level.seen)
    print("below autograd:  ", dispatcher_level.seen)
    check("aten.add.Tensor" in dispatcher_level.seen, "x + 1 reaches aten.add.Tensor")
    check("torchlab.bias_gelu.default" in dispatcher_level.seen,
          "torchlab.bias_gelu reaches the dispatcher's bottom as torchlab.bias_gelu.default")
    check(y.grad_fn is not None, "and the Autograd kernel recorded a graph on the way")


@lab.step("Registering kernels per key from Python")
def register_from_python():
    """torch.library defines an operator from a schema and registers a kernel per key, the
    Python twin of TORCH_LIBRARY / TORCH_LIBRARY_IMPL. Here a CPU kernel and a Meta kernel."""
    lib = torch.library.Library("lab02_python", "FRAGMENT")
    lib.define("double_it(Tensor x) -> Tensor")
    lib.impl("double_it", lambda x: x * 2, "CPU")
    lib.impl("double_it", lambda x: torch.empty_like(x), "Meta")
    x = torch.arange(3.0)
    check(torch.equal(torch.ops.lab02_python.double_it(x), x * 2), "the CPU kernel runs on CPU")
    meta = torch.ops.lab02_python.double_it(torch.empty(5, 7, device="meta"))
    check(meta.device.type == "meta" and meta.shape == (5, 7), "the Meta kernel gives the shape")
    lib._destroy()  # unregister, so the step can run again in one process


@lab.step("Meta tensors: shapes without data")
def meta_tensors():
    """A meta tensor has sizes, strides and a dtype but no storage: running operators on it
    computes only what the outputs would look like. torch.compile's FakeTensors work this way."""
    a = torch.empty(100_000, 50_000, device="meta")  # 20 GB if it were real
    b = torch.empty(50_000, 3, device="meta")
    out = a @ b
    print("(100000 x 50000) @ (50000 x 3) ->", tuple(out.shape), out.device)
    check(out.shape == (100_000, 3) and out.device.type == "meta", "matmul's shape, no data")
    storage = a.untyped_storage()
    check(storage.nbytes() == 20 * 10**9 and storage.data_ptr() == 0,
          "a's storage claims 20 GB but points at nothing: no bytes were allocated")


@lab.step("Fallthrough: skipping a key")
def fallthrough():
    """A key with no kernel for an operator normally falls back to a default. For autograd,
    that default marks the outputs as needing a backward it cannot compute (and warns when
    you try). Registering a fallthrough for Autograd says: skip this layer, the operator is
    not differentiable."""
    for skip in (False, True):
        lib = torch.library.Library(f"lab02_fall{int(skip)}", "FRAGMENT")
        lib.define("scale(Tensor x, float s) -> Tensor")
        lib.impl("scale", lambda x, s: x.detach() * s, "CPU")
        if skip:
            lib.impl("scale", torch.library.fallthrough_kernel, "Autograd")
        op = getattr(torch.ops, f"lab02_fall{int(skip)}").scale
        out = op(torch.randn(3, requires_grad=True), 2.0)
        table = _compat.dispatch_table(f"lab02_fall{int(skip)}::scale")
        print(f"fallthrough={skip}: AutogradCPU -> {table['AutogradCPU'][:60]}; "
              f"output requires_grad={out.requires_grad}")
        if skip:
            check(not out.requires_grad, "with the fallthrough, autograd is skipped")
        else:
            check(out.requires_grad, "without it, the default autograd kernel marks the output")
        lib._destroy()


@lab.step("Overriding an aten kernel for one key, in a scope")
def override_aten():
    """A Library opened on the aten namespace with "IMPL" can replace a kernel for one key;
    destroying it restores the original. (PyTorch warns that a kernel was overridden.)"""
    x = torch.tensor([-1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        override = torch.library.Library("aten", "IMPL")
        override.impl("relu", lambda t: torch.full_like(t, 42.0), "CPU")
        inside = torch.relu(x)
        meta = torch.relu(torch.empty(2, device="meta"))  # Meta keeps its own kernel
        override._destroy()
    print("inside the scope:", inside, " after:", torch.relu(x))
    check(torch.equal(inside, torch.tensor([42.0, 42.0])), "inside, relu on CPU is ours")
    check(meta.device.type == "meta", "other keys keep their kernels")
    check(torch.equal(torch.relu(x), torch.tensor([0.0, 2.0])), "after, relu is restored")


@lab.step("Registering from C++: the exercise's reference")
def register_from_cpp():
    """registration.cpp defines row_sum_squares with TORCH_LIBRARY and registers a CPU and a
    Meta kernel with TORCH_LIBRARY_IMPL. Loading the library runs those registrations.
    (The first run compiles it: about a minute.)"""
    from torchlab.labs.build import build

    ops = build("lab02", [HERE / "registration.cpp"])
    x = torch.randn(3, 5)
    check(torch.allclose(ops.row_sum_squares(x), x.square().sum(-1)), "the CPU kernel is right")
    meta = ops.row_sum_squares(torch.empty(3, 5, device="meta"))
    check(meta.shape == (3,) and meta.device.type == "meta", "the Meta kernel gives the shape")
    name = ops.row_sum_squares.default.name()
    check(_compat.has_kernel(name, "CPU") and _compat.has_kernel(name, "Meta")
          and not _compat.has_kernel(name, "CUDA"), f"{name} has CPU and Meta kernels, no CUDA")


if __name__ == "__main__":
    raise SystemExit(lab.main())
