"""Where a benchmark ran: the software, the git commit, and the GPU's identity, clocks,
temperature and power (nvidia-ml-py), read at the start and at the end of a run.

NVML readings are best effort: a reading the driver refuses is left out, with the reason,
never raised.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch


def git_commit() -> str | None:
    """The commit of the torchlab checkout, with "+dirty" if it has uncommitted changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def software() -> dict:
    return {"torch": torch.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": git_commit()}


def gpu_telemetry(index: int) -> dict:
    """Clocks, temperature and power of CUDA device ``index`` now, and its theoretical
    bandwidth. NVML numbers GPUs its own way: the device is found by its PCI address."""
    try:
        import pynvml
    except ImportError:
        return {"nvml_error": "nvidia-ml-py is not installed (pip install nvidia-ml-py)"}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return {"nvml_error": f"NVML did not start: {error}"}
    telemetry: dict = {}
    try:
        handle = _nvml_handle(pynvml, index)
        readings = {
            "driver": pynvml.nvmlSystemGetDriverVersion,
            "sm_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
            "sm_clock_max_mhz":
                lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM),
            "mem_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM),
            "mem_clock_max_mhz":
                lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_MEM),
            "memory_bus_bits": lambda: pynvml.nvmlDeviceGetMemoryBusWidth(handle),
            "temperature_c":
                lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU),
            "power_w": lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000,
            "power_limit_w": lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000,
        }
        for name, read in readings.items():
            try:
                telemetry[name] = read()
            except pynvml.NVMLError as error:
                telemetry.setdefault("nvml_unread", {})[name] = str(error)
    except pynvml.NVMLError as error:
        telemetry["nvml_error"] = str(error)
    finally:
        pynvml.nvmlShutdown()
    if "mem_clock_max_mhz" in telemetry and "memory_bus_bits" in telemetry:
        # Double data rate: two transfers a clock, bus width in bits.
        telemetry["peak_bandwidth_gbps"] = (
            telemetry["mem_clock_max_mhz"] * 1e6 * 2 * telemetry["memory_bus_bits"] / 8 / 1e9)
    return telemetry


def _nvml_handle(pynvml, index: int):
    props = torch.cuda.get_device_properties(index)
    if hasattr(props, "pci_bus_id"):
        address = f"{props.pci_domain_id:08x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}.0"
        return pynvml.nvmlDeviceGetHandleByPciBusId(address)
    return pynvml.nvmlDeviceGetHandleByIndex(index)


def environment(device: str) -> dict:
    env = software()
    env["device"] = device
    if device == "cuda":
        index = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        env.update(gpu=props.name, sms=props.multi_processor_count,
                   capability=f"{props.major}.{props.minor}",
                   memory_gib=round(props.total_memory / 2**30, 1))
        env.update(gpu_telemetry(index))
    else:
        env.update(cpu=platform.processor() or platform.machine(),
                   threads=torch.get_num_threads())
    return env
