"""The `torchlab` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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
