"""Benchmark tests time real work on this machine; they shrink the repetitions and the
ceilings' sizes, which these tests do not judge, so that the suite stays quick."""

from __future__ import annotations

import pytest

from torchlab.bench import ceilings, timing


@pytest.fixture(autouse=True, scope="session")
def quick_timing():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timing, "TARGET_SECONDS", 0.01)
        patch.setattr(timing, "MIN_REPS", 3)
        patch.setattr(timing, "CPU_FLUSH_BYTES", 4 << 20)
        patch.setitem(ceilings.COPY_BYTES, "cpu", 16 << 20)
        patch.setitem(ceilings.MATMUL_N, "cpu", 256)
        yield
