import re

import pytest
import torch
import torch.nn.functional as F

import torchlab
from torchlab.ops import bias_gelu as op
from torchlab.testing import assert_close_to_reference, devices, poisoned_outputs, randn

DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]
APPROXIMATIONS = ["none", "tanh"]
# 1, primes, rows that are not a whole number of 16-byte vectors, more than one row per
# thread, 3-d, and empty ones.
SHAPES = [(1,), (7,), (1, 1), (3, 5), (13, 17), (4, 8), (2, 64), (129, 24), (5, 1000),
          (2, 3, 40), (64, 4099), (0, 16), (16, 0), (0,)]


def reference_forward(x, bias, approximate):
    return F.gelu(x.double() + bias.double(), approximate=approximate)


def reference_backward(grad_out, x, bias, approximate):
    x64 = x.detach().double().requires_grad_()
    b64 = bias.detach().double().requires_grad_()
    out = F.gelu(x64 + b64, approximate=approximate)
    return torch.autograd.grad(out, (x64, b64), grad_out.double())


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_matches_reference(device, dtype, approximate, shape):
    x = randn(shape, dtype, device, scale=3.0)
    bias = randn(shape[-1:], dtype, device)
    with poisoned_outputs():
        out = torchlab.bias_gelu(x, bias, approximate=approximate)
    assert out.is_contiguous()
    assert_close_to_reference(out, reference_forward(x, bias, approximate), dtype)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_reference(device, dtype, approximate, shape):
    x = randn(shape, dtype, device, scale=3.0)
    bias = randn(shape[-1:], dtype, device)
    grad_out = randn(shape, dtype, device)
    with poisoned_outputs():
        grad_x, grad_bias = torch.ops.torchlab.bias_gelu_backward(
            grad_out, x, bias, approximate=approximate)
    ref_x, ref_bias = reference_backward(grad_out, x, bias, approximate)
    assert_close_to_reference(grad_x, ref_x, dtype, name="grad_x")
    assert_close_to_reference(grad_bias, ref_bias, dtype, name="grad_bias")


@pytest.mark.parametrize("device", devices())
def test_autograd_uses_the_fused_backward(device):
    x = randn((6, 10), torch.float32, device, requires_grad=True)
    bias = randn((10,), torch.float32, device, requires_grad=True)
    grad_out = randn((6, 10), torch.float32, device)
    torchlab.bias_gelu(x, bias).backward(grad_out)
    expected = torch.ops.torchlab.bias_gelu_backward(grad_out, x.detach(), bias.detach())
    torch.testing.assert_close(x.grad, expected[0], rtol=0, atol=0)
    torch.testing.assert_close(bias.grad, expected[1], rtol=0, atol=0)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_grad_bias_is_deterministic(device, approximate):
    x = randn((3000, 40), torch.float32, device)
    bias = randn((40,), torch.float32, device)
    grad_out = randn((3000, 40), torch.float32, device)
    first = torch.ops.torchlab.bias_gelu_backward(grad_out, x, bias, approximate=approximate)[1]
    for _ in range(3):
        again = torch.ops.torchlab.bias_gelu_backward(grad_out, x, bias, approximate=approximate)[1]
        assert torch.equal(first, again)


# --- layouts the kernels must read correctly ---------------------------------------------

def _noncontiguous_inputs(device, dtype):
    base = randn((24, 66), dtype, device, scale=3.0)
    bias_base = randn((128,), dtype, device)
    return {
        "transposed": (base.t()[:, :24], randn((24,), dtype, device)),
        "column slice, odd offset": (base[:, 1:65], bias_base[1:65]),
        "row stride 2": (base[::2, :64], bias_base[:64]),
        "strided bias": (base[:, :64], bias_base[::2]),
        "broadcast rows (stride 0)": (randn((64,), dtype, device).expand(7, 64),
                                      bias_base[:64]),
        # contiguous, but one element past a 16-byte boundary: no vector loads
        "contiguous at an odd offset": (randn((7 * 64 + 1,), dtype, device)[1:].view(7, 64),
                                        bias_base[:64]),
    }


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("case", ["transposed", "column slice, odd offset", "row stride 2",
                                  "strided bias", "broadcast rows (stride 0)",
                                  "contiguous at an odd offset"])
def test_noncontiguous_inputs(device, dtype, case):
    x, bias = _noncontiguous_inputs(device, dtype)[case]
    x = x.detach().requires_grad_()
    bias = bias.detach().requires_grad_()
    out = torchlab.bias_gelu(x, bias)
    assert_close_to_reference(out, reference_forward(x, bias, "none"), dtype)
    grad_out = randn(out.shape, dtype, device).t().contiguous().t()  # non-contiguous too
    out.backward(grad_out)
    ref_x, ref_bias = reference_backward(grad_out, x, bias, "none")
    assert_close_to_reference(x.grad, ref_x, dtype, name="grad_x")
    assert_close_to_reference(bias.grad, ref_bias, dtype, name="grad_bias")


