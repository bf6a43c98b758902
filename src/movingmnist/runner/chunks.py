"""The job every executor runs: render one work chunk into a small reused Batch and commit it through the writer.

Whoever runs a chunk (this process, a pool worker, a dask worker) builds the job's generator, writer and output
Batch once per process and thread, renders the chunk ``render_rows`` sequences at a time, and hands the rows to the
format's writer, which compresses them and commits the chunk durably. Only sizes and times travel back.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..generator import Generator
from ..io.base import Writer, storage_kwargs
from ..io.files import storage_error
from ..io.layout import Layout
from ..io.writers import get_writer
from ..spec import Spec

#: Raw bytes of one render step inside a chunk (the reused output Batch): 64 srivastava sequences.
RENDER_STEP_BYTES = 32 * 2**20


@dataclass
class ChunkResult:
    chunk: int
    rows: int
    nbytes: int
    render_seconds: float
    write_seconds: float
    cpu_seconds: float = 0.0
    compress_seconds: float = 0.0
    pid: int = field(default_factory=os.getpid)
    max_rss: int = field(default_factory=lambda: _max_rss())  # peak resident memory of this process, bytes


@dataclass
class ChunkJob:
    """Everything a process needs to render and write any chunk of one dataset (picklable, small unless the
    source is an in-memory GlyphBank)."""

    spec: dict[str, Any]
    seed: int
    source: Any  # None: the spec's source name; or a GlyphBank
    cache_dir: str | None
    path: str
    layout: dict[str, Any]
    durable: bool = True
    render_rows: int | None = None
    run_id: str = field(default_factory=lambda: os.urandom(8).hex())
    #: Options of an object-store ``path``'s filesystem (credentials included: they travel with the job to the
    #: workers, never into the dataset). None: each worker's fsspec configuration and environment.
    storage_options: dict[str, Any] | None = None


_STATE: dict[tuple, tuple[Generator, Writer, Any, int]] = {}
_STATE_LOCK = threading.Lock()


def sequence_bytes(shapes: Mapping[str, tuple[Iterable[int], Any]]) -> int:
    """Raw bytes of one sequence of every array, from ``shapes`` (name -> (per-sequence shape, dtype))."""
    return sum(_prod(shape) * dtype.itemsize for shape, dtype in shapes.values())


def render_step_rows(gen: Generator, layout: Layout, requested: int | None) -> int:
    """Sequences rendered per step inside a chunk: ``requested``, else up to 64 (RENDER_STEP_BYTES of raw data)."""
    row_bytes = sequence_bytes(gen.shapes)
    rows = requested or min(64, RENDER_STEP_BYTES // max(row_bytes, 1))
    return max(1, min(rows, layout.chunk_size))


def process_state(job: ChunkJob, gen: Generator | None = None) -> tuple[Generator, Writer, Any, int]:
    """Generator, writer and output Batch of ``job`` in this process and thread (built once, then reused)."""
    key = (job.run_id, threading.get_ident())
    with _STATE_LOCK:
        state = _STATE.get(key)
    if state is None:
        if gen is None:
            gen = Generator(Spec.from_dict(job.spec), seed=job.seed, source=job.source, cache_dir=job.cache_dir)
        layout = Layout.from_dict(job.layout)
        writer = get_writer(layout.format)(
            job.path, layout, durable=job.durable, **storage_kwargs(job.path, job.storage_options)
        )
        rows = render_step_rows(gen, layout, job.render_rows)
        state = (gen, writer, gen.allocate(rows), rows)
        with _STATE_LOCK:
            for old in [k for k in _STATE if k[-1] == key[-1]]:
                _STATE.pop(old)[1].close()
            _STATE[key] = state
    return state


def release_process_state(job: ChunkJob) -> None:
    """Forget the state of ``job`` in this thread and close its writer."""
    with _STATE_LOCK:
        state = _STATE.pop((job.run_id, threading.get_ident()), None)
    if state is not None:
        state[1].close()


def run_chunk(job: ChunkJob, chunk: int) -> ChunkResult:
    """Render chunk ``chunk`` of ``job`` and commit it durably; returns sizes and times (never the data)."""
    gen, writer, out, rows = process_state(job)
    layout = writer.layout
    lo, hi = layout.chunk_range(chunk)
    render_s = write_s = 0.0
    cpu0 = time.process_time()
    try:
        with writer.chunk(chunk) as sink:
            for a in range(lo, hi, rows):
                n = min(rows, hi - a)
                t0 = time.perf_counter()
                batch = gen.render(layout.start + a, n, out)
                t1 = time.perf_counter()
                sink.write(batch.arrays())
                t2 = time.perf_counter()
                render_s += t1 - t0
                write_s += t2 - t1
            t3 = time.perf_counter()
        write_s += time.perf_counter() - t3
    except OSError as exc:
        raise storage_error(exc, job.path, f"writing chunk {chunk} (sequences {lo}..{hi - 1})") from None
    return ChunkResult(
        chunk, hi - lo, sink.nbytes, render_s, write_s, time.process_time() - cpu0, sink.compress_seconds
    )


def _max_rss() -> int:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _prod(shape: Iterable[int]) -> int:
    total = 1
    for s in shape:
        total *= int(s)
    return total
