"""Building a lab's C++ just in time, the way a learner would: torch.utils.cpp_extension."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import torch
from torch.utils import cpp_extension

from torchlab import _compat


def cache_dir() -> Path:
    return Path(os.environ.get("TORCHLAB_CACHE", Path.home() / ".cache" / "torchlab"))


def build(prefix: str, sources: list[Path]) -> object:
    """Compiles ``sources`` into a library of operators and returns its ``torch.ops`` namespace.

    The namespace (LAB_NAMESPACE in the sources) is ``prefix`` plus a hash of the sources, so
    that a learner's edited file and the reference can both be loaded in one process, and an
    unchanged file is not rebuilt. Builds are cached under TORCHLAB_CACHE (default
    ~/.cache/torchlab).
    """
    # The torch and Python versions are part of the hash: a library built against one torch
    # must never be loaded by another.
    built_for = f"{torch.__version__} {sys.version_info[:2]}".encode()
    digest = hashlib.sha1(built_for + b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    namespace = f"{prefix}_{digest}"
    if not _compat.operator_names(namespace):
        build_dir = cache_dir() / "build" / namespace
        build_dir.mkdir(parents=True, exist_ok=True)
        cpp_extension.load(
            name=namespace, sources=[str(p) for p in sources], build_directory=str(build_dir),
            extra_cflags=["-O2", f"-DLAB_NAMESPACE={namespace}"], is_python_module=False,
            verbose=False)
    return getattr(torch.ops, namespace)