# --- gradients, registrations, compile ---------------------------------------------------

@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gradcheck_and_gradgradcheck(device, approximate):
    x = randn((5, 7), torch.float64, device, requires_grad=True)
    bias = randn((7,), torch.float64, device, requires_grad=True)

    def fn(x, bias):
        return torchlab.bias_gelu(x, bias, approximate=approximate)

    assert torch.autograd.gradcheck(fn, (x, bias))
    assert torch.autograd.gradgradcheck(fn, (x, bias))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_opcheck(device, requires_grad, approximate):
    x = randn((6, 40), torch.float32, device, requires_grad=requires_grad)
    bias = randn((40,), torch.float32, device, requires_grad=requires_grad)
    torch.library.opcheck(torch.ops.torchlab.bias_gelu.default, (x, bias),
                          {"approximate": approximate})
    grad_out = randn((6, 40), torch.float32, device, requires_grad=requires_grad)
    torch.library.opcheck(torch.ops.torchlab.bias_gelu_backward.default, (grad_out, x, bias),
                          {"approximate": approximate})


@pytest.mark.parametrize("device", devices())
def test_compiles_without_graph_break(device):
    torch._dynamo.reset()

    def mlp_epilogue(x, bias):
        return torchlab.bias_gelu(x, bias, approximate="tanh") * 2

    compiled = torch.compile(mlp_epilogue, fullgraph=True)
    x = randn((8, 32), torch.float32, device, requires_grad=True)
    bias = randn((32,), torch.float32, device, requires_grad=True)
    out = compiled(x, bias)
    torch.testing.assert_close(out, mlp_epilogue(x, bias))
    out.sum().backward()
    ref_x, ref_bias = reference_backward(torch.full_like(out, 2.0), x, bias, "tanh")
    assert_close_to_reference(x.grad, ref_x, torch.float32, name="grad_x")
    assert_close_to_reference(bias.grad, ref_bias, torch.float32, name="grad_bias")


def test_meta_tensors_give_shapes_and_checks():
    x = torch.empty((3, 5, 8), device="meta", dtype=torch.bfloat16)
    bias = torch.empty((8,), device="meta", dtype=torch.bfloat16)
    out = torchlab.bias_gelu(x, bias)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device.type == "meta"
    with pytest.raises(RuntimeError, match=re.escape("expected bias of shape [8]")):
        torchlab.bias_gelu(x, bias[:4])


