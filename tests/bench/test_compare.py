"""Two benchmark runs side by side (torchlab.bench.compare and `torchlab compare`): speedups
point by point and their geometric means, points that only one run has or that failed,
and warnings where the two machines differ."""

from __future__ import annotations

import json
import math

import pytest

from torchlab import cli
from torchlab.bench import compare


def record(op, case, median_ms, *, provider="torchlab", mode="fwd", dtype="bfloat16",
           pct=50.0, **extra):
    return {"op": op, "provider": provider, "version": "", "mode": mode, "dtype": dtype,
            "case": case, "median_ms": median_ms, "pct_of_ceiling": pct, **extra}


def run(records, *, gpu="NVIDIA H200", copy_gbps=4300.0, commit="abc"):
    return {"environment": {"device": "cuda", "gpu": gpu, "git_commit": commit},
            "ceilings": {"copy_gbps": copy_gbps}, "records": records}


BEFORE = run([record("softmax", "4x8", 2.0), record("softmax", "8x8", 3.0),
              record("softmax", "8x8", 1.0, provider="eager"),
              record("rms_norm", "4x8", 1.0), record("rms_norm", "2x2", 1.0)])
AFTER = run([record("softmax", "4x8", 1.0, pct=90.0), record("softmax", "8x8", 4.0),
             record("softmax", "8x8", 0.5, provider="eager"),
             record("rms_norm", "4x8", None, error="wrong result: off by 1"),
             record("rms_norm", "16x16", 1.0)], commit="def")


def test_speedup_is_before_over_after_for_each_point():
    rows = {r["point"]: r["speedup"] for r in compare.rows(BEFORE, AFTER)}
    assert rows["softmax bfloat16 fwd 4x8"] == pytest.approx(2.0)
    assert rows["softmax bfloat16 fwd 8x8"] == pytest.approx(0.75)
    # a failed point, and points only one run has, have no speedup
    assert rows["rms_norm bfloat16 fwd 4x8"] is None
    assert rows["rms_norm bfloat16 fwd 16x16"] is None
    assert rows["rms_norm bfloat16 fwd 2x2"] is None
    # the other provider's records are left out
    assert len(rows) == 5


def test_markdown_gives_the_geometric_mean_and_every_point():
    text = compare.markdown(BEFORE, AFTER)
    mean = math.sqrt(2.0 * 0.75)
    assert f"| softmax | bfloat16 | fwd | 2 | {mean:.3f}x | 0.750x | 2.000x |" in text
    assert "| softmax bfloat16 fwd 4x8 | 2 | 1 | 2.000x | 50.0% | 90.0% |" in text
    assert "| rms_norm bfloat16 fwd 4x8 | 1 | wrong result | — | 50.0% | wrong result |" in text
    assert "| rms_norm bfloat16 fwd 16x16 | not run | 1 |" in text
    assert "| rms_norm bfloat16 fwd 2x2 | 1 | not run |" in text
    assert "commit abc" in text and "commit def" in text
    assert "warning" not in text


def test_another_provider_can_be_compared():
    text = compare.markdown(BEFORE, AFTER, provider="eager")
    assert "| softmax bfloat16 fwd 8x8 | 1 | 0.5 | 2.000x |" in text
    assert "4x8" not in text


def test_different_gpus_and_ceilings_are_warned_of():
    other = run(AFTER["records"], gpu="NVIDIA H100 80GB HBM3", copy_gbps=3000.0)
    found = compare.warnings(BEFORE, other)
    assert any("different GPUs" in w for w in found)
    assert any("copy bandwidth differs by -30.2%" in w for w in found)
    close = run(AFTER["records"], copy_gbps=4300.0 * 1.02)
    assert compare.warnings(BEFORE, close) == []


def test_command_reads_files_or_folders_and_writes_the_table(tmp_path, capsys):
    (tmp_path / "before").mkdir()
    (tmp_path / "before" / "bench.json").write_text(json.dumps(BEFORE))
    (tmp_path / "after.json").write_text(json.dumps(AFTER))
    out = tmp_path / "compare.md"
    assert cli.main(["compare", str(tmp_path / "before"), str(tmp_path / "after.json"),
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text()
    assert "| softmax bfloat16 fwd 4x8 | 2 | 1 | 2.000x |" in printed


def test_command_names_a_file_it_cannot_read(tmp_path, capsys):
    assert cli.main(["compare", str(tmp_path / "missing.json"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("torchlab compare: cannot read a benchmark run from")
    assert "missing.json" in err
    (tmp_path / "other.json").write_text(json.dumps({"records": []}))
    assert cli.main(["compare", str(tmp_path / "other.json"), str(tmp_path)]) == 2
    assert "not a `torchlab bench` result: no environment, ceilings" in capsys.readouterr().err
