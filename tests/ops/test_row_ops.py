"""softmax, log_softmax, layer_norm, rms_norm and add_rms_norm, checked alike (their
descriptions: tests/ops/row_ops.py): forward and backward against float64 references over
a grid of shapes and dtypes, layouts, gradcheck, opcheck, torch.compile, CUDA graphs,
determinism, more than 2^31 elements, and the CUDA ladders."""

import re

import pytest
import torch

from torchlab.testing import (ATOL, RTOL, assert_close_to_reference, devices, poisoned_outputs,
                              randn)

from .row_ops import ROW_OPS, reference_gradients

OPS = list(ROW_OPS)
DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]
# Rows of 1, primes, lengths that are not a whole number of 16-byte vectors, 3-d, and row
# lengths that take every launch configuration of the CUDA kernels: a warp a row (4 rows a
# block), 64 to 512 threads a row, clusters of 2, 4 and 8 blocks, version 6's streamed rows
# (45000: a part of a row that is not a whole number of its passes' batches), and version
# 3's fallback (odd lengths, and rows longer than a cluster holds). Rows that fill their
# blocks' chunks exactly run kernels that check no chunk (launch.cuh's kWholeChunks): 512,
# 1024 and 2048 take them in blocks of 2 or 4 rows whose last rows lie past the end.
SHAPES = [(1, 1), (1, 7), (3, 1), (5, 13), (2, 3, 40), (7, 256), (6, 512), (5, 1024),
          (3, 2048), (9, 1000), (3, 2000), (4, 4099), (5, 4096), (3, 8192), (3, 16384),
          (2, 32768), (3, 45000), (2, 65536), (2, 131072), (1, 262144), (0, 16)]


def _cases(device):
    return [(dtype, shape) for dtype in DTYPES for shape in SHAPES
            if not (device == "cuda" and dtype == torch.float64)]


def _check(op, inputs, device, dtype):
    with poisoned_outputs():
        outputs = op.run(**inputs)
    expected = op.reference(**inputs)
    assert len(outputs) == len(expected)
    for i, (got, ref) in enumerate(zip(outputs, expected)):
        assert got.device.type == device
        assert_close_to_reference(got, ref, dtype, name=f"{op.name} output {i}")
    return outputs


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("op_name", OPS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_and_backward_match_reference(device, op_name, dtype, shape):
    if device == "cuda" and dtype == torch.float64:
        pytest.skip("float64 runs on the CPU")
    _check_forward_and_backward(op_name, dtype, shape, device)


def _check_forward_and_backward(op_name, dtype, shape, device, missing=()):
    op = ROW_OPS[op_name]
    inputs = op.make_inputs(shape, dtype, device, requires_grad=True)
    inputs.update(dict.fromkeys(missing))  # parameters passed as None
    outputs = _check(op, inputs, device, dtype)
    if 0 in shape:
        return
    present = {name: t for name, t in inputs.items() if t is not None}
    grad_outputs = tuple(randn(o.shape, dtype, device) for o in outputs)
    with poisoned_outputs():
        grads = torch.autograd.grad(outputs, list(present.values()), grad_outputs)
    expected = reference_gradients(op, inputs, grad_outputs, outputs)
    for (name, got) in zip(present, grads):
        if shape[-1] == 1 and op.parameters and name in op.inputs:
            # A norm over one element: grad_x is a difference of terms of size g w rstd
            # (rstd up to 1/sqrt(eps)) that cancel, to 0 for layer_norm; rounding leaves a
            # few units of the dtype's precision of those terms.
            terms = (grad_outputs[0].double() * inputs[op.parameters[0]].double()).abs() / 1e-6**0.5
            error = (got.double() - expected[name]).abs()
            assert bool((error <= RTOL[dtype] * terms + ATOL[dtype]).all()), (name, error.max())
            continue
        assert_close_to_reference(got, expected[name], dtype, name=f"{op_name} grad {name}")


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("op_name, missing", [("layer_norm", ("weight",)),
                                              ("layer_norm", ("bias",)),
                                              ("layer_norm", ("weight", "bias")),
                                              ("rms_norm", ("weight",))], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[-1] > 1], ids=str)
