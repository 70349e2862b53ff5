"""How the extension is built: whether the CUDA sources are compiled, and for which GPUs.

``setup.py`` loads this file before torchlab is installed, and ``torchlab doctor`` reports
the same decisions, so it imports only the standard library and takes every fact about the
machine as an argument.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

CUDA_SWITCH = "TORCHLAB_CUDA"
ARCH_LIST_VAR = "TORCH_CUDA_ARCH_LIST"
# With no GPU to build for: Ampere, and Hopper with its arch-specific instructions.
DEFAULT_ARCH_LIST = "8.0;9.0a"


class BuildConfigError(RuntimeError):
    """The build was asked for something this machine cannot do."""


@dataclass(frozen=True)
class CudaDecision:
    enabled: bool
    reason: str


def decide_cuda(switch: str | None, torch_cuda: str | None, cuda_home: str | None) -> CudaDecision:
    """Whether to compile the CUDA kernels.

    ``switch`` is the value of TORCHLAB_CUDA: unset or empty builds them when it can, "0"
    never, "1" always (an error if it cannot). ``torch_cuda`` is ``torch.version.cuda``;
    ``cuda_home`` the toolkit torch's build tools found (``cpp_extension.CUDA_HOME``).
    """
    if switch not in (None, "", "0", "1"):
        raise BuildConfigError(f"{CUDA_SWITCH} must be 0 or 1 (or unset), got {switch!r}")
    if switch == "0":
        return CudaDecision(False, f"{CUDA_SWITCH}=0")
    problems = []
    if torch_cuda is None:
        problems.append(
            "the installed torch is a CPU-only build (torch.version.cuda is None): "
            "install a CUDA build of torch")
    if cuda_home is None:
        problems.append(
            "no CUDA toolkit found: set CUDA_HOME to a toolkit that has bin/nvcc, "
            "or put nvcc on PATH")
    if not problems:
        return CudaDecision(True, f"torch built for CUDA {torch_cuda}, toolkit at {cuda_home}")
    if switch == "1":
        raise BuildConfigError(
            f"{CUDA_SWITCH}=1 but the CUDA kernels cannot be built: " + "; ".join(problems))
    return CudaDecision(False, "; ".join(problems))


def cuda_arch_list(env_value: str | None, capabilities: list[tuple[int, int]]) -> tuple[str, str]:
    """The TORCH_CUDA_ARCH_LIST to build for, and where it came from.

    The user's setting wins; else the visible GPUs (Hopper as 9.0a, so that its
    arch-specific instructions are available); else Ampere and Hopper.
    """
    if env_value:
        return env_value, f"{ARCH_LIST_VAR} is set"
    if capabilities:
        archs = sorted({f"{major}.{minor}" + ("a" if (major, minor) == (9, 0) else "")
                        for major, minor in capabilities})
        return ";".join(archs), "the visible GPUs"
    return DEFAULT_ARCH_LIST, "no GPU visible: Ampere (8.0) and Hopper (9.0a)"


def has_cuda_library_headers(include_dir: str) -> bool:
    return os.path.exists(os.path.join(include_dir, "cublas_v2.h"))


def cuda_library_include_dirs(cuda_home: str, site_packages: list[str]) -> list[str]:
    """Where the CUDA library headers that torch's CUDA headers include (cuBLAS, cuSPARSE,
    cuSOLVER) are: the toolkit's include folder if it has them; else, since a compiler-only
    toolkit lacks them, the include folders of the nvidia-* wheels installed with a CUDA
    build of torch (one folder for CUDA 13, one a library for CUDA 12); else none.
    """
    toolkit = os.path.join(cuda_home, "include")
    if has_cuda_library_headers(toolkit):
        return [toolkit]
    for site in site_packages:
        wheels = sorted(glob.glob(os.path.join(site, "nvidia", "*", "include")))
        if any(has_cuda_library_headers(folder) for folder in wheels):
            return wheels
    return []
