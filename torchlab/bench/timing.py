"""Timing kernels with CUDA events.

Each repetition runs after the L2 cache is flushed (a write of twice its size, outside the
timed region), between two events on the current stream; the median of the repetitions is
the figure to quote, with the spread beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timing:
    median_ms: float
    min_ms: float
    max_ms: float
    reps: int

    @property
    def spread(self) -> float:
        """(max - min) / median."""
        return (self.max_ms - self.min_ms) / self.median_ms


def _l2_flush_buffer() -> torch.Tensor:
    l2_bytes = torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size
    return torch.empty(2 * max(l2_bytes, 1 << 20), dtype=torch.uint8, device="cuda")


def time_cuda(fn: Callable[[], object], *, warmup: int = 5, reps: int = 30,
              flush_l2: bool = True) -> Timing:
    """Time ``fn`` (work queued on the current CUDA stream) over ``reps`` repetitions."""
    flush = _l2_flush_buffer() if flush_l2 else None
    for _ in range(warmup):
        fn()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(reps)]
    for start, end in events:
        if flush is not None:
            flush.zero_()
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    times = [start.elapsed_time(end) for start, end in events]
    return Timing(statistics.median(times), min(times), max(times), reps)


def copy_bandwidth(nbytes: int = 1 << 30, **kwargs) -> tuple[float, Timing]:
    """The device-to-device copy ceiling in GB/s (bytes read + bytes written)."""
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    timing = time_cuda(lambda: dst.copy_(src), **kwargs)
    return 2 * nbytes / timing.median_ms / 1e6, timing


def gpu_environment() -> dict:
    """The GPU's identity, clocks, temperature and power (nvidia-ml-py), and the software."""
    import platform

    env = {
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(), "sms": torch.cuda.get_device_properties(0).multi_processor_count,
    }
    try:
        import pynvml
    except ImportError:
        env["nvml"] = "nvidia-ml-py is not installed"
        return env
    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        clock = pynvml.nvmlDeviceGetClockInfo
        max_clock = pynvml.nvmlDeviceGetMaxClockInfo
        env.update({
            "driver": pynvml.nvmlSystemGetDriverVersion(),
            "sm_clock_mhz": clock(handle, pynvml.NVML_CLOCK_SM),
            "sm_clock_max_mhz": max_clock(handle, pynvml.NVML_CLOCK_SM),
            "mem_clock_mhz": clock(handle, pynvml.NVML_CLOCK_MEM),
            "temperature_c": pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU),
            "power_w": pynvml.nvmlDeviceGetPowerUsage(handle) / 1000,
        })
        # Theoretical peak: memory clock x 2 (double data rate) x bus width.
        bus_bits = pynvml.nvmlDeviceGetMemoryBusWidth(handle)
        mem_max = max_clock(handle, pynvml.NVML_CLOCK_MEM)
        env["peak_bandwidth_gbps"] = mem_max * 1e6 * 2 * bus_bits / 8 / 1e9
    finally:
        pynvml.nvmlShutdown()
    return env
