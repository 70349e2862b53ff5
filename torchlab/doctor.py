"""`torchlab doctor`: what this machine can build and run, and how to fix what it cannot.

``collect()`` probes the machine into ``Facts``, plain data; ``diagnose(facts)`` turns them
into ``Finding``s without touching the machine, so every check can be tested on facts made
by hand. A probe that raises is recorded as a finding, never propagated: doctor has to work
on exactly the broken installs it exists to explain.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import site
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TextIO, TypeVar

import torch
from torch.utils import cpp_extension

import torchlab
from torchlab import _compat, build_config

REBUILD = "pip install --no-build-isolation -e ."
SUBPROCESS_TIMEOUT_S = 30
DISPATCH_KEYS = ("CPU", "CUDA", "Meta", "Autograd")
PYTHON_FAKE = "fake (Python)"
TAGS = {"ok": "[ ok ]", "info": "[info]", "warn": "[warn]", "fail": "[FAIL]"}
T = TypeVar("T")


@dataclass
class Gpu:
    index: int
    name: str
    memory_gib: float
    sm_clock_mhz: int | None  # None: the GPU does not report it
    sm_clock_max_mhz: int | None
    mem_clock_mhz: int | None


@dataclass
class Nvml:
    """What nvidia-ml-py reports."""
    installed: bool = True
    error: str | None = None  # why NVML did not start: no driver, no GPU
    driver_version: str | None = None
    gpus: list[Gpu] = field(default_factory=list)


@dataclass
class Facts:
    python_version: str
    torch_version: str
    torch_cuda: str | None  # torch.version.cuda: None for a CPU-only build
    cxx11_abi: bool
    cuda_home: str | None  # the toolkit torch's extension builder finds
    nvcc_version: str | None  # "13.0"
    cuda_headers_dir: str | None  # where cublas_v2.h was found
    ninja: bool
    cxx: str
    cxx_version: str | None  # first line of `$CXX --version`
    torchlab_cuda: str | None  # TORCHLAB_CUDA
    arch_list_env: str | None  # TORCH_CUDA_ARCH_LIST
    gpu_capabilities: list[tuple[int, int]]  # of the GPUs torch.cuda sees
    torch_cuda_available: bool
    nvml: Nvml
    extension_error: str | None  # why torchlab._C did not load
    kernels: dict[str, list[str]] | None  # operator -> keys with a kernel; None: not read
    probe_errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Finding:
    name: str
    status: str  # "ok", "info", "warn" or "fail"
    detail: str
    fix: str = ""


# --- probing the machine ------------------------------------------------------------------

def collect() -> Facts:
    errors: dict[str, str] = {}

    def probe(name: str, read: Callable[[], T], default: T) -> T:
        try:
            return read()
        except Exception as error:
            errors[name] = f"{type(error).__name__}: {error}"
            return default

    cuda_home = cpp_extension.CUDA_HOME
    cxx = os.environ.get("CXX", "c++")
    return Facts(
        python_version=platform.python_version(),
        torch_version=torch.__version__,
        torch_cuda=torch.version.cuda,
        cxx11_abi=probe("C++11 ABI", torch.compiled_with_cxx11_abi, True),
        cuda_home=cuda_home,
        nvcc_version=probe("nvcc", lambda: _nvcc_version(cuda_home), None),
        cuda_headers_dir=probe("CUDA headers", lambda: _cuda_headers_dir(cuda_home), None),
        ninja=probe("ninja", cpp_extension.is_ninja_available, False),
        cxx=cxx,
        cxx_version=probe("C++ compiler", lambda: _compiler_version(cxx), None),
        torchlab_cuda=os.environ.get(build_config.CUDA_SWITCH),
        arch_list_env=os.environ.get(build_config.ARCH_LIST_VAR),
        gpu_capabilities=probe("GPU capabilities", _gpu_capabilities, []),
        torch_cuda_available=probe("torch.cuda", torch.cuda.is_available, False),
        nvml=probe("NVML", _read_nvml, Nvml(error="not read, see the NVML probe")),
        extension_error=str(torchlab.extension_error) if torchlab.extension_error else None,
        kernels=None if torchlab.extension_error else probe("operators", _read_kernels, None),
        probe_errors=errors,
    )


def _output_of(command: list[str]) -> str | None:
    """The command's stdout; None if it is missing, fails or hangs."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=SUBPROCESS_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout


