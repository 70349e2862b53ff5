"""Timing helpers: CPU wall-clock timing here; CUDA-event timing on a GPU."""

from __future__ import annotations

import time

import pytest
import torch

from torchlab.bench import timing


def test_cpu_timing_measures_the_work():
    t = timing.time_cpu(lambda: time.sleep(0.002), reps=5)
    assert t.method == "wall clock" and t.reps == 5
    assert 2.0 <= t.min_ms <= t.median_ms <= t.max_ms < 200
    assert t.spread >= 0


def test_repetitions_adapt_to_the_length_of_the_work():
    assert timing._reps_for(1000.0) == timing.MIN_REPS
    assert timing._reps_for(1e-6) == timing.MAX_REPS
    assert timing.MIN_REPS < timing._reps_for(2.0) < timing.MAX_REPS


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_timing_scales_with_the_work_and_replays_launch_bound_work():
    small = torch.randn(1 << 20, device="cuda")
    large = torch.randn(1 << 26, device="cuda")
    t_large = timing.time_cuda(lambda: large.mul(2))
    assert t_large.method == "events"
    # 64x the bytes: at least 16x the time, whatever the caches did.
    assert t_large.median_ms > 16 * timing.time_cuda(lambda: small.mul(2)).median_ms

    def many_launches():  # 200 tiny kernels: the CPU, not the GPU, sets the pace
        for _ in range(200):
            small[:8].add_(1)
    t = timing.time_cuda(many_launches)
    assert t.method == "graph"
    assert t.events_ms > t.median_ms