def test_missing_parameters_match_reference(device, op_name, missing, dtype, shape):
    # A missing weight reads as ones, a missing bias as zeros, in every launch
    # configuration (the kernels fill the vectors of a missing one).
    if device == "cuda" and dtype == torch.float64:
        pytest.skip("float64 runs on the CPU")
    _check_forward_and_backward(op_name, dtype, shape, device, missing)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("op_name", OPS)
def test_empty_rows_give_zero_parameter_gradients(device, op_name):
    op = ROW_OPS[op_name]
    inputs = op.make_inputs((0, 24), torch.float32, device, requires_grad=True)
    outputs = op.run(**inputs)
    grads = torch.autograd.grad(outputs, list(inputs.values()),
                                [torch.ones_like(o) for o in outputs])
    for name, grad in zip(inputs, grads):
        assert grad.shape == inputs[name].shape
        if name in op.parameters:
            assert torch.equal(grad, torch.zeros_like(grad)), name


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("create_graph", [False, True])
def test_row_statistics_carry_no_gradient(device, create_graph):
    # The operators' extra outputs (mean, rstd) are for their backwards; a loss on them
    # leaves x's gradient as the loss on the normalized output alone gives it, through the
    # fused backward or (create_graph) the native one.
    x = randn((6, 40), torch.float32, device).requires_grad_()
    residual = randn((6, 40), torch.float32, device)
    weight = randn((40,), torch.float32, device)
    ops = torch.ops.torchlab
    for name, run, n_stats in [
            ("layer_norm", lambda: ops.layer_norm(x, [40], weight, None, 1e-5), 2),
            ("rms_norm", lambda: ops.rms_norm(x, [40], weight, 1e-6), 1),
            ("add_rms_norm", lambda: ops.add_rms_norm(x, residual, weight, 1e-6), 1)]:
        def grad(loss):
            return torch.autograd.grad(loss, x, create_graph=create_graph, allow_unused=True)[0]
        outputs = run()
        only_outputs = grad(sum(o.sum() for o in outputs[:-n_stats]))
        outputs = run()
        with_stats = grad(sum(o.sum() for o in outputs))
        assert torch.equal(with_stats, only_outputs), name
        assert grad(sum(s.sum() for s in run()[-n_stats:])) is None, name


# --- layouts ---------------------------------------------------------------------------------

def _strided(t: torch.Tensor, how: str) -> torch.Tensor:
    """The same values as t, laid out another way."""
    if how == "transposed":
        return t.t().contiguous().t()
    if how == "row stride 2":
        wide = torch.empty((t.shape[0], 2 * t.shape[1]), dtype=t.dtype, device=t.device)
        wide[:, ::2] = t
        return wide[:, ::2]
    if how == "odd offset":  # contiguous, but one element past a 16-byte boundary
        flat = torch.empty(t.numel() + 1, dtype=t.dtype, device=t.device)
        flat[1:] = t.reshape(-1)
        return flat[1:].view(t.shape)
    raise ValueError(how)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("op_name", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("how", ["transposed", "row stride 2", "odd offset"])
def test_noncontiguous_inputs(device, op_name, dtype, how):
    op = ROW_OPS[op_name]
    contiguous = op.make_inputs((24, 64), dtype, device)
    inputs = {k: (_strided(v, how) if v.dim() == 2 else v).requires_grad_()
              for k, v in contiguous.items()}
    assert not all(v.is_contiguous() for v in inputs.values()) or how == "odd offset"
    outputs = _check(op, inputs, device, dtype)
    grad_outputs = tuple(_strided(randn(o.shape, dtype, device), how) for o in outputs)
    grads = torch.autograd.grad(outputs, list(inputs.values()), grad_outputs)
    expected = reference_gradients(op, inputs, grad_outputs, outputs)
    for name, got in zip(inputs, grads):
        assert_close_to_reference(got, expected[name], dtype, name=f"grad {name}")


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -3])
def test_softmax_over_any_dimension(device, log, dim):
    import torchlab
    x = randn((5, 6, 7), torch.float32, device, requires_grad=True)
    fn = torchlab.log_softmax if log else torchlab.softmax
    native = torch.log_softmax if log else torch.softmax
    out = fn(x, dim)
    assert out.shape == x.shape
    assert_close_to_reference(out, native(x.double(), dim), torch.float32)
    grad_out = randn(x.shape, torch.float32, device)
    (grad,) = torch.autograd.grad(out, x, grad_out)
    x64 = x.detach().double().requires_grad_()
    (expected,) = torch.autograd.grad(native(x64, dim), x64, grad_out.double())
    assert_close_to_reference(grad, expected, torch.float32, name="grad x")


