"""torch.profiler around an operator's workload: the table and the Chrome trace."""

from __future__ import annotations

import json

import torch

import torchlab
from torchlab.profile import torch_profiler


def test_cpu_profile_lists_the_operator_and_writes_a_trace(tmp_path):
    x, bias = torch.randn(64, 128), torch.randn(128)
    trace = tmp_path / "trace.json"
    rows = torch_profiler.run(lambda: torchlab.bias_gelu(x, bias), device="cpu",
                              label="bias_gelu", reps=3, trace=trace)
    by_name = {r.name: r for r in rows}
    assert by_name["torchlab::bias_gelu"].calls == 3
    assert rows == sorted(rows, key=lambda r: r.total_us, reverse=True)
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("name") == "bias_gelu #2" for e in events)
    table = torch_profiler.format_table(rows, device="cpu", reps=3)
    assert "torchlab::bias_gelu" in table and "(3 repetitions" in table