def _compiler_version(cxx: str) -> str | None:
    """The first line of `$CXX --version`; CXX may carry a launcher, as in "ccache g++"."""
    lines = (_output_of([*shlex.split(cxx), "--version"]) or "").strip().splitlines()
    return lines[0] if lines else None


def _nvcc_version(cuda_home: str | None) -> str | None:
    if cuda_home is None:
        return None
    output = _output_of([os.path.join(cuda_home, "bin", "nvcc"), "--version"]) or ""
    match = re.search(r"release (\d+\.\d+)", output)
    return match.group(1) if match else None


def _cuda_headers_dir(cuda_home: str | None) -> str | None:
    if cuda_home is None:
        return None
    found = build_config.cuda_library_include_dirs(cuda_home, site.getsitepackages())
    return found[0] if found else None


def _gpu_capabilities() -> list[tuple[int, int]]:
    return [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]


def _read_nvml() -> Nvml:
    try:
        import pynvml
    except ImportError:
        return Nvml(installed=False)
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return Nvml(error=str(error))
    try:
        gpus = [_read_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())]
        return Nvml(driver_version=pynvml.nvmlSystemGetDriverVersion(), gpus=gpus)
    finally:
        pynvml.nvmlShutdown()


def _read_gpu(pynvml, index: int) -> Gpu:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def clock(read: Callable, clock_type: int) -> int | None:
        try:  # some GPUs and MIG slices do not report clocks
            return read(handle, clock_type)
        except pynvml.NVMLError:
            return None

    return Gpu(
        index=index,
        name=pynvml.nvmlDeviceGetName(handle),
        memory_gib=round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30, 1),
        sm_clock_mhz=clock(pynvml.nvmlDeviceGetClockInfo, pynvml.NVML_CLOCK_SM),
        sm_clock_max_mhz=clock(pynvml.nvmlDeviceGetMaxClockInfo, pynvml.NVML_CLOCK_SM),
        mem_clock_mhz=clock(pynvml.nvmlDeviceGetClockInfo, pynvml.NVML_CLOCK_MEM),
    )


def _read_kernels() -> dict[str, list[str]]:
    return {op: [key for key in DISPATCH_KEYS if _compat.has_kernel(op, key)]
            + ([PYTHON_FAKE] if _compat.has_python_fake(op) else [])
            for op in _compat.operator_names()}


# --- diagnosing ---------------------------------------------------------------------------

def _major(version: str) -> str:
    return version.split(".")[0]


def check_python(facts: Facts) -> Iterator[Finding]:
    major, minor = (int(part) for part in facts.python_version.split(".")[:2])
    if (major, minor) < (3, 10):
        yield Finding("python", "fail", f"{facts.python_version}: torchlab needs 3.10 or newer",
                      "install torchlab into an environment with Python 3.10 or newer")
    else:
        yield Finding("python", "ok", facts.python_version)


def check_torch(facts: Facts) -> Iterator[Finding]:
    kind = f"a CUDA {facts.torch_cuda} build" if facts.torch_cuda else "a CPU-only build"
    yield Finding("torch", "info", f"{facts.torch_version}, {kind}")
    yield Finding("C++11 ABI", "info", f"_GLIBCXX_USE_CXX11_ABI={int(facts.cxx11_abi)} "
                  "(torch's extension builder compiles torchlab with the same)")