@pytest.mark.gpu
def test_cuda_graph_replay_matches_eager():
    x = randn((256, 1024), torch.bfloat16, "cuda")
    bias = randn((1024,), torch.bfloat16, "cuda")
    grad_out = randn((256, 1024), torch.bfloat16, "cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the capture, on a side stream
        torchlab.bias_gelu(x, bias)
        torch.ops.torchlab.bias_gelu_backward(grad_out, x, bias)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = torchlab.bias_gelu(x, bias)
        grad_x, grad_bias = torch.ops.torchlab.bias_gelu_backward(grad_out, x, bias)
    for _ in range(2):  # new inputs, copied into the captured buffers
        x.copy_(randn(x.shape, x.dtype, "cuda"))
        grad_out.copy_(randn(x.shape, x.dtype, "cuda"))
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(out, torchlab.bias_gelu(x, bias))
        expected = torch.ops.torchlab.bias_gelu_backward(grad_out, x, bias)
        assert torch.equal(grad_x, expected[0]) and torch.equal(grad_bias, expected[1])


@pytest.mark.gpu
def test_runs_on_the_inputs_device():
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    x = randn((4, 16), torch.float32, "cuda:1")
    bias = randn((16,), torch.float32, "cuda:1")
    out = torchlab.bias_gelu(x, bias)  # current device stays cuda:0
    assert out.device == x.device
    assert_close_to_reference(out, reference_forward(x, bias, "none"), torch.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("cols", [8192, 8191], ids=["vectorized", "one-element"])
def test_more_than_2_to_the_31_elements(cols):
    rows = 2**31 // cols + 3
    x = torch.empty((rows, cols), dtype=torch.bfloat16, device="cuda").normal_()
    bias = randn((cols,), torch.bfloat16, "cuda")
    out = torchlab.bias_gelu(x, bias)
    grad_x, grad_bias = torch.ops.torchlab.bias_gelu_backward(x, x, bias)
    # Rows past element 2^31, and a sample before, against the float64 reference.
    for rows_checked in (slice(-5, None), slice(0, 5), slice(rows // 2, rows // 2 + 5)):
        assert_close_to_reference(out[rows_checked],
                                  reference_forward(x[rows_checked], bias, "none"),
                                  torch.bfloat16)
        ref_x, _ = reference_backward(x[rows_checked], x[rows_checked], bias, "none")
        assert_close_to_reference(grad_x[rows_checked], ref_x, torch.bfloat16, name="grad_x")
    ref_bias = torch.zeros(cols, dtype=torch.float64, device="cuda")
    for chunk in torch.split(x, 16384):
        ref_bias += reference_backward(chunk, chunk, bias, "none")[1]
    assert_close_to_reference(grad_bias, ref_bias, torch.bfloat16, name="grad_bias")


# --- bad input ---------------------------------------------------------------------------

BAD_INPUTS = [
    ("dtype mismatch", lambda d: (torch.ones(2, 4, device=d), torch.ones(4, device=d,
                                                                       dtype=torch.float64)),
     "bias_gelu: expected bias to have dtype torch.float32 (the dtype of x), got torch.float64"),
    ("integer x", lambda d: (torch.ones(2, 4, device=d, dtype=torch.long),
                             torch.ones(4, device=d, dtype=torch.long)),
     "bias_gelu: expected x to be float64, float32, bfloat16 or float16, got torch.int64"),
    ("bias too short", lambda d: (torch.ones(2, 4, device=d), torch.ones(3, device=d)),
     "bias_gelu: expected bias of shape [4] (the last dimension of x), got [3]"),
    ("bias 2-d", lambda d: (torch.ones(2, 4, device=d), torch.ones(1, 4, device=d)),
     "bias_gelu: expected bias of shape [4] (the last dimension of x), got [1, 4]"),
    ("0-d x", lambda d: (torch.ones((), device=d), torch.ones(1, device=d)),
     "bias_gelu: expected x to have at least 1 dimension, got a 0-d tensor"),
]


@pytest.mark.parametrize("device", devices() + ["meta"])
@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_message(device, case):
    _, make, message = case
    x, bias = make(device)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torchlab.bias_gelu(x, bias)


@pytest.mark.parametrize("device", devices() + ["meta"])
def test_bad_approximate_message(device):
    x, bias = torch.ones(2, 4, device=device), torch.ones(4, device=device)
    message = "bias_gelu: expected approximate to be 'none' or 'tanh', got 'fast'"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torchlab.bias_gelu(x, bias, approximate="fast")


@pytest.mark.parametrize("device", devices() + ["meta"])
def test_backward_bad_grad_out_messages(device):
    x, bias = torch.ones(2, 4, device=device), torch.ones(4, device=device)
    backward = torch.ops.torchlab.bias_gelu_backward
    with pytest.raises(RuntimeError, match=re.escape(
            "bias_gelu_backward: expected grad_out of shape [2, 4] (the shape of x), got [4, 2]")):
        backward(torch.ones(4, 2, device=device), x, bias)
    with pytest.raises(RuntimeError, match=re.escape(
            "bias_gelu_backward: expected grad_out to have dtype torch.float32 (the dtype of x), "
            "got torch.float16")):
        backward(torch.ones(2, 4, device=device, dtype=torch.float16), x, bias)


def test_device_mismatch_message():
    other = "cuda" if torch.cuda.is_available() else "meta"
    x, bias = torch.ones(2, 4), torch.ones(4, device=other)
    expected_device = torch.device(other, 0) if other == "cuda" else torch.device(other)
    message = (f"bias_gelu: expected bias on device cpu (the device of x), "
               f"got {expected_device}")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torchlab.bias_gelu(x, bias)


def test_reference_is_the_native_expression():
    x, bias = randn((3, 8), torch.float32, "cpu"), randn((8,), torch.float32, "cpu")
    torch.testing.assert_close(op.reference(x, bias, approximate="tanh"),
                               F.gelu(x + bias, approximate="tanh"))


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_python_derivative_formulas(approximate):
    # The double backward's formulas, against autograd through F.gelu.
    u = randn((1000,), torch.float64, "cpu", scale=4.0, requires_grad=True)
    (first,) = torch.autograd.grad(F.gelu(u, approximate=approximate).sum(), u,
                                   create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), u)
    torch.testing.assert_close(op.gelu_grad(u.detach(), approximate), first.detach())
    torch.testing.assert_close(op.gelu_second_grad(u.detach(), approximate), second)
