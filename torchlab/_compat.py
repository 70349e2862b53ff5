"""The private torch APIs torchlab reads the dispatcher through, in one place.

``torch._C._dispatch_*`` and ``torch._library`` are not public: they change between torch
releases. Everything else in torchlab calls these wrappers, so that a torch upgrade that
moves them is fixed here alone. Checked on torch 2.11 and 2.14.
"""

from __future__ import annotations

import torch


def operator_names(namespace: str = "torchlab") -> list[str]:
    """The operators registered under ``namespace``, e.g. ``["torchlab::bias_gelu", ...]``."""
    prefix = f"{namespace}::"
    return sorted(name for name in torch._C._dispatch_get_all_op_names()
                  if name.startswith(prefix))


def has_kernel(op_name: str, dispatch_key: str) -> bool:
    """Whether ``op_name`` has a kernel registered for ``dispatch_key`` ("CPU", "CUDA", ...)."""
    return torch._C._dispatch_has_kernel_for_dispatch_key(op_name, dispatch_key)


def has_python_fake(op_name: str) -> bool:
    """Whether a fake kernel was registered for ``op_name`` with torch.library.register_fake."""
    try:
        from torch._library.simple_registry import singleton
        return singleton.find(op_name).fake_impl.kernel is not None
    except Exception:  # the registry moved or changed shape: report "no fake" rather than crash
        return False


def dispatch_keys(tensor: torch.Tensor) -> list[str]:
    """The dispatch keys a tensor carries, e.g. ["CPU", "ADInplaceOrView", "AutogradCPU"]."""
    text = str(torch._C._dispatch_keys(tensor))  # "DispatchKeySet(CPU, AutogradCPU, ...)"
    inside = text[text.index("(") + 1:text.rindex(")")]
    return [key.strip() for key in inside.split(",") if key.strip()]


def dispatch_table(op_name: str) -> dict[str, str]:
    """The operator's computed dispatch table: dispatch key -> where its kernel comes from."""
    table = {}
    for line in torch._C._dispatch_dump_table(op_name).splitlines():
        key, _, source = line.partition(": ")
        if source:
            table[key.strip()] = source.strip()
    return table