def check_cuda_toolkit(facts: Facts) -> Iterator[Finding]:
    name = "CUDA toolkit"
    if facts.torch_cuda is None:
        yield Finding(name, "info",
                      f"not used: torch is a CPU-only build (CUDA_HOME: {facts.cuda_home})")
        return
    wanted = f"a CUDA {_major(facts.torch_cuda)}.x toolkit"
    nvcc = facts.nvcc_version
    if facts.cuda_home is None:
        yield Finding(name, "warn",
                      "none found: the CUDA kernels will not be built (the CPU kernels will)",
                      f"install {wanted} (torch is built for CUDA {facts.torch_cuda}) "
                      "and set CUDA_HOME to it")
    elif nvcc is None:
        yield Finding(name, "warn",
                      f"CUDA_HOME={facts.cuda_home}, but its bin/nvcc --version did not run",
                      f"set CUDA_HOME to {wanted} that has bin/nvcc")
    elif _major(nvcc) != _major(facts.torch_cuda):
        yield Finding(
            name, "warn",
            f"nvcc {nvcc} at {facts.cuda_home}, but torch is built for CUDA {facts.torch_cuda}: "
            "torch's extension builder refuses a major-version mismatch, so the CUDA kernels "
            "will not build (the CPU kernels will)",
            f"install {wanted} to match torch's CUDA {facts.torch_cuda} and set CUDA_HOME to it, "
            f"or install a torch built for CUDA {_major(nvcc)}.x to match nvcc {nvcc}")
    else:
        yield Finding(name, "ok",
                      f"nvcc {nvcc} at {facts.cuda_home}, matching torch's CUDA {facts.torch_cuda}")


def check_cuda_headers(facts: Facts) -> Iterator[Finding]:
    if facts.torch_cuda is None:
        return
    if facts.cuda_headers_dir:
        yield Finding("CUDA headers", "ok", f"cublas_v2.h in {facts.cuda_headers_dir}")
    else:
        yield Finding(
            "CUDA headers", "warn",
            "cublas_v2.h is neither in CUDA_HOME/include nor in the nvidia-* wheels: torch's CUDA "
            "headers include cuBLAS, so the CUDA kernels will not compile",
            f"install the full CUDA {_major(facts.torch_cuda)}.x toolkit (a compiler-only one "
            "lacks the library headers), or reinstall the CUDA build of torch with its nvidia-* "
            "wheels")


def check_build_tools(facts: Facts) -> Iterator[Finding]:
    if facts.ninja:
        yield Finding("ninja", "ok", "found")
    else:
        yield Finding("ninja", "warn", "not found: building the extension needs it",
                      "pip install ninja")
    if facts.cxx_version:
        yield Finding("C++ compiler", "ok", f"{facts.cxx}: {facts.cxx_version}")
    else:
        yield Finding("C++ compiler", "warn",
                      f"`{facts.cxx} --version` did not run: the extension cannot be built",
                      "install a C++20 compiler (g++ 10+ or clang++ 10+), or set CXX to one")


def check_build_plan(facts: Facts) -> Iterator[Finding]:
    switch = build_config.CUDA_SWITCH
    setting = f"{switch}={facts.torchlab_cuda}" if facts.torchlab_cuda else f"{switch} unset"
    try:
        decision = build_config.decide_cuda(facts.torchlab_cuda, facts.torch_cuda, facts.cuda_home)
    except build_config.BuildConfigError as error:
        yield Finding("CUDA kernels in a build", "fail", str(error),
                      f"set {switch}=0 (CPU kernels only), or unset it (CUDA kernels when they "
                      "can be built)")
        return
    verdict = "yes" if decision.enabled else "no"
    yield Finding("CUDA kernels in a build", "info", f"{verdict} ({setting}: {decision.reason})")
    if facts.torch_cuda is not None:
        archs, source = build_config.cuda_arch_list(facts.arch_list_env, facts.gpu_capabilities)
        yield Finding("CUDA archs", "info", f"{build_config.ARCH_LIST_VAR}={archs} ({source})")


def check_gpus(facts: Facts) -> Iterator[Finding]:
    nvml = facts.nvml
    if not nvml.installed:
        yield Finding("GPUs", "warn",
                      "nvidia-ml-py is not installed: cannot read the GPUs, driver and clocks",
                      "pip install nvidia-ml-py")
    elif not nvml.gpus:
        why = nvml.error or "NVML sees no GPU"
        yield Finding("GPUs", "info", f"no NVIDIA GPU or driver ({why}): the CPU kernels work, "
                      "the CUDA kernels cannot run")
    for gpu in nvml.gpus:
        yield Finding(f"GPU {gpu.index}", "ok",
                      f"{gpu.name}, {gpu.memory_gib} GiB, driver {nvml.driver_version}, "
                      f"SM clock {gpu.sm_clock_mhz}/{gpu.sm_clock_max_mhz} MHz (now/max), "
                      f"memory clock {gpu.mem_clock_mhz} MHz")
    if facts.torch_cuda_available:
        yield Finding("torch.cuda", "ok", f"available, {len(facts.gpu_capabilities)} device(s)")
    elif nvml.gpus:
        fix = ("install a CUDA build of torch" if facts.torch_cuda is None else
               f"update the NVIDIA driver ({nvml.driver_version}) to one that supports CUDA "
               f"{facts.torch_cuda}, and check CUDA_VISIBLE_DEVICES")
        yield Finding("torch.cuda", "warn", "not available, though NVML sees a GPU", fix)
    else:
        yield Finding("torch.cuda", "info", "not available")


