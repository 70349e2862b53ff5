"""Nsight Compute on an operator's kernels: a curated set of hardware counters and a short
roofline verdict.

``torchlab profile OP --ncu`` runs itself again under ``ncu --clock-control none`` (the GPU
keeps its own clocks, as in the benchmarks), with the workload alone, and reads back ncu's
CSV. The counters:
- DRAM throughput, % of peak: how close a memory-bound kernel is to its ceiling;
- SM throughput, % of peak: the same for the busiest compute pipe;
- achieved occupancy: warps resident per SM, % of the maximum;
- registers per thread and shared memory per block: what limits occupancy;
- L2 hit rate: whether the reads came from DRAM or from the L2.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field

METRICS = {
    "gpu__time_duration.sum": "duration",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "DRAM throughput, % of peak",
    "dram__bytes.sum.per_second": "DRAM bandwidth",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "SM throughput, % of peak",
    "sm__warps_active.avg.pct_of_peak_sustained_active": "achieved occupancy, %",
    "launch__registers_per_thread": "registers per thread",
    "launch__shared_mem_per_block_static": "static shared memory per block",
    "launch__shared_mem_per_block_dynamic": "dynamic shared memory per block",
    "lts__t_sector_hit_rate.pct": "L2 hit rate, %",
}


class NcuUnavailable(RuntimeError):
    """ncu cannot run here; the message says why and what to do."""


def find_ncu() -> str:
    path = shutil.which("ncu")
    if path is None:
        raise NcuUnavailable(
            "ncu (Nsight Compute) is not on PATH. It ships with the CUDA toolkit "
            "(<CUDA_HOME>/bin/ncu) and as a standalone download from NVIDIA; put it on PATH "
            "and run again. Reading the counters may need root, or the driver option "
            "NVreg_RestrictProfilingToAdminUsers=0.")
    return path


def command(ncu: str, program: list[str], *, kernel_regex: str | None,
            launch_count: int) -> list[str]:
    """ncu's command line: the kernels launched between the program's cudaProfilerStart and
    cudaProfilerStop (from any thread: the backward's kernels come from autograd's own, which
    an NVTX range on the main thread would miss) and matching ``kernel_regex``, if given;
    the first ``launch_count`` of them."""
    cmd = [ncu, "--clock-control", "none", "--target-processes", "all", "--csv",
           "--page", "details", "--print-units", "base", "--launch-count", str(launch_count),
           "--profile-from-start", "off", "--metrics", ",".join(METRICS)]
    if kernel_regex:
        cmd += ["--kernel-name-base", "demangled", "--kernel-name", f"regex:{kernel_regex}"]
    return cmd + program


@dataclass
class KernelMetrics:
    kernel: str
    values: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def parse_csv(output: str) -> list[KernelMetrics]:
    """Kernels in launch order, with their metrics, from ncu's ``--csv --page details``
    output (other lines — the program's own, ncu's ==PROF== notes — are skipped)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        return []
    kernels: dict[str, KernelMetrics] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines[start:]))):
        if not row.get("ID") or row.get("Metric Name") not in METRICS:
            continue
        entry = kernels.setdefault(row["ID"], KernelMetrics(row["Kernel Name"]))
        value = _number(row["Metric Value"])
        if value is not None:
            entry.values[row["Metric Name"]] = value
            entry.units[row["Metric Name"]] = row.get("Metric Unit", "")
    return [kernels[k] for k in sorted(kernels, key=int)]


def verdict(k: KernelMetrics) -> str:
    """Memory- or compute-bound, and how far from that ceiling."""
    dram = k.values.get("dram__throughput.avg.pct_of_peak_sustained_elapsed")
    sm = k.values.get("sm__throughput.avg.pct_of_peak_sustained_elapsed")
    if dram is None or sm is None:
        return "no verdict: ncu did not report DRAM and SM throughput"
    bound, pct = ("memory", dram) if dram >= sm else ("compute", sm)
    other = f"SM at {sm:.0f}%" if bound == "memory" else f"DRAM at {dram:.0f}%"
    gap = 100 - pct
    closing = ("at the ceiling" if gap < 10
               else f"{gap:.0f}% of the ceiling left: look at latency (occupancy, loads in "
                    "flight) or at work beyond the byte/FLOP model")
    return f"{bound}-bound: {'DRAM' if bound == 'memory' else 'SM'} at {pct:.0f}% of peak ({other}); {closing}"


def _shown(name: str, value: float, unit: str) -> str:
    if name == "gpu__time_duration.sum":
        return f"{value / 1e3:.1f} us" if unit.startswith("n") else f"{value:g} {unit}"
    if name == "dram__bytes.sum.per_second":
        return f"{value / 1e9:.0f} GB/s" if unit.startswith("byte") else f"{value:g} {unit}"
    if name.startswith("launch__shared_mem"):
        return f"{value:.0f} bytes"
    return f"{value:.1f}" if "pct" in name else f"{value:g}"


def format_report(kernels: list[KernelMetrics]) -> str:
    if not kernels:
        return ("ncu profiled no kernel: the workload launched none that matched (try "
                "--provider, or check that the kernels run on this GPU).")
    blocks = []
    for i, k in enumerate(kernels):
        lines = [f"[{i}] {k.kernel}"]
        for name, label in METRICS.items():
            if name in k.values:
                lines.append(f"    {label:<36} {_shown(name, k.values[name], k.units[name])}")
        lines.append(f"    => {verdict(k)}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
