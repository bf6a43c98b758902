"""Timing helpers shared by the benchmark scripts (same-run memory-copy bound, medians)."""

from __future__ import annotations

import time

import numpy as np


def median_rates(fn, num: int, repeats: int) -> tuple[float, float]:
    """Median sequences/s of ``fn`` (which produces ``num`` sequences) by wall clock and by process CPU time,
    after one untimed warm-up call (buffers, kernels)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return num / float(np.median(wall)), num / float(np.median(cpu))


def copy_bound(nbytes: int, num: int, repeats: int) -> float:
    """Sequences/s if producing the output cost only a memcpy of its bytes between warm buffers."""
    src = np.ones(nbytes, dtype=np.uint8)
    dst = np.zeros(nbytes, dtype=np.uint8)
    return median_rates(lambda: np.copyto(dst, src), num, repeats)[0]
