"""The runner: writes a dataset chunk by chunk, in-process, in a local process pool or on a dask cluster.

    summary = mm.write_dataset("srivastava", seed=0, num=100_000, path="train.zarr", source="glyphs", workers=2)

Sequences ``[start, start + num)`` are cut into work chunks of ``chunk_size``. Whoever runs a chunk (this process,
a pool worker, a dask worker) renders it into a small reused Batch, ``render_rows`` sequences at a time, hands the
rows to the format's writer, which compresses them and commits the chunk durably to storage no other chunk
touches; only then does this process record the chunk in the manifest. Memory is bounded by the chunk size and
``render_rows``, never by ``num``. Because sequence i is a pure function of (spec, seed, i), the bytes do not
depend on how chunks are spread over processes or in which order they finish, and an interrupted run resumes
where it stopped (``resume=True``) with the same result as an uninterrupted one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import DatasetError, SpecError
from .generator import Generator, SourceLike, resolve_spec
from .io.base import Writer, make_layout
from .io.files import disk_usage, remove_path, storage_error
from .io.layout import Layout
from .io.manifest import Manifest
from .io.reader import KIND
from .io.writers import get_writer, infer_format, registered_writers
from .sources import GlyphBank
from .spec import Spec

#: Raw bytes of the largest default work chunk; the default chunk size is min(1000, this / bytes per sequence).
DEFAULT_CHUNK_BYTES = 256 * 2**20
DEFAULT_MAX_CHUNK = 1000


@dataclass
class WriteSummary:
    """What :func:`write_dataset` did. ``seconds`` is wall-clock time; ``render_seconds`` and ``write_seconds``
    (compression + write + fsync) add up the wall-clock time every process spent in each, ``compress_seconds`` the
    part of ``write_seconds`` spent compressing, ``cpu_seconds`` the CPU time of the processes that ran chunks (less
    than render + write when they wait for the disk or for a core)."""

    path: str
    format: str
    num: int
    written: int
    already: int
    nbytes: int
    seconds: float
    render_seconds: float = 0.0
    write_seconds: float = 0.0
    compress_seconds: float = 0.0
    cpu_seconds: float = 0.0
    workers: int = 1
    chunks: int = 0
    complete: bool = True
    pids: set[int] = field(default_factory=set)  # processes that rendered and wrote chunks
    peak_rss: dict[int, int] = field(default_factory=dict)  # pid -> peak resident memory (bytes) seen so far

    @property
    def seq_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """One-line summary for logs and the CLI."""
        if not self.written:
            head = f"{self.path} is already complete: {self.num:,} sequences"
            return f"{head}, {_human(self.nbytes)} on disk"
        resumed = f" (resumed: {self.already:,} were already written)" if self.already else ""
        return (
            f"wrote {self.written:,} sequences{resumed} in {self.seconds:.1f} s ({self.seq_per_s:,.0f} seq/s; "
            f"render {self.render_seconds:.1f} s, compress {self.compress_seconds:.1f} s, write "
            f"{self.write_seconds - self.compress_seconds:.1f} s over "
            f"{self.workers} worker{'s' if self.workers != 1 else ''}): {self.num:,} sequences, "
            f"{_human(self.nbytes)} on disk, {self.format} at {self.path}"
        )


class Interrupted(KeyboardInterrupt):
    """Generation was interrupted (Ctrl-C); finished chunks are recorded and ``resume=True`` completes it."""

    def __init__(self, path: str, written: int, total: int) -> None:
        self.path = path
        self.written = written
        self.total = total
        super().__init__(f"interrupted: {written:,} of {total:,} sequences are written to {path}")


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


# -- the job every executor runs ----------------------------------------------------------------------------------
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


_STATE: dict[tuple, tuple[Generator, Writer, Any, int]] = {}
_STATE_LOCK = threading.Lock()


#: Raw bytes of one render step inside a chunk (the reused output Batch): 64 srivastava sequences.
RENDER_STEP_BYTES = 32 * 2**20


def _render_rows(gen: Generator, layout: Layout, requested: int | None) -> int:
    row_bytes = sum(_prod(shape) * dtype.itemsize for shape, dtype in gen.shapes.values())
    rows = requested or min(64, RENDER_STEP_BYTES // max(row_bytes, 1))
    return max(1, min(rows, layout.chunk_size))


def _state(job: ChunkJob, gen: Generator | None = None) -> tuple[Generator, Writer, Any, int]:
    """Generator, writer and output Batch of ``job`` in this process and thread (built once, then reused)."""
    key = (job.run_id, threading.get_ident())
    with _STATE_LOCK:
        state = _STATE.get(key)
    if state is None:
        if gen is None:
            gen = Generator(Spec.from_dict(job.spec), seed=job.seed, source=job.source, cache_dir=job.cache_dir)
        layout = Layout.from_dict(job.layout)
        writer = get_writer(layout.format)(job.path, layout, durable=job.durable)
        rows = _render_rows(gen, layout, job.render_rows)
        state = (gen, writer, gen.allocate(rows), rows)
        with _STATE_LOCK:
            for old in [k for k in _STATE if k[-1] == key[-1]]:
                _STATE.pop(old)[1].close()
            _STATE[key] = state
    return state


def run_chunk(job: ChunkJob, chunk: int) -> ChunkResult:
    """Render chunk ``chunk`` of ``job`` and commit it durably; returns sizes and times (never the data)."""
    gen, writer, out, rows = _state(job)
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


# -- executors ----------------------------------------------------------------------------------------------------
_POOL_JOB: ChunkJob | None = None
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _init_pool_worker(job: ChunkJob) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and lets running chunks finish
    global _POOL_JOB
    _POOL_JOB = job


def _pool_chunk(chunk: int) -> ChunkResult:
    assert _POOL_JOB is not None
    return run_chunk(_POOL_JOB, chunk)


def _dask_chunk(job: ChunkJob, chunk: int, source: Any = None) -> ChunkResult:
    if source is not None:
        job = replace(job, source=source)
    return run_chunk(job, chunk)


class _Progress:
    def __init__(self, total: int, initial: int, enabled: bool, desc: str) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="seq", dynamic_ncols=True, desc=desc,
                smoothing=0.05, file=sys.stderr,
            )

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_inprocess(job: ChunkJob, chunks: list[int], on_result, gen: Generator) -> None:
    _state(job, gen)
    try:
        for chunk in chunks:
            on_result(run_chunk(job, chunk))
    finally:
        with _STATE_LOCK:
            state = _STATE.pop((job.run_id, threading.get_ident()), None)
        if state is not None:
            state[1].close()


def _run_pool(job: ChunkJob, chunks: list[int], on_result, workers: int) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = deque(chunks)
    running: dict[Any, int] = {}
    error: BaseException | None = None
    # One BLAS/OpenMP thread per worker: N workers x default threads oversubscribe the cores (spawned workers
    # inherit the environment; variables the user set are kept).
    saved = {var: os.environ.get(var) for var in _THREAD_VARS}
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_pool_worker,
        initargs=(job,),
    )

    def drain(timeout: float | None) -> None:
        nonlocal error
        done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            running.pop(future)
            try:
                on_result(future.result())
            except BrokenProcessPool:
                error = error or DatasetError("a worker process died (killed, or out of memory?)")
            except BaseException as exc:  # noqa: BLE001 - the first error is re-raised after the others finish
                error = error or exc

    try:
        while (pending and error is None) or running:
            while pending and error is None and len(running) < 2 * workers:
                chunk = pending.popleft()
                running[executor.submit(_pool_chunk, chunk)] = chunk
            drain(None)
    except KeyboardInterrupt:
        # Let the chunks being written finish (workers ignore SIGINT) and record them; a second Ctrl-C stops now.
        for future in running:
            future.cancel()
        try:
            while running:
                drain(None)
        except KeyboardInterrupt:
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        executor.shutdown(wait=error is None, cancel_futures=True)
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    if error is not None:
        raise error


def _run_dask(job: ChunkJob, chunks: list[int], on_result, client: Any) -> None:
    from distributed import as_completed

    source_arg = None
    if isinstance(job.source, GlyphBank):
        source_arg = client.scatter(job.source, broadcast=True, hash=False)
        job = replace(job, source=None)
    window = max(2, 2 * sum(client.nthreads().values()))
    pending = deque(chunks)
    running: dict[Any, int] = {}
    futures = as_completed()
    token = os.urandom(4).hex()

    def submit() -> None:
        while pending and len(running) < window:
            chunk = pending.popleft()
            future = client.submit(
                _dask_chunk, job, chunk, source_arg, key=f"movingmnist-chunk-{chunk}-{token}", pure=False
            )
            running[future] = chunk
            futures.add(future)

    error: BaseException | None = None
    try:
        submit()
        for future in futures:
            running.pop(future, None)
            try:
                on_result(future.result())
            except Exception as exc:  # noqa: BLE001
                error = error or exc
                pending.clear()
            if error is None:
                submit()
            if not running:
                break
    except KeyboardInterrupt:
        client.cancel(list(running))
        raise
    if error is not None:
        raise error


# -- existing datasets --------------------------------------------------------------------------------------------
@dataclass
class _Existing:
    format: str
    manifest: Manifest | None
    complete: bool


def _is_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and all(n.endswith(".tmp") for n in os.listdir(path))


def _existing(path: str, durable: bool) -> _Existing | None:
    """What is at ``path``: None (nothing, or an empty directory), or a movingmnist dataset. DatasetError if it is
    something else (never touched)."""
    from .io.reader import Dataset

    writers = registered_writers()
    if not os.path.lexists(path):
        sidecar = writers["hdf5"].manifest_path(path)  # every single-file format keeps <file>.manifest.json
        if not os.path.isfile(sidecar):
            return None
    elif _is_empty_dir(path):
        return None
    candidates = (
        [w for w in writers.values() if not w.single_file]
        if os.path.isdir(path)
        else [w for w in writers.values() if w.single_file]
    )
    for writer in candidates:
        manifest = Manifest.load(writer.manifest_path(path), durable=durable)
        if manifest is not None:
            fmt = str(manifest.identity.get("format", writer.format))
            return _Existing(fmt, manifest, manifest.complete)
    try:
        ds = Dataset(path, allow_incomplete=True)
    except DatasetError:
        raise DatasetError(
            f"{path} exists and is not a movingmnist dataset; choose another path (it is left untouched)"
        ) from None
    return _Existing(ds.format, None, ds.complete)


def _remove_dataset(path: str, fmt: str) -> None:
    """Delete a dataset so that an interruption never leaves a manifest describing data that is gone: every owned
    path (the manifest first) is renamed to a hidden trash name, atomically, then deleted. Trash left by an
    earlier interrupted removal of the same dataset is deleted too."""
    writer = get_writer(fmt)
    manifest = writer.manifest_path(path)
    owned = sorted(writer.owned_paths(path), key=lambda p: p != manifest)
    token = os.urandom(4).hex()
    trash = []
    for item in owned:
        if os.path.lexists(item):
            directory, name = os.path.split(os.path.abspath(item))
            target = os.path.join(directory, f".{name}.trash-{token}")
            os.rename(item, target)
            trash.append(target)
    directory, name = os.path.split(os.path.abspath(path))
    for entry in os.listdir(directory):
        if entry.startswith(f".{name}") and ".trash-" in entry:
            trash.append(os.path.join(directory, entry))
    for item in dict.fromkeys(trash):
        remove_path(item)


def _identity(metadata: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("format", "layout", "spec", "fingerprint", "seed", "source", "num", "start", "created", "command")
    return {k: metadata[k] for k in keys if k in metadata}


def _resume_conflicts(stored: Mapping[str, Any], new: Mapping[str, Any], explicit: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between a stored dataset and the arguments of a resume."""
    conflicts = []
    if stored.get("fingerprint") != new["fingerprint"]:
        diff = Spec.from_dict(stored["spec"]).diff(Spec.from_dict(new["spec"]))
        diff.pop("preset", None)
        conflicts += [f"{k} (stored {a!r}, given {b!r})" for k, a, b in ((k, *v) for k, v in diff.items())]
    for key in ("seed", "num", "start"):
        if stored.get(key) != new[key]:
            conflicts.append(f"{key} (stored {stored.get(key)!r}, given {new[key]!r})")
    stored_layout = stored.get("layout", {})
    for key in ("format", "chunk_size", "compression"):
        if explicit.get(key) is not None and stored_layout.get(key) != explicit[key]:
            conflicts.append(f"{key} (stored {stored_layout.get(key)!r}, given {explicit[key]!r})")
    old_sum = (stored.get("source") or {}).get("checksum")
    new_sum = new["source"]["checksum"]
    if old_sum and old_sum != new_sum:
        conflicts.append(f"source content (stored checksum {old_sum[:12]}..., given {new_sum[:12]}...)")
    return conflicts