def check_extension(facts: Facts) -> Iterator[Finding]:
    if facts.extension_error is None:
        yield Finding("torchlab._C", "ok", "loaded")
    else:
        yield Finding("torchlab._C", "fail", f"did not load: {facts.extension_error}",
                      f"rebuild it from the torchlab checkout: {REBUILD}, "
                      "then run torchlab doctor again")


def check_kernels(facts: Facts) -> Iterator[Finding]:
    if facts.extension_error is not None or facts.kernels is None:
        return  # check_extension, or the probe's own finding, says why
    if not facts.kernels:
        yield Finding("operators", "fail", "torchlab._C loaded but registered no torchlab operator",
                      f"rebuild it: {REBUILD}")
    gpu_visible = facts.torch_cuda_available or bool(facts.nvml.gpus)
    for op, keys in facts.kernels.items():
        listed = ", ".join(keys) or "no kernel"
        if "CPU" not in keys:
            yield Finding(op, "fail", f"{listed}: no CPU kernel",
                          f"rebuild the extension: {REBUILD}")
        elif facts.torch_cuda and gpu_visible and "CUDA" not in keys:
            yield Finding(op, "warn", f"{listed}: extension built without its CUDA kernels",
                          f"{build_config.CUDA_SWITCH}=1 {REBUILD}")
        else:
            yield Finding(op, "ok", listed)


CHECKS = (check_python, check_torch, check_cuda_toolkit, check_cuda_headers, check_build_tools,
          check_build_plan, check_gpus, check_extension, check_kernels)


def diagnose(facts: Facts) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings.extend(check(facts))
        except Exception as error:  # a bug in a check must not hide the other findings
            findings.append(Finding(check.__name__, "warn", f"the check raised {error!r}",
                                    "a bug in torchlab doctor: please report it"))
    for probe, error in facts.probe_errors.items():
        findings.append(Finding(f"{probe} (probe)", "warn", f"could not be read: {error}",
                                "doctor could not check this: the error says why"))
    return findings


# --- reporting ----------------------------------------------------------------------------

def exit_status(findings: list[Finding]) -> int:
    return 1 if any(finding.status == "fail" for finding in findings) else 0


def format_text(findings: list[Finding]) -> str:
    width = max(len(finding.name) for finding in findings)
    lines = []
    for finding in findings:
        lines.append(f"{TAGS[finding.status]} {finding.name:<{width}}  {finding.detail}")
        if finding.status in ("warn", "fail") and finding.fix:
            lines.append(f"{'':6} fix: {finding.fix}")
    counts = {status: sum(f.status == status for f in findings) for status in TAGS}
    verdict = ("torchlab cannot be used until the failures are fixed" if counts["fail"] else
               "torchlab works; the warnings say what it cannot do yet" if counts["warn"] else
               "torchlab is ready")
    lines.append("\n" + ", ".join(f"{n} {status}" for status, n in counts.items()) + f": {verdict}")
    return "\n".join(lines)


def format_json(facts: Facts, findings: list[Finding]) -> str:
    return json.dumps({"facts": asdict(facts), "findings": [asdict(f) for f in findings],
                       "exit_status": exit_status(findings)}, indent=2)


def report(facts: Facts, *, as_json: bool = False, file: TextIO | None = None) -> int:
    """Print the diagnosis of ``facts``; the exit status: 1 if anything failed, else 0."""
    findings = diagnose(facts)
    text = format_json(facts, findings) if as_json else format_text(findings)
    print(text, file=file or sys.stdout)
    return exit_status(findings)


def run(*, as_json: bool = False) -> int:
    return report(collect(), as_json=as_json)
