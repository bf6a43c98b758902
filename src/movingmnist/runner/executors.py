"""Executors: run the missing chunks of a job in this process, in a local process pool, or on a dask cluster.

Each calls ``on_result(ChunkResult)`` in this process as chunks finish (the runner records them in the manifest
there). After an error no new chunk starts; the chunks already running finish and are recorded, then the first
error is raised. On Ctrl-C the pool lets running chunks finish (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from ..errors import DatasetError
from ..generator import Generator
from ..sources import GlyphBank
from .chunks import ChunkJob, ChunkResult, process_state, release_process_state, run_chunk

OnResult = Callable[[ChunkResult], None]

_POOL_JOB: ChunkJob | None = None
#: Set in the pool's environment: a worker that re-runs the user's unguarded script creates this file and exits.
_RERUN_MARKER = "MOVINGMNIST_POOL_RERUN_MARKER"
UNGUARDED_MAIN = (
    "the worker processes re-ran the main script, which calls write_dataset again: put the call under "
    '`if __name__ == "__main__":` (or use workers=1)'
)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# -- in this process ----------------------------------------------------------------------------------------------
def run_inprocess(job: ChunkJob, chunks: list[int], on_result: OnResult, gen: Generator) -> None:
    """Run the chunks here, one after the other, with the caller's generator."""
    process_state(job, gen)
    try:
        for chunk in chunks:
            on_result(run_chunk(job, chunk))
    finally:
        release_process_state(job)


# -- local process pool -------------------------------------------------------------------------------------------
class UnguardedMainError(DatasetError):
    """write_dataset was called while a spawned process re-imports the main script (no ``__main__`` guard)."""


def _in_spawn_bootstrap() -> bool:
    """True while a spawned child re-executes the parent's main module (multiprocessing's ``prepare`` step)."""
    import sys

    # the stack is the only sure sign: parent_process() and sys.modules["__main__"] are only set after this step
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name in ("_fixup_main_from_path", "_fixup_main_from_name") and "multiprocessing" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def refuse_unguarded_main() -> None:
    """Called first by write_dataset. In a worker of our pool that is re-running the user's unguarded script, tell
    the parent (marker file) and exit quietly, so that the parent prints one line instead of N tracebacks; in
    other spawned processes (the user's own pools) raise UnguardedMainError."""
    if not _in_spawn_bootstrap():
        return
    marker = os.environ.get(_RERUN_MARKER)
    if marker:
        with contextlib.suppress(OSError):
            open(marker, "a").close()
        raise SystemExit(1)  # a child that cannot start: its traceback would only repeat the parent's message
    raise UnguardedMainError(UNGUARDED_MAIN)


def _init_pool_worker(job: ChunkJob) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and lets running chunks finish
    global _POOL_JOB
    _POOL_JOB = job
    exit_with_parent()


def exit_with_parent() -> None:
    """In a spawned worker: exit as soon as the parent process dies (killed with SIGKILL, out of memory), after the
    chunk commit under way, if any, finishes and before another starts. Without this, orphaned workers go on
    writing chunks that no manifest records, race with a later ``--resume`` and then block forever on their pipes.
    A thread waits on the pipe that the parent holds open (portable; it wakes only when the parent is gone)."""
    import multiprocessing
    import threading

    from ..io.base import COMMITS

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the pipe closes: the parent is gone
        COMMITS.close()
        os._exit(1)

    threading.Thread(target=watch, name="movingmnist-parent-watch", daemon=True).start()


def _pool_chunk(chunk: int) -> ChunkResult:
    assert _POOL_JOB is not None
    return run_chunk(_POOL_JOB, chunk)


@contextlib.contextmanager
def _one_thread_per_worker() -> Iterator[None]:
    """One BLAS/OpenMP thread per worker: N workers x default threads oversubscribe the cores (spawned workers
    inherit the environment; variables the user set are kept). The environment is restored afterwards."""
    saved = {var: os.environ.get(var) for var in _THREAD_VARS}
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextlib.contextmanager
def _environ(var: str, value: str) -> Iterator[None]:
    """``var=value`` in the environment (spawned workers inherit it), restored afterwards."""
    saved = os.environ.get(var)
    os.environ[var] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = saved


class _PoolRun:
    """The chunks of one job on a process pool, at most two per worker submitted at a time."""

    def __init__(self, executor: Any, chunks: list[int], on_result: OnResult, workers: int) -> None:
        self.executor = executor
        self.on_result = on_result
        self.window = 2 * workers
        self.pending = deque(chunks)
        self.running: dict[Any, int] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        while (self.pending and self.error is None) or self.running:
            while self.pending and self.error is None and len(self.running) < self.window:
                chunk = self.pending.popleft()
                self.running[self.executor.submit(_pool_chunk, chunk)] = chunk
            self._drain()

    def _drain(self) -> None:
        """Wait for at least one running chunk and hand over the results of those that finished."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        done, _ = wait(list(self.running), timeout=None, return_when=FIRST_COMPLETED)
        for future in done:
            self.running.pop(future)
            try:
                self.on_result(future.result())
            except BrokenProcessPool:
                self.error = self.error or DatasetError("a worker process died (killed, or out of memory?)")
            except BaseException as exc:  # noqa: BLE001 - the first error is re-raised after the others finish
                self.error = self.error or exc

    def stop(self) -> None:
        """After Ctrl-C: let the chunks being written finish (workers ignore SIGINT) and record them; a second
        Ctrl-C kills the workers."""
        for future in self.running:
            future.cancel()
        try:
            while self.running:
                self._drain()
        except KeyboardInterrupt:
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)


def run_pool(job: ChunkJob, chunks: list[int], on_result: OnResult, workers: int) -> None:
    """Run the chunks on ``workers`` spawned processes."""
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    marker = os.path.join(tempfile.gettempdir(), f"movingmnist-rerun-{os.getpid()}-{os.urandom(4).hex()}")
    with _one_thread_per_worker(), _environ(_RERUN_MARKER, marker):
        executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_pool_worker,
            initargs=(job,),
        )
        pool = _PoolRun(executor, chunks, on_result, workers)
        try:
            pool.run()
        except KeyboardInterrupt:
            pool.stop()
            raise
        finally:
            executor.shutdown(wait=pool.error is None, cancel_futures=True)
    if os.path.exists(marker):
        os.remove(marker)
        raise UnguardedMainError(UNGUARDED_MAIN)
    if pool.error is not None:
        raise pool.error


# -- dask cluster -------------------------------------------------------------------------------------------------
def _dask_chunk(job: ChunkJob, chunk: int, source: Any = None) -> ChunkResult:
    if source is not None:
        job = replace(job, source=source)
    return run_chunk(job, chunk)


def run_dask(job: ChunkJob, chunks: list[int], on_result: OnResult, client: Any) -> None:
    """Run the chunks on the workers of a dask cluster (an in-memory GlyphBank is scattered to them once)."""
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


def connect(scheduler: str) -> Any:
    """A dask Client of the scheduler at ``scheduler``; DatasetError if it cannot be reached."""
    from ..errors import require

    require("distributed", "dask", "--scheduler")
    from distributed import Client

    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise DatasetError(f"cannot connect to the dask scheduler at {scheduler}: {exc}") from None
