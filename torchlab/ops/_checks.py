"""Input checks for the fake kernels, worded like csrc/common/checks.h so that an operator
fails the same way in eager mode and under torch.compile."""

from __future__ import annotations

import torch
from torch import Tensor

FLOATING = (torch.float64, torch.float32, torch.bfloat16, torch.float16)


def check_floating(op: str, name: str, t: Tensor) -> None:
    torch._check(t.dtype in FLOATING, lambda: (
        f"{op}: expected {name} to be float64, float32, bfloat16 or float16, got {t.dtype}"))


def check_same_dtype(op: str, name: str, t: Tensor, like_name: str, like: Tensor) -> None:
    torch._check(t.dtype == like.dtype, lambda: (
        f"{op}: expected {name} to have dtype {like.dtype} (the dtype of {like_name}), "
        f"got {t.dtype}"))


def check_same_device(op: str, name: str, t: Tensor, like_name: str, like: Tensor) -> None:
    torch._check(t.device == like.device, lambda: (
        f"{op}: expected {name} on device {like.device} (the device of {like_name}), "
        f"got {t.device}"))


def check_same_shape(op: str, name: str, t: Tensor, like_name: str, like: Tensor) -> None:
    torch._check(t.shape == like.shape, lambda: (
        f"{op}: expected {name} of shape {list(like.shape)} (the shape of {like_name}), "
        f"got {list(t.shape)}"))


def check_like(op: str, name: str, t: Tensor, like_name: str, like: Tensor) -> None:
    """t has the dtype, device and shape of ``like`` (a gradient beside its tensor)."""
    check_same_dtype(op, name, t, like_name, like)
    check_same_device(op, name, t, like_name, like)
    check_same_shape(op, name, t, like_name, like)
