"""An operator's workload under torch.profiler: the table of the kernels it launched (or,
on the CPU, of the operators it ran) and a Chrome trace (open it in chrome://tracing or
https://ui.perfetto.dev). Each repetition is an NVTX range, so the same run under Nsight
Systems shows where each begins and ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function


@dataclass(frozen=True)
class KernelRow:
    name: str
    calls: int
    total_us: float

    @property
    def mean_us(self) -> float:
        return self.total_us / self.calls if self.calls else 0.0


def _device_time(event) -> float:
    # Renamed from cuda_* to device_* in torch 2.4; read whichever this torch has.
    return getattr(event, "self_device_time_total", None) or getattr(
        event, "self_cuda_time_total", 0.0)


def run(fn: Callable[[], object], *, device: str, label: str, reps: int = 5,
        trace: Path | None = None) -> list[KernelRow]:
    """Profiles ``reps`` calls of ``fn`` after a warm-up; returns the rows of the table,
    the most expensive first: GPU kernels on CUDA, operators on the CPU."""
    for _ in range(2):
        fn()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as prof:
        for i in range(reps):
            nvtx = (torch.cuda.nvtx.range(f"{label} #{i}") if device == "cuda"
                    else contextlib.nullcontext())
            with nvtx, record_function(f"{label} #{i}"):
                fn()
        if device == "cuda":
            torch.cuda.synchronize()
    if trace is not None:
        trace.parent.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace))
    rows = []
    for event in prof.key_averages():
        if device == "cuda":
            if _device_time(event) > 0 and event.device_type == torch.autograd.DeviceType.CUDA:
                rows.append(KernelRow(event.key, event.count, _device_time(event)))
        elif event.key.startswith("aten::") or event.key.startswith("torchlab::"):
            rows.append(KernelRow(event.key, event.count, event.self_cpu_time_total))
    return sorted(rows, key=lambda r: r.total_us, reverse=True)


def format_table(rows: list[KernelRow], *, device: str, reps: int, width: int = 90) -> str:
    what = "GPU kernel" if device == "cuda" else "operator (self CPU time)"
    total = sum(r.total_us for r in rows) or 1.0
    header = f"{what:<{width}}  {'calls':>6}  {'total us':>10}  {'mean us':>9}  {'share':>6}"
    lines = [header, "-" * len(header)]
    for r in rows:
        name = r.name if len(r.name) <= width else r.name[: width - 1] + "…"
        lines.append(f"{name:<{width}}  {r.calls:>6}  {r.total_us:>10.1f}  {r.mean_us:>9.2f}  "
                     f"{r.total_us / total:>6.1%}")
    lines.append(f"({reps} repetitions; calls and totals are over all of them)")
    return "\n".join(lines)