@pytest.mark.parametrize("device", devices())
def test_softmax_of_a_0d_tensor_and_masked_rows(device):
    import torchlab
    assert torchlab.softmax(torch.tensor(3.0, device=device), 0).item() == 1.0
    x = randn((4, 9), torch.float32, device)
    x[:, 3:] = float("-inf")  # masked entries give exactly 0, as in PyTorch
    out = torchlab.softmax(x)
    assert torch.equal(out[:, 3:], torch.zeros_like(out[:, 3:]))
    assert_close_to_reference(out, torch.softmax(x.double(), -1), torch.float32)
    x[1, 0] = float("nan")  # a NaN poisons its row, and only its row
    out = torchlab.softmax(x)
    assert out[1].isnan().all() and not out[[0, 2, 3]].isnan().any()


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("cols", [4099, 16384, 65536, 262144])
def test_softmax_of_long_rows_with_masked_stretches(device, dtype, cols):
    # Whole stretches of a row (a thread's share of it, a block's, a cluster's) are -inf:
    # exact zeros there, the softmax of the rest elsewhere, and no NaN.
    import torchlab
    x = randn((3, cols), dtype, device, scale=3.0)
    x[0, : cols // 2] = float("-inf")
    x[1, cols // 8:] = float("-inf")
    x[2, ::2] = float("-inf")
    for fn, native in ((torchlab.softmax, torch.softmax),
                       (torchlab.log_softmax, torch.log_softmax)):
        with poisoned_outputs():
            out = fn(x, -1)
        expected = native(x.double(), -1)
        assert_close_to_reference(out, expected, dtype, name=fn.__name__)
        masked = x == float("-inf")
        assert torch.equal(out[masked], expected[masked].to(dtype)), fn.__name__


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("cols", [7, 1000, 4099, 16384, 65536, 262144])
def test_softmax_of_rows_with_a_nan_anywhere(device, dtype, cols):
    # A NaN poisons its whole row, from whichever thread, block or cluster block holds it
    # (rows of a warp's vectors to clusters of 16 blocks), and only its row.
    import torchlab
    x = randn((4, cols), dtype, device)
    nan_cols = [int(torch.randint(cols, ())), int(torch.randint(1, cols, ()))]
    x[1, nan_cols[0]] = float("nan")
    x[2, nan_cols[1]] = float("nan")
    x[2, 0] = float("inf")  # and a NaN beside an infinity
    for fn, native in ((torchlab.softmax, torch.softmax),
                       (torchlab.log_softmax, torch.log_softmax)):
        out = fn(x, -1)
        assert out[[1, 2]].isnan().all(), f"{fn.__name__}: NaN at columns {nan_cols}"
        assert_close_to_reference(out[[0, 3]], native(x[[0, 3]].double(), -1), dtype,
                                  name=fn.__name__)


@pytest.mark.parametrize("device", devices())
def test_layer_norm_over_two_dimensions_without_parameters(device):
    import torchlab
    x = randn((3, 4, 5, 6), torch.float32, device, requires_grad=True)
    out = torchlab.layer_norm(x, (5, 6))
    x64 = x.detach().double().requires_grad_()
    expected = torch.nn.functional.layer_norm(x64, (5, 6))
    assert_close_to_reference(out, expected, torch.float32)
    grad_out = randn(x.shape, torch.float32, device)
    (grad,) = torch.autograd.grad(out, x, grad_out)
    (expected_grad,) = torch.autograd.grad(expected, x64, grad_out.double())
    assert_close_to_reference(grad, expected_grad, torch.float32, name="grad x")


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_default_eps_is_the_dtypes(device, dtype):
    import torchlab
    x = randn((6, 48), dtype, device, scale=1e-2)  # small enough that eps matters
    weight = randn((48,), dtype, device)
    expected = torch.nn.functional.rms_norm(x.double(), (48,), weight.double(),
                                            torch.finfo(dtype).eps)
    assert_close_to_reference(torchlab.rms_norm(x, 48, weight), expected, dtype)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", [(8, 4096), (3, 65536), (1, 262144)], ids=str)
@pytest.mark.parametrize("values", ["random", "periodic"])
def test_layer_norm_of_rows_with_a_large_mean(device, shape, values):
    # The variance as sum (x - mean)^2, not sum x^2 - N mean^2, which would cancel here.
    # Random rows have halves 3 apart, so that a variance made of the parts' own (across
    # threads, blocks, a cluster) must also count the spread of their means. Periodic rows
    # repeat 64 elements, 32 around 100 and 32 around 102: every part rounds its mean alike,
    # and an error that follows from that rounding adds up instead of averaging out. rstd is
    # held to 2e-6 relative, tighter than float32's tolerance: float32 gives about 1e-7.
    # (The outputs of periodic rows are not checked: the mean's own float32 rounding, a few
    # units of 100's precision, shared by the whole row, can move them past float32's
    # tolerance, in about 1 draw of 100.)
    import torchlab
    rows, cols = shape
    if values == "random":
        x = 100 + randn(shape, torch.float32, device)
        x[:, : cols // 2] += 3
    else:
        pattern = torch.cat([100 + randn((32,), torch.float32, device),
                             102 + randn((32,), torch.float32, device)])
        x = pattern.repeat(rows, cols // 64)
    _, mean, rstd = torch.ops.torchlab.layer_norm(x, [cols], None, None, 1e-5)
    x64 = x.double()
    assert_close_to_reference(mean, x64.mean(-1), torch.float32, name="mean")
    expected_rstd = (x64.var(-1, unbiased=False) + 1e-5).rsqrt()
    error = ((rstd.double() - expected_rstd).abs() / expected_rstd).max().item()
    assert error < 2e-6, f"rstd off by {error:.2e} relative"
    if values == "random":
        expected = torch.nn.functional.layer_norm(x64, [cols])
        assert_close_to_reference(torchlab.layer_norm(x, [cols]), expected, torch.float32)


# --- gradients, registrations, compile ---------------------------------------------------

@pytest.mark.parametrize("op_name", OPS)
def test_gradcheck_and_gradgradcheck(op_name):
    op = ROW_OPS[op_name]
    inputs = op.make_inputs((4, 6), torch.float64, "cpu", requires_grad=True)

    def fn(*args):
        return op.run(**dict(zip(inputs, args)))

    assert torch.autograd.gradcheck(fn, tuple(inputs.values()))
    assert torch.autograd.gradgradcheck(fn, tuple(inputs.values()))


def _norm_backward_calls():
    """{operator: (function of tensors, tensors)} for each norm's fused backward operator,
    float64 on the CPU, with every tensor input (row statistics included) requiring grad."""
    ops = torch.ops.torchlab
    x, g, g2 = (randn((3, 4, 5), torch.float64, "cpu") for _ in range(3))
    w = randn((5,), torch.float64, "cpu")
    _, mean, rstd = ops.layer_norm(x, [5], w, None, 1e-5)
    _, rms_rstd = ops.rms_norm(x, [4, 5], None, 1e-6)
    _, h, add_rstd = ops.add_rms_norm(x, g2, w, 1e-6)
    calls = {
        "layer_norm_backward": (lambda *t: ops.layer_norm_backward(*t[:4], [5], t[4]),
                                (g, x, mean, rstd, w)),
        "rms_norm_backward": (lambda *t: ops.rms_norm_backward(*t, [4, 5], None),
                              (g, x, rms_rstd)),
        "add_rms_norm_backward": (ops.add_rms_norm_backward, (g, g2, h, add_rstd, w)),
    }
    return {name: (fn, tuple(t.clone().requires_grad_() for t in tensors))
            for name, (fn, tensors) in calls.items()}


@pytest.mark.parametrize("name", ["layer_norm_backward", "rms_norm_backward",
                                  "add_rms_norm_backward"])
def test_backward_operators_are_differentiable(name):
    # Autograd of the fused backward operators themselves (called directly, or by opcheck),
    # checked against finite differences of the kernels.
    fn, tensors = _norm_backward_calls()[name]
    assert torch.autograd.gradcheck(fn, tensors)
    assert torch.autograd.gradgradcheck(fn, tensors)


def _op_calls(device, requires_grad):
    """(operator, args, kwargs) for every row operator and its backward."""
    def r(*shape, dtype=torch.float32):
        return randn(shape, dtype, device, requires_grad=requires_grad)

    ops = torch.ops.torchlab
    x, g, w, b = r(6, 40), r(6, 40), r(40), r(40)
    y = torch.softmax(x.detach(), -1)
    _, mean, rstd = ops.layer_norm(x.detach(), [40], w.detach(), b.detach(), 1e-5)
    _, rms_rstd = ops.rms_norm(x.detach(), [40], w.detach(), 1e-6)
    _, h, add_rstd = ops.add_rms_norm(x.detach(), g.detach(), w.detach(), 1e-6)
    return [
        (ops.softmax.default, (x, 1), {}),
        (ops.log_softmax.default, (x, -1), {}),
        (ops.softmax_backward.default, (g, y, -1), {}),
        (ops.log_softmax_backward.default, (g, y.log(), -1), {}),
        (ops.layer_norm.default, (x, [40], w, b, 1e-5), {}),
        (ops.layer_norm.default, (x, [40], None, None, 1e-5), {}),
        (ops.layer_norm_backward.default, (g, x, mean, rstd, [40], w), {}),
        (ops.rms_norm.default, (x, [40], w, None), {}),
        (ops.rms_norm_backward.default, (g, x, rms_rstd, [40], w), {}),
        (ops.add_rms_norm.default, (x, g, w, 1e-6), {}),
        (ops.add_rms_norm_backward.default, (g, g, h, add_rstd, w), {}),
    ]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(device, requires_grad):
    for op, args, kwargs in _op_calls(device, requires_grad):
        torch.library.opcheck(op, args, kwargs)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("op_name", OPS)
def test_compiles_without_graph_break(device, op_name):
    torch._dynamo.reset()
    op = ROW_OPS[op_name]
    inputs = op.make_inputs((8, 64), torch.float32, device, requires_grad=True)

    def block(**inputs):
        return tuple(o * 2 for o in op.run(**inputs))

    compiled = torch.compile(block, fullgraph=True)
    outputs = compiled(**inputs)
    for got, expected in zip(outputs, block(**inputs)):
        torch.testing.assert_close(got, expected)
    grad_outputs = tuple(randn(o.shape, torch.float32, device) for o in outputs)
    grads = torch.autograd.grad(outputs, list(inputs.values()), grad_outputs)
    expected = reference_gradients(op, inputs, tuple(2 * g for g in grad_outputs))
    for name, got in zip(inputs, grads):
        assert_close_to_reference(got, expected[name], torch.float32, name=f"grad {name}")


@pytest.mark.gpu
@pytest.mark.parametrize("op_name", OPS)
def test_cuda_graph_replay_matches_eager(op_name):
    op = ROW_OPS[op_name]
    inputs = op.make_inputs((256, 1024), torch.bfloat16, "cuda", requires_grad=True)

    def step():
        outputs = op.run(**inputs)
        return outputs + torch.autograd.grad(outputs, list(inputs.values()),
                                             [torch.ones_like(o) for o in outputs])

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the capture, on a side stream
        step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step()
    for _ in range(2):  # new inputs, copied into the captured buffers
        for t in inputs.values():
            t.data.copy_(randn(t.shape, t.dtype, "cuda"))
        graph.replay()
        torch.cuda.synchronize()
        for got, expected in zip(captured, step()):
            assert torch.equal(got, expected)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("op_name", ["layer_norm", "rms_norm", "add_rms_norm"])
def test_parameter_gradients_are_deterministic(device, op_name):
    op = ROW_OPS[op_name]
    inputs = op.make_inputs((3000, 256), torch.float32, device, requires_grad=True)
    outputs = op.run(**inputs)
    grad_outputs = tuple(randn(o.shape, torch.float32, device) for o in outputs)
    first = torch.autograd.grad(outputs, list(inputs.values()), grad_outputs,
                                retain_graph=True)
    for _ in range(3):
        again = torch.autograd.grad(outputs, list(inputs.values()), grad_outputs,
                                    retain_graph=True)
        assert all(torch.equal(a, b) for a, b in zip(first, again))


@pytest.mark.gpu
@pytest.mark.parametrize("op_name", OPS)
def test_runs_on_the_inputs_device(op_name):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    op = ROW_OPS[op_name]
    _check(op, op.make_inputs((4, 64), torch.float32, "cuda:1"), "cuda", torch.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("op_name,cols", [(name, 8192) for name in OPS]
                         + [("softmax", 8191), ("rms_norm", 8191)])
def test_more_than_2_to_the_31_elements(op_name, cols):
    op = ROW_OPS[op_name]
    rows = 2**31 // cols + 3
    inputs = op.make_inputs((8, cols), torch.bfloat16, "cuda")
    for name in op.inputs:
        inputs[name] = torch.empty((rows, cols), dtype=torch.bfloat16, device="cuda").normal_()
    outputs = op.run(**inputs)
    # Rows past element 2^31, and samples before, against the float64 reference.
    for rows_checked in (slice(-5, None), slice(0, 5), slice(rows // 2, rows // 2 + 5)):
        sample = {k: v[rows_checked] if k in op.inputs else v for k, v in inputs.items()}
        for i, (got, ref) in enumerate(zip(outputs, op.reference(**sample))):
            assert_close_to_reference(got[rows_checked], ref, torch.bfloat16, name=f"output {i}")
    del outputs
    torch.cuda.empty_cache()


@pytest.mark.gpu
@pytest.mark.parametrize("op_name", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("rows_per_sm,cols", [(32, 1024), (4, 16384), (4, 32768), (4, 65536)])
def test_more_rows_than_the_grid_takes_at_once(op_name, dtype, rows_per_sm, cols):
    # Rows of 1024: more blocks than fit at once, where RMSNorm's 2-byte forward leaves its
    # one-wave kernel. Long rows: the grids that loop over the rows (the backwards', and the
    # clusters of the operators that reduce once) take each block round its rows, and its
    # stages of shared memory, several times.
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    _check_forward_and_backward(op_name, dtype, (rows_per_sm * sms + 3, cols), "cuda")


# --- the CUDA ladders ----------------------------------------------------------------------

LADDER_SHAPES = [(1, 1), (5, 13), (7, 256), (9, 1000), (4, 4099), (33, 4096), (3, 32768),
                 (3, 45000), (2, 65536), (2, 131072), (0, 8)]


@pytest.mark.gpu
@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("shape", LADDER_SHAPES, ids=str)
def test_every_version_of_the_ladders(version, dtype, shape):
    from torchlab.ops.rms_norm import rms_norm_ladder
    from torchlab.ops.softmax import softmax_ladder
    x = randn(shape, dtype, "cuda", scale=2.0)
    weight = randn(shape[-1:], dtype, "cuda")
    with poisoned_outputs():
        out = softmax_ladder(x, -1, version=version)
    assert_close_to_reference(out, torch.softmax(x.double(), -1), dtype)
    with poisoned_outputs():
        out = rms_norm_ladder(x, shape[-1:], weight, 1e-6, version=version)
    expected = torch.nn.functional.rms_norm(x.double(), shape[-1:], weight.double(), 1e-6)
    assert_close_to_reference(out, expected, dtype)


@pytest.mark.gpu
def test_ladder_rejects_an_unknown_version():
    with pytest.raises(RuntimeError, match="expected version to be 1 to 6, got 7"):
        torch.ops.torchlab.softmax_ladder(torch.ones(2, 4, device="cuda"), -1, 7)


# --- bad input -----------------------------------------------------------------------------

def _bad_calls(d):
    """(name, call, message): each call must fail with the message, in eager and fake."""
    ops = torch.ops.torchlab
    def ones(*shape):
        return torch.ones(shape, device=d)

    x, w, stats = ones(2, 4), ones(4), ones(2)
    return [
        ("integer x", lambda: ops.softmax(torch.ones(2, 4, device=d, dtype=torch.long), -1),
         "softmax: expected x to be float64, float32, bfloat16 or float16, got torch.int64"),
        ("dim out of range", lambda: ops.log_softmax(x, 2),
         "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
        ("grad_out of another shape", lambda: ops.softmax_backward(ones(4, 2), x, -1),
         "softmax_backward: expected grad_out of shape [2, 4] (the shape of out), got [4, 2]"),
        ("weight of another shape", lambda: ops.layer_norm(x, [4], ones(3), None, 1e-5),
         "layer_norm: expected weight of shape [4] (normalized_shape), got [3]"),
        ("bias of another dtype", lambda: ops.layer_norm(x, [4], w, w.double(), 1e-5),
         "layer_norm: expected bias to have dtype torch.float32 (the dtype of x), "
         "got torch.float64"),
        ("negative eps", lambda: ops.layer_norm(x, [4], None, None, -1.0),
         "layer_norm: expected eps >= 0, got -1"),
        ("trailing dimensions", lambda: ops.rms_norm(x, [5], None, None),
         "rms_norm: expected the trailing dimensions of x to be normalized_shape [5], "
         "got x of shape [2, 4]"),
        ("empty normalized_shape", lambda: ops.rms_norm(x, [], None, None),
         "rms_norm: expected normalized_shape to have at least 1 dimension, got []"),
        ("rstd of another dtype", lambda: ops.rms_norm_backward(x, x, stats.half(), [4], w),
         "rms_norm_backward: expected rstd to have dtype torch.float32, got torch.float16"),
        ("mean of another shape", lambda: ops.layer_norm_backward(x, x, ones(3), stats, [4], w),
         "layer_norm_backward: expected mean of shape [2] (the leading dimensions of x), got [3]"),
        ("residual of another shape", lambda: ops.add_rms_norm(x, ones(2, 5), w, None),
         "add_rms_norm: expected residual of shape [2, 4] (the shape of x), got [2, 5]"),
        ("weight not x's last dimensions", lambda: ops.add_rms_norm(x, x, ones(3), None),
         "add_rms_norm: expected the trailing dimensions of x to be normalized_shape [3], "
         "got x of shape [2, 4]"),
        ("ladder version", lambda: ops.softmax_ladder(x, -1, 7),
         "expected version to be 1 to 6, got 7"),
    ]


@pytest.mark.parametrize("device", devices() + ["meta"])
@pytest.mark.parametrize("case", range(len(_bad_calls("cpu"))),
                         ids=[name for name, _, _ in _bad_calls("cpu")])
def test_bad_input_message(device, case):
    _, call, message = _bad_calls(device)[case]
    with pytest.raises((RuntimeError, IndexError), match=re.escape(message)):
        call()
