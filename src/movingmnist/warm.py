"""Warm output memory: large output buffers are kept after their arrays die and handed out again.

Writing into memory a process has never touched pays a page fault per page, and on virtual machines that hand freed
memory back to the host (and on kernels that compact memory for huge pages at fault time) the first write can cost
ten to fifty times a write into memory already in use. A Batch that ``mm.generate`` returns is fresh memory; a
training loop that generates, uses and drops a batch each step would pay that every step. So the arrays of a new
Batch are carved out of one buffer (one allocation, written front to back), and when every array carved from a
buffer is gone, the buffer is not freed: the next Batch of at most its size reuses it, already faulted in.

The pool holds at most ``$MOVINGMNIST_WARM_BYTES`` bytes of buffers nobody uses (default: a quarter of the memory a
batch may take, at most 4 GiB; ``0`` turns the pool off). :func:`release` frees the unused ones now.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

WARM_ENV = "MOVINGMNIST_WARM_BYTES"
ALIGN = 64  # each array starts on a cache line
MIN_POOLED = 1 << 22  # smaller buffers are cheap to fault in: not kept

_lock = threading.Lock()
_buffers: list[np.ndarray] = []  # uint8 owners; in use while anything else refers to them


def budget() -> int:
    """Bytes of unused buffers the pool may keep."""
    value = os.environ.get(WARM_ENV)
    if value is not None:
        try:
            return max(0, int(value))
        except ValueError:
            pass
    from .limits import memory_bytes

    return min(memory_bytes() // 4, 4 << 30)


def _unused(i: int) -> bool:
    """Whether pooled buffer ``i`` is free: only the pool's list and getrefcount's argument refer to it (every array
    carved from it holds a reference to it as its base)."""
    return sys.getrefcount(_buffers[i]) <= 2


def buffer(nbytes: int) -> np.ndarray:
    """A 1-D uint8 array of at least ``nbytes`` bytes, from the pool when an unused one fits (the smallest of at
    most twice the size), else new (and pooled)."""
    if nbytes < MIN_POOLED or budget() == 0:
        return np.empty(max(nbytes, 1), dtype=np.uint8)
    with _lock:
        best = -1
        for i in range(len(_buffers)):
            size = _buffers[i].nbytes
            if nbytes <= size <= 2 * nbytes and _unused(i) and (best < 0 or size < _buffers[best].nbytes):
                best = i
        if best >= 0:
            return _buffers[best]
        _buffers.append(np.empty(nbytes, dtype=np.uint8))
        _trim(budget(), keep=len(_buffers) - 1)
        return _buffers[-1]


def _trim(limit: int, keep: int = -1) -> None:
    """Drop unused buffers, oldest first, until the unused ones hold at most ``limit`` bytes (``keep``: an index
    never dropped, the buffer being handed out)."""
    unused = [i for i in range(len(_buffers)) if i != keep and _unused(i)]
    total = sum(_buffers[i].nbytes for i in unused)
    drop = []
    for i in unused:
        if total <= limit:
            break
        drop.append(i)
        total -= _buffers[i].nbytes
    for i in reversed(drop):
        del _buffers[i]


def release() -> int:
    """Free every pooled buffer that no array uses any more; returns the bytes released."""
    with _lock:
        before = sum(b.nbytes for b in _buffers)
        _trim(0)
        return before - sum(b.nbytes for b in _buffers)


def carve(shapes: dict[str, tuple[tuple[int, ...], np.dtype]]) -> dict[str, np.ndarray]:
    """Arrays of the given shapes and dtypes, C-contiguous and cache-line aligned, carved from one buffer."""
    offsets, end = {}, 0
    for name, (shape, dtype) in shapes.items():
        start = -(-end // ALIGN) * ALIGN
        offsets[name] = start
        end = start + math.prod(shape) * np.dtype(dtype).itemsize
    base = buffer(end + ALIGN)
    shift = (-base.ctypes.data) % ALIGN
    out = {}
    for name, (shape, dtype) in shapes.items():
        dtype = np.dtype(dtype)
        start = shift + offsets[name]
        size = math.prod(shape) * dtype.itemsize
        out[name] = base[start : start + size].view(dtype).reshape(shape)
    return out
