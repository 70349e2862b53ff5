"""Nsight Compute helpers: the command line, reading its CSV, the verdict, and a clear
message where ncu is missing. (ncu itself runs only on a GPU machine.)"""

from __future__ import annotations

import pytest

from torchlab.profile import ncu

HEADER = ('"ID","Process ID","Process Name","Host Name","thread Domain:Push/Pop_Range",'
          '"Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC",'
          '"Section Name","Metric Name","Metric Unit","Metric Value"')


def row(kernel_id: int, kernel: str, metric: str, unit: str, value: str) -> str:
    return (f'"{kernel_id}","1441","python3.12","127.0.0.1","workload","{kernel}","1","7",'
            f'"(256, 1, 1)","(2048, 1, 1)","0","9.0","Command line profiler metrics",'
            f'"{metric}","{unit}","{value}"')


OUTPUT = "\n".join([
    "==PROF== Connected to process 1441",
    "some line the program printed",
    HEADER,
    row(0, "forward_kernel", "dram__throughput.avg.pct_of_peak_sustained_elapsed", "%", "91.5"),
    row(0, "forward_kernel", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "40.2"),
    row(0, "forward_kernel", "gpu__time_duration.sum", "ns", "25,344"),
    row(0, "forward_kernel", "dram__bytes.sum.per_second", "byte/s", "1,879,010,101,010.10"),
    row(0, "forward_kernel", "launch__registers_per_thread", "register/thread", "40"),
    row(1, "matmul_kernel", "dram__throughput.avg.pct_of_peak_sustained_elapsed", "%", "12"),
    row(1, "matmul_kernel", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "55"),
    row(1, "matmul_kernel", "not_a_curated.metric", "%", "1"),
])


def test_parse_csv_reads_kernels_in_order_with_thousands_separators():
    kernels = ncu.parse_csv(OUTPUT)
    assert [k.kernel for k in kernels] == ["forward_kernel", "matmul_kernel"]
    first = kernels[0].values
    assert first["gpu__time_duration.sum"] == 25344
    assert first["dram__bytes.sum.per_second"] == pytest.approx(1.87901e12, rel=1e-5)
    assert "not_a_curated.metric" not in kernels[1].values


def test_parse_csv_without_a_table_gives_no_kernels():
    assert ncu.parse_csv("==PROF== Disconnected\n") == []


def test_verdict_names_the_bound_and_the_distance_to_it():
    memory, compute = ncu.parse_csv(OUTPUT)
    assert ncu.verdict(memory).startswith("memory-bound: DRAM at 92% of peak")
    assert "at the ceiling" in ncu.verdict(memory)
    assert ncu.verdict(compute).startswith("compute-bound: SM at 55% of peak")
    assert "45% of the ceiling left" in ncu.verdict(compute)
    assert ncu.verdict(ncu.KernelMetrics("k")).startswith("no verdict")


def test_report_shows_units_people_read():
    text = ncu.format_report(ncu.parse_csv(OUTPUT))
    assert "25.3 us" in text and "1879 GB/s" in text and "=> memory-bound" in text
    assert "profiled no kernel" in ncu.format_report([])


def test_command_uses_the_gpu_clocks_and_profiles_between_profiler_start_and_stop():
    cmd = ncu.command("ncu", ["python", "x.py"], kernel_regex="torchlab::", launch_count=3)
    assert cmd[:3] == ["ncu", "--clock-control", "none"]
    assert cmd[-2:] == ["python", "x.py"]
    assert "regex:torchlab::" in cmd
    assert cmd[cmd.index("--profile-from-start") + 1] == "off"
    assert cmd[cmd.index("--launch-count") + 1] == "3"
    assert set(cmd[cmd.index("--metrics") + 1].split(",")) == set(ncu.METRICS)


def test_missing_ncu_says_where_to_get_it(monkeypatch):
    monkeypatch.setattr(ncu.shutil, "which", lambda name: None)
    with pytest.raises(ncu.NcuUnavailable, match="not on PATH.*CUDA toolkit"):
        ncu.find_ncu()
