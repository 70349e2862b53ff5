"""Lab 03: The autograd engine.

Every operation on a tensor that requires grad records a node (grad_fn) with the tensors
its backward needs; backward() walks that graph from the output, calling each node's
backward. This lab reads the graph, writes nodes of its own in Python and C++, checks
gradients numerically, runs forward-mode AD, hooks into the engine, and meets its errors.
"""

import warnings
from pathlib import Path

import torch

from torchlab.labs import Lab, check

lab = Lab(3, "The autograd engine")
HERE = Path(__file__).parent


@lab.step("The graph: grad_fn, next_functions, saved tensors")
def the_graph():
    """y = (a * b).sin() records two nodes: SinBackward0, whose next function is
    MulBackward0, whose next functions accumulate into a.grad and b.grad. Each node keeps
    what its backward needs: mul saves both inputs, sin saves its input."""
    a = torch.randn(3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    y = (a * b).sin()
    mul = y.grad_fn.next_functions[0][0]
    leaves = [f for f, _ in mul.next_functions]
    print(y.grad_fn.name(), "->", mul.name(), "->", [f.name() for f in leaves])
    check(y.grad_fn.name() == "SinBackward0" and mul.name() == "MulBackward0",
          "sin's node points to mul's node")
    check(len(leaves) == 2 and leaves[0].variable is a and leaves[1].variable is b,
          "mul's node points to the AccumulateGrad nodes of the leaves a and b")
    check(torch.equal(mul._saved_self, a) and torch.equal(mul._saved_other, b),
          "mul saved both of its inputs for the backward")
    y.sum().backward()
    check(torch.allclose(a.grad, (a * b).cos() * b), "backward: d sum(sin(ab)) / da = cos(ab) b")


class Cube(torch.autograd.Function):
    """x^3, with its backward written by hand."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * 3 * x ** 2


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * 3 * x  # forgot a power of x


@lab.step("A custom autograd.Function, checked by gradcheck")
def custom_function_and_gradcheck():
    """An autograd.Function supplies forward and backward; gradcheck compares the backward
    with finite differences in float64, and gradgradcheck does the same one level up. A wrong
    backward does not pass."""
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    check(torch.autograd.gradcheck(Cube.apply, (x,)), "gradcheck passes Cube")
    check(torch.autograd.gradgradcheck(Cube.apply, (x,)), "and gradgradcheck too")
    try:
        torch.autograd.gradcheck(WrongCube.apply, (x,))
        caught = False
    except RuntimeError as error:  # torch.autograd.gradcheck.GradcheckError
        print(str(error).splitlines()[0])
        caught = "Jacobian mismatch" in str(error)
    check(caught, "gradcheck catches a backward that forgot a power of x")


@lab.step("A custom function in C++")
def cpp_function():
    """function.cpp writes softplus as a torch::autograd::Function and registers it as the
    operator's Autograd kernel: the same pattern in C++. Its backward is this lab's exercise.
    (The first run compiles it.)"""
    from torchlab.labs.build import build

    ops = build("lab03", [HERE / "function.cpp"])
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    y = ops.softplus(x)
    print("grad_fn:", y.grad_fn.name())
    check(torch.allclose(y, torch.nn.functional.softplus(x)), "softplus matches PyTorch's")
    check(torch.autograd.gradcheck(ops.softplus, (x,)), "its backward passes gradcheck")


@lab.step("Forward-mode AD: dual numbers and jvp")
def forward_mode():
    """Forward mode carries a tangent along with each value: one pass gives the derivative
    in one input direction (a Jacobian-vector product), without a graph to walk back."""
    import torch.autograd.forward_ad as fwAD

    x = torch.randn(4, dtype=torch.float64)
    direction = torch.randn(4, dtype=torch.float64)
    with fwAD.dual_level():
        y = fwAD.make_dual(x, direction).sin()
        tangent = fwAD.unpack_dual(y).tangent
    check(torch.allclose(tangent, x.cos() * direction), "the tangent of sin(x) is cos(x) * v")
    _, jvp = torch.func.jvp(torch.sin, (x,), (direction,))
    check(torch.allclose(jvp, tangent), "torch.func.jvp gives the same")


@lab.step("Hooks: on tensors, modules and saved tensors")
def hooks():
    """A tensor hook sees (and may replace) the gradient flowing into a tensor; a module's
    forward hook sees its inputs and output; saved-tensor hooks decide how the tensors kept
    for backward are stored (packed) and brought back (unpacked): the basis of activation
    offloading and checkpointing."""
    x = torch.randn(3, requires_grad=True)
    x.register_hook(lambda grad: grad * 10)
    (2 * x).sum().backward()
    check(torch.allclose(x.grad, torch.full((3,), 20.0)), "a tensor hook scaled x.grad by 10")

    seen = []
    layer = torch.nn.Linear(4, 2)
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    layer(torch.randn(5, 4))
    handle.remove()
    check(seen == [torch.Size([5, 2])], "a forward hook saw the Linear's output")

    packed = []

    def pack(t):
        packed.append(t.shape)
        return t.clone()  # could be: move to CPU, compress, or keep nothing and recompute

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        a = torch.randn(8, requires_grad=True)
        y = (a * a).sum()
    y.backward()
    print("tensors saved for backward:", packed)
    check(len(packed) == 2 and torch.allclose(a.grad, 2 * a),
          "mul saved two tensors through our hooks, and backward still works")


@lab.step("Errors: a modified saved tensor, and anomaly detection")
def engine_errors():
    """A saved tensor remembers its version counter; if an in-place op changes it before
    backward, the engine refuses rather than compute a wrong gradient. Anomaly detection
    finds the node whose backward produced NaN."""
    x = torch.randn(4, requires_grad=True)
    s = x.sigmoid()  # sigmoid saves its output for the backward
    s.mul_(2)        # ... which this modifies
    try:
        s.sum().backward()
        refused = False
    except RuntimeError as error:
        print(str(error).splitlines()[0][:120])
        refused = "modified by an inplace operation" in str(error)
    check(refused, "backward refuses: a saved tensor was modified in place")

    zero = torch.zeros(1, requires_grad=True)
    try:
        with torch.autograd.detect_anomaly(check_nan=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the forward traceback it also prints
            (zero.sqrt() * 0).sum().backward()  # d sqrt / dx at 0 is inf, times 0: NaN
        found = None
    except RuntimeError as error:
        found = str(error).splitlines()[0]
        print(found)
    check(found is not None and "SqrtBackward0" in found,
          "anomaly detection names SqrtBackward0 as the node that returned NaN")


if __name__ == "__main__":
    raise SystemExit(lab.main())
