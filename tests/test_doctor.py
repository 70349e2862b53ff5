"""`torchlab doctor`: its checks on facts made by hand, then one real run on this machine."""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace

import torch

from torchlab import doctor
from torchlab.doctor import Facts, Finding, Gpu, Nvml

REBUILD_WITH_CUDA = "TORCHLAB_CUDA=1 pip install --no-build-isolation -e ."
ALL_KEYS = ["CPU", "CUDA", "Meta", "Autograd", "fake (Python)"]


def cpu_machine(**changes) -> Facts:
    """A healthy machine with a CPU-only torch and no GPU."""
    facts = Facts(
        python_version="3.11.7", torch_version="2.14.1+cpu", torch_cuda=None, cxx11_abi=True,
        cuda_home=None, nvcc_version=None, cuda_headers_dir=None, ninja=True,
        cxx="c++", cxx_version="c++ (Debian 12.2.0-14) 12.2.0", torchlab_cuda=None,
        arch_list_env=None, gpu_capabilities=[], torch_cuda_available=False,
        nvml=Nvml(error="NVML Shared Library Not Found"), extension_error=None,
        kernels={"torchlab::bias_gelu": ["CPU", "Meta", "Autograd", "fake (Python)"]})
    return replace(facts, **changes)


def gpu_machine(**changes) -> Facts:
    """A healthy H100 machine with a CUDA 13.0 torch and a matching toolkit."""
    h100 = Gpu(index=0, name="NVIDIA H100 80GB HBM3", memory_gib=79.6, sm_clock_mhz=1980,
               sm_clock_max_mhz=1980, mem_clock_mhz=2619)
    facts = cpu_machine(
        torch_version="2.14.1+cu130", torch_cuda="13.0", cuda_home="/usr/local/cuda",
        nvcc_version="13.0", cuda_headers_dir="/usr/local/cuda/include",
        gpu_capabilities=[(9, 0)], torch_cuda_available=True,
        nvml=Nvml(driver_version="580.65.06", gpus=[h100]),
        kernels={"torchlab::bias_gelu": ALL_KEYS})
    return replace(facts, **changes)


def findings_named(facts: Facts, name: str) -> list[Finding]:
    return [finding for finding in doctor.diagnose(facts) if finding.name == name]


def test_healthy_machines_have_nothing_to_fix():
    for facts in (cpu_machine(), gpu_machine()):
        findings = doctor.diagnose(facts)
        assert {finding.status for finding in findings} <= {"ok", "info"}, findings
        assert doctor.exit_status(findings) == 0


def test_missing_ninja_warns_with_its_install_command():
    [ninja] = findings_named(cpu_machine(ninja=False), "ninja")
    assert ninja.status == "warn"
    assert "pip install ninja" in ninja.fix


def test_nvcc_major_version_mismatch_warns_naming_both_versions():
    [toolkit] = findings_named(gpu_machine(nvcc_version="12.8"), "CUDA toolkit")
    assert toolkit.status == "warn"
    for version in ("12.8", "13.0"):
        assert version in toolkit.detail
        assert version in toolkit.fix


def test_extension_that_does_not_load_fails_with_exit_status_1():
    facts = cpu_machine(extension_error="libc10_cuda.so: cannot open shared object file",
                        kernels=None)
    out = io.StringIO()
    assert doctor.report(facts, file=out) == 1
    text = out.getvalue()
    assert re.search(r"\[FAIL\] torchlab\._C .*libc10_cuda\.so", text), text
    assert "pip install --no-build-isolation -e ." in text


def test_op_without_cuda_kernel_on_a_gpu_machine_gives_the_rebuild_fix():
    without_cuda = {"torchlab::bias_gelu": ["CPU", "Meta", "Autograd", "fake (Python)"]}
    [op] = findings_named(gpu_machine(kernels=without_cuda), "torchlab::bias_gelu")
    assert op.status == "warn"
    assert "without its CUDA kernels" in op.detail
    assert op.fix == REBUILD_WITH_CUDA
    # Without a GPU, or without a CUDA build of torch, the CUDA kernels are not missed.
    no_gpu = gpu_machine(kernels=without_cuda, torch_cuda_available=False, gpu_capabilities=[],
                         nvml=Nvml(error="NVML Shared Library Not Found"))
    for facts in (no_gpu, cpu_machine(kernels=without_cuda)):
        [op] = findings_named(facts, "torchlab::bias_gelu")
        assert op.status == "ok"


def test_op_without_cpu_kernel_fails():
    facts = gpu_machine(kernels={"torchlab::bias_gelu": ["CUDA", "Meta"]})
    [op] = findings_named(facts, "torchlab::bias_gelu")
    assert op.status == "fail"
    assert doctor.exit_status(doctor.diagnose(facts)) == 1


def test_missing_pynvml_warns_with_its_install_command():
    [gpus] = findings_named(gpu_machine(nvml=Nvml(installed=False)), "GPUs")
    assert gpus.status == "warn"
    assert "pip install nvidia-ml-py" in gpus.fix


def test_invalid_torchlab_cuda_setting_fails():
    findings = doctor.diagnose(cpu_machine(torchlab_cuda="2"))
    [build] = [finding for finding in findings if finding.name == "CUDA kernels in a build"]
    assert build.status == "fail"
    assert "TORCHLAB_CUDA" in build.detail and "'2'" in build.detail
    assert doctor.exit_status(findings) == 1


def test_a_probe_that_raised_becomes_a_warning():
    facts = cpu_machine(probe_errors={"NVML": "RuntimeError: boom"})
    [probe] = findings_named(facts, "NVML (probe)")
    assert probe.status == "warn"
    assert "boom" in probe.detail


def test_doctor_on_this_machine(capsys):
    assert doctor.run() == 0
    report = capsys.readouterr().out
    match = re.search(r"^\[ ok \] torchlab::bias_gelu\s+(.+)$", report, re.MULTILINE)
    assert match, report
    keys = match.group(1).split(", ")
    assert "CPU" in keys
    assert "fake (Python)" in keys  # torchlab.ops registers it with torch.library.register_fake
    if torch.version.cuda is not None and os.environ.get("TORCHLAB_CUDA") != "0":
        assert "CUDA" in keys  # a CUDA torch builds the CUDA kernels unless told not to
