"""Reports: JSON, CSV, Markdown and plots from a run's result."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from torchlab.bench import report, runner, spec


@pytest.fixture(scope="module")
def result():
    base = spec.specs()["bias_gelu"]
    small = dataclasses.replace(base, cases=lambda shape_set, device: [
        spec.Case((8, 16), {"approximate": "none"}), spec.Case((64, 128), {"approximate": "none"}),
        spec.Case((64, 128), {"approximate": "tanh"})])
    result = runner.run([small], device="cpu", dtypes=["float32"], modes=["fwd", "bwd"],
                        providers=["torchlab", "eager"], progress_file=io.StringIO())
    result["records"].append({  # a provider that was wrong
        "op": "bias_gelu", "provider": "torchlab", "version": "v0", "mode": "fwd",
        "dtype": "float32", "shape": [8, 16], "params": {"approximate": "none"},
        "case": "8x16 approximate=none", "bytes": 1, "flops": None,
        "error": "wrong result, not timed: output off"})
    return result


def test_writes_json_csv_markdown_and_a_plot_per_operator(result, tmp_path):
    files = report.write(result, tmp_path)
    assert sorted(f.name for f in files) == ["bench.csv", "bench.json", "bench.md", "bias_gelu.png"]
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["environment"]["device"] == "cpu"
    assert written["ceilings"]["copy_gbps"] == result["ceilings"]["copy_gbps"]
    assert [r["median_ms"] for r in written["records"] if "median_ms" in r] == [
        r["median_ms"] for r in result["records"] if "median_ms" in r]
    rows = list(csv.DictReader(open(tmp_path / "bench.csv")))
    assert len(rows) == len(result["records"])
    assert list(rows[0]) == list(report.COLUMNS)
    assert rows[0]["shape"] == "8x16"
    assert (tmp_path / "bias_gelu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_summarizes_torchlab_and_lists_every_provider(result):
    md = report.markdown(result, ["bias_gelu.png"])
    summary, everything = md.split("## Every provider")
    assert "copy" in summary and "GB/s" in summary
    timed = [r for r in result["records"] if "median_ms" in r]
    assert summary.count("| bias_gelu | torchlab") == sum(
        r["provider"] == "torchlab" for r in result["records"])
    assert everything.count("| bias_gelu |") == len(result["records"])
    assert "| wrong result, not timed: output off |" in everything
    for r in timed:
        assert f"{r['median_ms']:.4f}" in everything
    assert "![bias_gelu.png](bias_gelu.png)" in md


def test_console_table_has_one_row_per_torchlab_record(result):
    table = report.console_table(result)
    assert table.count("bias_gelu  torchlab") == sum(
        r["provider"] == "torchlab" for r in result["records"])
    assert "Ceilings measured in this run" in table
