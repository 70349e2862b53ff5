"""The `torchlab` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from torchlab import cli

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_no_subcommand_prints_usage_and_returns_2(capsys):
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: torchlab")
    assert "doctor" in out


def test_unknown_subcommand_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_doctor_json_through_python_m():
    result = subprocess.run(
        [sys.executable, "-m", "torchlab.cli", "doctor", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert result.returncode == report["exit_status"]
    names = {finding["name"] for finding in report["findings"]}
    assert {"python", "torch", "torchlab._C"} <= names
    assert all(finding["status"] in ("ok", "info", "warn", "fail")
               for finding in report["findings"])
    assert report["facts"]["torch_version"]


# --- bench and profile -------------------------------------------------------------------

def test_bench_on_cpu_writes_reports(tmp_path, capsys):
    status = cli.main(["bench", "bias_gelu", "--device", "cpu", "--dtype", "float32",
                       "--mode", "fwd", "--providers", "torchlab", "eager",
                       "--out", str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    assert "bias_gelu  torchlab  fwd" in out and "% of copy" in out
    assert {p.name for p in tmp_path.iterdir()} == {
        "bench.json", "bench.csv", "bench.md", "bias_gelu.png"}
    records = json.loads((tmp_path / "bench.json").read_text())["records"]
    assert {r["provider"] for r in records} == {"torchlab", "eager"}


def test_bench_unknown_op_lists_the_known_ones(capsys):
    assert cli.main(["bench", "softmax_typo", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "torchlab bench: no benchmark softmax_typo; there are: " in err
    assert "bias_gelu" in err and "softmax" in err


def test_bench_bad_choice_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--dtype", "float8"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'float8'" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
@pytest.mark.parametrize("command", [["bench", "--device", "cuda"],
                                     ["profile", "bias_gelu", "--device", "cuda"]])
def test_cuda_device_without_a_gpu_is_a_clear_error(command, capsys):
    assert cli.main(command) == 2
    assert "torch sees no CUDA GPU here" in capsys.readouterr().err


def test_profile_on_cpu_prints_the_table_and_writes_a_trace(tmp_path, capsys):
    status = cli.main(["profile", "bias_gelu", "--device", "cpu", "--shape", "32x64",
                       "--mode", "fwd+bwd", "--param", "approximate=tanh", "--out", str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    assert "torchlab::bias_gelu_backward" in out
    assert "fwd+bwd float32 32x64 approximate=tanh" in out
    assert (tmp_path / "trace-bias_gelu-fwd_bwd-float32.json").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--shape", "4x"], "--shape is positive sizes joined by 'x'"),
    (["--shape", "4x-1"], "--shape is positive sizes joined by 'x'"),
    (["--version", "v9"], "has no version 'v9'"),
])
def test_profile_bad_arguments_are_explained(argv, message, capsys):
    assert cli.main(["profile", "bias_gelu", "--device", "cpu", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
def test_profile_ncu_without_a_gpu_is_a_clear_error(capsys):
    assert cli.main(["profile", "bias_gelu", "--ncu"]) == 2
    assert "no CUDA GPU here" in capsys.readouterr().err


def test_profile_bad_operator_parameter_is_explained_not_a_traceback(capsys):
    assert cli.main(["profile", "bias_gelu", "--device", "cpu", "--shape", "4x8",
                     "--param", "approximate=bogus"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchlab profile: bias_gelu torchlab fwd float32 4x8 "
                          "approximate=bogus failed: ")
    assert "approximate" in err.split("failed: ")[1] and "Traceback" not in err
