"""Timing a piece of work, on the GPU with CUDA events or on the CPU with a wall clock.

Every repetition starts with cold caches: the L2 (GPU) or the last-level cache (CPU) is
flushed by writing a buffer larger than it, outside the timed region. The median of the
repetitions is the figure to quote, with the spread beside it. The number of repetitions
adapts to the work's length, so short work gets enough of them for a stable median.

Launch-bound work, whose kernels the CPU queues no faster than the GPU runs them (Python
and launch overhead; small shapes), is timed again as a CUDA graph replay, which takes the
CPU's cost out: ``method="graph"``, with the events' median kept beside it (``events_ms``:
what eager code pays).
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

# Repetitions: enough to fill this much measured time, within [MIN_REPS, MAX_REPS].
TARGET_SECONDS = 0.25
MIN_REPS, MAX_REPS = 20, 500
# Launch-bound: the CPU takes at least this share of the GPU time to queue the work.
LAUNCH_BOUND_CPU_SHARE = 0.5
# Larger than the last-level cache of desktop and most server CPUs (the largest, with 3D
# cache, hold more: their timings may keep some data cached).
CPU_FLUSH_BYTES = 64 << 20


@dataclass(frozen=True)
class Timing:
    median_ms: float
    min_ms: float
    max_ms: float
    reps: int
    method: str  # "events", "graph" or "wall clock"
    # The CPU queued the work no faster than the GPU ran it (GPU only).
    launch_bound: bool = False
    events_ms: float | None = None  # for "graph": the median by events, launch cost included

    @property
    def spread(self) -> float:
        """(max - min) / median."""
        return (self.max_ms - self.min_ms) / self.median_ms if self.median_ms else 0.0


def _summary(times_ms: list[float], method: str) -> Timing:
    return Timing(statistics.median(times_ms), min(times_ms), max(times_ms), len(times_ms), method)


def _reps_for(estimate_ms: float) -> int:
    return int(min(MAX_REPS, max(MIN_REPS, TARGET_SECONDS * 1e3 / max(estimate_ms, 1e-3))))


def _l2_flush_buffer() -> torch.Tensor:
    l2_bytes = torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size
    return torch.empty(2 * max(l2_bytes, 1 << 20), dtype=torch.uint8, device="cuda")


def _time_events(fn: Callable[[], object], flush: torch.Tensor,
                 reps: int) -> tuple[list[float], list[float]]:
    """GPU times by events, and the CPU's time to queue each repetition (both in ms)."""
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(reps)]
    queue_ms = []
    for start, end in events:
        flush.zero_()  # keeps the GPU busy while the CPU queues fn
        begin = time.perf_counter()
        start.record()
        fn()
        end.record()
        queue_ms.append((time.perf_counter() - begin) * 1e3)
    torch.cuda.synchronize()
    return [start.elapsed_time(end) for start, end in events], queue_ms


def _capture(fn: Callable[[], object]) -> torch.cuda.CUDAGraph | None:
    """fn captured as a CUDA graph, or None where it cannot be (a sync inside, say)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # capture needs warm-up on a side stream
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            fn()
    except Exception:  # a failed capture leaves nothing behind to time: events will do
        with contextlib.suppress(Exception):
            torch.cuda.synchronize()
        return None
    return graph


def time_cuda(fn: Callable[[], object], *, warmup: int = 3, reps: int | None = None,
              graph_if_launch_bound: bool = True) -> Timing:
    """Time ``fn`` (work queued on the current CUDA stream); ``reps=None`` adapts them."""
    flush = _l2_flush_buffer()
    for _ in range(warmup):
        fn()
    estimate, _ = _time_events(fn, flush, 3)
    reps = reps or _reps_for(statistics.median(estimate))
    times, queue_ms = _time_events(fn, flush, reps)
    timing = _summary(times, "events")
    launch_bound = statistics.median(queue_ms) >= LAUNCH_BOUND_CPU_SHARE * timing.median_ms
    timing = dataclasses.replace(timing, launch_bound=launch_bound)
    if graph_if_launch_bound and launch_bound:
        graph = _capture(fn)
        if graph is not None:
            times, _ = _time_events(graph.replay, flush, reps)
            timing = dataclasses.replace(_summary(times, "graph"), launch_bound=True,
                                         events_ms=timing.median_ms)
    return timing


def time_cpu(fn: Callable[[], object], *, warmup: int = 2, reps: int | None = None) -> Timing:
    """Time ``fn`` on the CPU by the wall clock, caches flushed before each repetition."""
    flush = torch.empty(CPU_FLUSH_BYTES, dtype=torch.uint8)
    for _ in range(warmup):
        fn()

    def once() -> float:
        flush.zero_()
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3

    estimate = statistics.median(once() for _ in range(3))
    return _summary([once() for _ in range(reps or _reps_for(estimate))], "wall clock")


def time_on(device: str, fn: Callable[[], object], *, graph_if_launch_bound: bool = True) -> Timing:
    if device == "cuda":
        return time_cuda(fn, graph_if_launch_bound=graph_if_launch_bound)
    return time_cpu(fn)
