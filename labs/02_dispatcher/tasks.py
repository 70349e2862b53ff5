"""Lab 02 exercises: the CPU and Meta kernels of row_sum_squares, graded like the reference."""

import torch

from torchlab.labs import Task
from torchlab.testing import assert_close_to_reference, randn

SOURCES = ["registration.cpp"]
SHAPES = [(5,), (3, 7), (2, 3, 17), (4, 0), (0, 8)]


def check_cpu(ops):
    for shape in SHAPES:
        x = randn(shape, torch.float32, "cpu")
        expected = x.double().square().sum(-1)
        assert_close_to_reference(ops.row_sum_squares(x), expected, torch.float32,
                                  name=f"row_sum_squares of shape {list(shape)}")
    transposed = randn((6, 4), torch.float32, "cpu").t()
    assert_close_to_reference(ops.row_sum_squares(transposed),
                              transposed.double().square().sum(-1), torch.float32,
                              name="row_sum_squares of a transposed tensor")


def check_meta(ops):
    for shape in SHAPES:
        x = torch.empty(shape, device="meta")
        out = ops.row_sum_squares(x)
        assert out.device.type == "meta", f"shape {list(shape)}: output on {out.device}"
        assert out.shape == shape[:-1] and out.dtype == x.dtype, (
            f"shape {list(shape)}: output {list(out.shape)} {out.dtype}, "
            f"expected {list(shape[:-1])} torch.float32")


TASKS = [
    Task("cpu_kernel",
         "In registration.cpp, the body of row_sum_squares_cpu: for float32 x, the sum of "
         "squares over the last dimension. Graded against float64 on 1-d to 3-d, empty and "
         "transposed inputs.",
         check_cpu),
    Task("meta_kernel",
         "In registration.cpp, the body of row_sum_squares_meta: the output's shape, dtype and "
         "device, without data. Graded on meta tensors.",
         check_meta),
]
