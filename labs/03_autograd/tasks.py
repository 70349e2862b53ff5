"""Lab 03 exercise: the backward of softplus, graded by gradcheck and gradgradcheck."""

import torch

from torchlab.labs import Task
from torchlab.testing import randn

SOURCES = ["function.cpp"]


def check_backward(ops):
    x = randn((4, 6), torch.float64, "cpu", scale=4.0, requires_grad=True)
    torch.autograd.gradcheck(ops.softplus, (x,))  # raises, saying what differs
    torch.autograd.gradgradcheck(ops.softplus, (x,))
    big = torch.tensor([-200.0, 0.0, 200.0], dtype=torch.float64, requires_grad=True)
    ops.softplus(big).sum().backward()
    assert torch.allclose(big.grad, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)), (
        f"gradient at -200, 0, 200: {big.grad.tolist()}, expected [0, 0.5, 1]")


TASKS = [
    Task("backward",
         "In function.cpp, Softplus::backward: the gradient of softplus(x) = log(1 + exp(x)). "
         "Graded by gradcheck and gradgradcheck in float64, and at -200, 0 and 200.",
         check_backward),
]