def _default_chunk_size(num: int, row_bytes: int) -> int:
    return max(1, min(num, DEFAULT_MAX_CHUNK, DEFAULT_CHUNK_BYTES // max(row_bytes, 1)))


def _check_int(name: str, value: Any, low: int, high: int | None = None, allowed: str | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        raise SpecError(name, value, allowed or (f"an integer in [{low}, {high}]" if high else f"an integer >= {low}"))
    return int(value)


# -- the entry point ----------------------------------------------------------------------------------------------
def write_dataset(
    spec: Spec | str,
    seed: int = 0,
    num: int | None = None,
    path: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    chunk_size: int | None = None,
    workers: int = 1,
    client: Any = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    source: SourceLike | None = None,
    split: str | None = None,
    start: int = 0,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    cache_dir: str | None = None,
    compression: str | None = None,
    render_rows: int | None = None,
    command: str | None = None,
    durable: bool = True,
) -> WriteSummary:
    """Generate sequences ``start .. start + num - 1`` of (spec, seed) and write them to ``path``.

    ::

        summary = mm.write_dataset("srivastava", seed=0, num=1000, path="toy.zarr", source="glyphs")
        mm.open("toy.zarr")[3]["frames"].shape      # (20, 1, 64, 64)

    Args:
        spec: a Spec or a preset name (``overrides`` apply to it; ``source``/``split`` are written into it).
        seed, num, path: dataset seed, number of sequences, output path.
        format: ``zarr`` (default), ``hdf5``, ``npy`` or ``classic-npy``; default: from the path's suffix
            (``.zarr``, ``.h5``/``.hdf5``, ``.npy-dir``, ``.npy``), else zarr.
        chunk_size: sequences per work chunk (and zarr shard); default min(1000, num, 256 MB of raw data).
        workers: local processes (1: in this process). client / scheduler: a dask ``Client`` or scheduler
            address; chunks then run on the cluster's workers, which write them directly (zarr only).
        resume: complete an interrupted dataset at ``path`` (refused if its spec, seed, N, format... differ;
            starts afresh when nothing is there). overwrite: replace an existing dataset.
        progress: show a tqdm bar (default: when stderr is a terminal).
        source, split, cache_dir: glyph source (name, GlyphBank or (images, labels)), its split, download cache.
        compression: ``zstd[:level]`` (zarr default zstd:1), ``lz4[:level]`` (zarr: blosc LZ4, 2.2x faster to
            compress, 2.5x the bytes; end to end +5-25% here), ``gzip[:level]`` (hdf5 default gzip:1) or ``none``.
        render_rows: sequences rendered per step inside a chunk (bounds scratch memory; default ~64).
        command: the command line recorded in the metadata (default: ``sys.argv``).
        durable: fsync data and manifest before recording a chunk (turn off only for throwaway data).

    Returns:
        A :class:`WriteSummary`. Raises :class:`Interrupted` (a KeyboardInterrupt) on Ctrl-C, after recording the
        chunks that finished; DatasetError / SpecError for bad arguments, existing data, full disks.
    """
    num = _check_int("num", num, 1)
    if path is None:
        raise SpecError("path", None, "an output path such as 'train.zarr'")
    path = os.fspath(path)
    if path.startswith("file://"):
        path = path[len("file://") :]
    if "://" in path:
        raise SpecError(
            "path", path, "a local or shared-filesystem path (object-store URLs are not supported by the writers yet)"
        )
    seed = _check_int("seed", seed, 0, 2**63 - 1)
    start = _check_int("start", start, 0)
    workers = _check_int("workers", workers, 1)
    if chunk_size is not None:
        chunk_size = _check_int("chunk_size", chunk_size, 1, num, f"an integer in [1, num={num}]")
    if render_rows is not None:
        render_rows = _check_int("render_rows", render_rows, 1)
    if resume and overwrite:
        raise SpecError("resume", True, "resume or overwrite, not both")
    if client is not None and scheduler is not None:
        raise SpecError("scheduler", scheduler, "a scheduler address or a dask client, not both")
    distributed = client is not None or scheduler is not None
    if distributed and workers != 1:
        raise SpecError("workers", workers, "1 with a dask cluster (size the cluster instead)")
    if format is not None:
        get_writer(format)

    existing = _existing(path, durable)
    if existing is not None and not resume and not overwrite:
        state = "a complete" if existing.complete else "an incomplete"
        raise DatasetError(
            f"{path} already exists ({state} {existing.format} dataset); pass --overwrite to replace it"
            + ("" if existing.complete else " or --resume to complete it")
        )
    fmt = format or (existing.format if existing is not None and resume else infer_format(path))
    writer_cls = get_writer(fmt)
    if distributed and not writer_cls.distributed:
        raise SpecError("format", fmt, "zarr with a dask cluster (its workers write shards directly)")

    resolved = resolve_spec(spec, overrides, source=source, split=split)
    gen = Generator(resolved, seed=seed, source=source, cache_dir=cache_dir)
    row_bytes = sum(_prod(s) * d.itemsize for s, d in gen.shapes.values())
    layout = make_layout(
        writer_cls,
        gen.shapes,
        num=num,
        start=start,
        chunk_size=chunk_size or _default_chunk_size(num, row_bytes),
        compression=compression,
    )
    writer_cls.check_layout(layout)
    metadata: dict[str, Any] = {
        "kind": KIND,
        **gen.metadata(),
        "format": fmt,
        "num": num,
        "start": start,
        "layout": layout.to_dict(),
        "complete": False,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command if command is not None else " ".join(sys.argv),
    }
    already_complete = False
    manifest = None
    if existing is not None and resume:
        manifest = existing.manifest
        if manifest is None:
            if not existing.complete:
                raise DatasetError(
                    f"cannot resume {path}: its manifest is missing, so which chunks are written is unknown; "
                    "use --overwrite to start again"
                )
            already_complete = True
        else:
            stored = manifest.identity
            explicit = {
                "format": format,
                "chunk_size": chunk_size,
                "compression": writer_cls.check_compression(compression) if compression else None,
            }
            conflicts = _resume_conflicts(stored, metadata, explicit)
            if conflicts:
                raise DatasetError(
                    f"cannot resume {path}: it was generated with different settings: {'; '.join(conflicts)}; "
                    "give the same arguments, or --overwrite to start again"
                )
            layout = Layout.from_dict(stored["layout"])
            metadata.update(layout=layout.to_dict(), created=stored.get("created"), command=stored.get("command"))
            already_complete = manifest.complete
            if not manifest.done and not manifest.complete:
                manifest = None  # nothing recorded: start again from an empty structure
    elif existing is not None and overwrite:
        _remove_dataset(path, existing.format)

    summary = WriteSummary(path, fmt, num, 0, num, 0, 0.0, chunks=layout.num_chunks)
    if already_complete:
        summary.nbytes = disk_usage(writer_cls.owned_paths(path))
        return summary

    own_client = None
    if scheduler is not None:  # connect before anything is written
        client = own_client = _connect(scheduler)
    try:
        return _write(
            path, writer_cls, layout, metadata, manifest, existing, gen, source, seed, num, cache_dir, durable,
            render_rows, progress, workers, client, summary,
        )
    finally:
        if own_client is not None:
            own_client.close()


def _connect(scheduler: str) -> Any:
    from .errors import require

    require("distributed", "dask", "--scheduler")
    from distributed import Client

    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise DatasetError(f"cannot connect to the dask scheduler at {scheduler}: {exc}") from None


def _write(
    path: str,
    writer_cls: type[Writer],
    layout: Layout,
    metadata: dict[str, Any],
    manifest: Manifest | None,
    existing: _Existing | None,
    gen: Generator,
    source: Any,
    seed: int,
    num: int,
    cache_dir: str | None,
    durable: bool,
    render_rows: int | None,
    progress: bool | None,
    workers: int,
    client: Any,
    summary: WriteSummary,
) -> WriteSummary:
    if manifest is None:
        if existing is not None:
            _remove_dataset(path, existing.format)
        manifest = Manifest(writer_cls.manifest_path(path), layout.num_chunks, _identity(metadata), durable=durable)
        _create(writer_cls, path, layout, metadata, manifest)

    # -- run the missing chunks -------------------------------------------------------------------------------------
    missing = manifest.missing()
    done_rows = num - sum(hi - lo for lo, hi in (layout.chunk_range(c) for c in missing))
    summary.already = done_rows
    job = ChunkJob(
        spec=gen.spec.to_dict(),
        seed=seed,
        source=gen.bank if not isinstance(source, (str, type(None))) else None,
        cache_dir=cache_dir,
        path=path,
        layout=layout.to_dict(),
        durable=durable,
        render_rows=render_rows,
    )
    if progress is None:
        progress = sys.stderr.isatty()
    bar = _Progress(num, done_rows, bool(progress) and bool(missing), os.path.basename(path.rstrip("/")))
    written = 0

    def on_result(result: ChunkResult) -> None:
        nonlocal written
        manifest.record([result.chunk])
        written += result.rows
        summary.render_seconds += result.render_seconds
        summary.write_seconds += result.write_seconds
        summary.compress_seconds += result.compress_seconds
        summary.cpu_seconds += result.cpu_seconds
        summary.pids.add(result.pid)
        summary.peak_rss[result.pid] = max(summary.peak_rss.get(result.pid, 0), result.max_rss)
        bar.update(result.rows)

    t0 = time.perf_counter()
    try:
        if client is not None:
            summary.workers = len(client.nthreads())
            _run_dask(job, missing, on_result, client)
        elif workers > 1 and len(missing) > 1:
            summary.workers = min(workers, len(missing))
            _run_pool(job, missing, on_result, summary.workers)
        else:
            _run_inprocess(job, missing, on_result, gen)
    except KeyboardInterrupt:
        bar.close()
        raise Interrupted(path, done_rows + written, num) from None
    except DatasetError as exc:
        bar.close()
        raise DatasetError(f"{exc} ({done_rows + written:,} of {num:,} sequences are written)") from None
    except OSError as exc:
        bar.close()
        raise storage_error(exc, path, "writing the dataset") from None
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t0
    summary.written = written

    # -- mark complete ------------------------------------------------------------------------------------------------
    if not manifest.all_done:  # pragma: no cover - every path above either records all chunks or raises
        raise DatasetError(f"{path}: {len(manifest.missing())} chunks are still missing")
    writer = writer_cls(path, layout, durable=durable)
    try:
        writer.write_metadata({**metadata, "complete": True})
        manifest.complete = True
        manifest.save()
    except OSError as exc:
        raise storage_error(exc, path, "marking the dataset complete") from None
    finally:
        writer.close()
    if os.path.exists(path + ".lock"):
        os.remove(path + ".lock")
    summary.complete = True
    summary.nbytes = disk_usage(writer_cls.owned_paths(path))
    return summary


def _create(writer_cls: type[Writer], path: str, layout: Layout, metadata: Mapping[str, Any], manifest: Manifest):
    """Create an empty dataset: the manifest first (so that an interruption leaves something recognisable),
    then the structure. On failure, remove what this call created and raise a one-line DatasetError."""
    parent = os.path.dirname(os.path.abspath(path))
    new_parents = []
    p = parent
    while not os.path.lexists(p):
        new_parents.append(p)
        p = os.path.dirname(p)
    dir_existed = os.path.isdir(path)
    try:
        if not os.path.isdir(p):
            raise NotADirectoryError(20, "Not a directory", p)
        os.makedirs(parent, exist_ok=True)
        if writer_cls.single_file and dir_existed:
            raise IsADirectoryError(21, "Is a directory", path)
        if not writer_cls.single_file and not dir_existed:
            os.mkdir(path)
        manifest.save()
        writer_cls.create(path, layout, metadata)
    except OSError as exc:
        if writer_cls.single_file:
            if not dir_existed:
                for owned in writer_cls.owned_paths(path):
                    remove_path(owned)
        elif dir_existed:
            for name in os.listdir(path):
                remove_path(os.path.join(path, name))
        else:
            remove_path(path)
        for created in new_parents:
            if os.path.isdir(created) and not os.listdir(created):
                os.rmdir(created)
        raise storage_error(exc, path, "creating the dataset", resumable=False) from None


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


def _human(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{nbytes} B"
