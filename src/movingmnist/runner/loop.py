"""The write loop: create the dataset if needed, run its missing chunks on an executor while recording each
finished chunk in the manifest, then mark the dataset complete."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DatasetError, SpecError
from ..generator import Generator
from ..io.base import Writer, storage_kwargs
from ..io.files import disk_usage, remove_path, storage_error
from ..io.layout import Layout
from ..io.manifest import Manifest
from ..io.remote import is_remote
from .chunks import ChunkJob, ChunkResult, sequence_bytes
from .executors import UnguardedMainError, run_dask, run_inprocess, run_pool
from .existing import ExistingDataset, identity, remove_dataset
from .summary import Interrupted, Progress, WriteSummary

#: Raw bytes below which ``workers > 1`` runs in this process instead: starting the spawned pool (imports and set-up
#: in every worker) took ~5 s here, while one process renders and writes the default srivastava spec at ~1,300
#: sequences/s (~110 MB/s raw), so below ~512 MiB (~6,500 such sequences) one process is done before the pool starts.
#: The environment variable MOVINGMNIST_POOL_MIN_BYTES overrides it (0: always use the pool).
POOL_MIN_BYTES = 512 * 2**20


def _pool_min_bytes() -> int:
    value = os.environ.get("MOVINGMNIST_POOL_MIN_BYTES")
    if value is None:
        return POOL_MIN_BYTES
    if not value.isdigit():
        raise SpecError("MOVINGMNIST_POOL_MIN_BYTES", value, "a whole number of bytes (0: always start the pool)")
    return int(value)


@dataclass(frozen=True, kw_only=True)
class WritePlan:
    """What a run writes, fixed once the arguments are checked and what is at ``path`` is examined: the format's
    writer class, the layout and metadata of the dataset, and what renders its sequences."""

    path: str
    writer_cls: type[Writer]
    layout: Layout
    metadata: dict[str, Any]
    gen: Generator
    source: Any  # as given to write_dataset: a name, a GlyphBank, (images, labels) or None
    seed: int
    num: int
    cache_dir: str | None
    durable: bool
    render_rows: int | None
    storage_options: dict[str, Any] | None = None  # of an object-store path
    lock_check: Callable[[], None] | None = None  # raises when the writer lock is no longer this run's

    def job(self) -> ChunkJob:
        """The picklable job every executor runs."""
        return ChunkJob(
            spec=self.gen.spec.to_dict(),
            seed=self.seed,
            source=self.gen.bank if not isinstance(self.source, (str, type(None))) else None,
            cache_dir=self.cache_dir,
            path=self.path,
            layout=self.layout.to_dict(),
            durable=self.durable,
            render_rows=self.render_rows,
            storage_options=self.storage_options,
        )

    def writer_kwargs(self) -> dict[str, Any]:
        """``durable`` and, for an object-store path, ``storage_options``: what the writer class takes."""
        return {"durable": self.durable, **storage_kwargs(self.path, self.storage_options)}


def write_chunks(
    plan: WritePlan,
    manifest: Manifest | None,
    existing: ExistingDataset | None,
    summary: WriteSummary,
    *,
    progress: bool | None,
    workers: int,
    client: Any,
) -> WriteSummary:
    """Write the chunks that ``manifest`` does not record (all of them, after creating the dataset, when it is
    None; ``existing`` is then removed first) and mark the dataset complete; fills in ``summary``."""
    path, layout, num = plan.path, plan.layout, plan.num
    pool_min = _pool_min_bytes()  # checked before anything is created
    created: list[str] | None = None  # the parent directories this run made, when it created the dataset
    if manifest is None:
        if existing is not None:
            remove_dataset(path, existing.format, plan.storage_options)
        manifest = Manifest(
            plan.writer_cls.manifest_path(path),
            layout.num_chunks,
            identity(plan.metadata),
            durable=plan.durable,
            storage_options=plan.storage_options,
        )
        created = create_dataset(plan.writer_cls, path, layout, plan.metadata, manifest, plan.storage_options)
    else:
        _salvage(plan, manifest, summary)

    # -- run the missing chunks -------------------------------------------------------------------------------------
    missing = manifest.missing()
    done_rows = num - sum(hi - lo for lo, hi in (layout.chunk_range(c) for c in missing))
    summary.already = done_rows
    job = plan.job()
    if progress is None:
        progress = sys.stderr.isatty()
    bar = Progress(num, done_rows, bool(progress) and bool(missing), os.path.basename(path.rstrip("/")))
    written = 0

    def on_result(result: ChunkResult) -> None:
        nonlocal written
        if plan.lock_check is not None:
            plan.lock_check()  # a run that lost its lock records nothing more
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
            run_dask(job, missing, on_result, client)
        elif workers > 1 and len(missing) > 1 and (num - done_rows) * sequence_bytes(plan.gen.shapes) < pool_min:
            summary.add_note(
                f"in this process, not {workers} workers: {num - done_rows:,} sequences take less time than "
                "starting the workers"
            )
            run_inprocess(job, missing, on_result, plan.gen)
        elif workers > 1 and len(missing) > 1:
            summary.workers = min(workers, len(missing))
            run_pool(job, missing, on_result, summary.workers)
        else:
            run_inprocess(job, missing, on_result, plan.gen)
    except KeyboardInterrupt:
        bar.close()
        raise Interrupted(path, done_rows + written, num) from None
    except UnguardedMainError:
        bar.close()
        if created is not None and written == 0:  # nothing came of this run: leave nothing to trip the next one
            remove_dataset(path, plan.metadata["format"], plan.storage_options)
            _remove_empty(created)
        raise
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
    _mark_complete(plan, manifest)
    summary.complete = True
    summary.nbytes = dataset_bytes(plan.writer_cls, path, plan.storage_options)
    return summary


def dataset_bytes(writer_cls: type[Writer], path: str, storage_options: Mapping[str, Any] | None) -> int:
    """Bytes the dataset at ``path`` takes in storage."""
    if is_remote(path):
        from ..io.remote import disk_usage as remote_usage

        try:
            return remote_usage(path, storage_options)
        except OSError:
            return 0
    return disk_usage(writer_cls.owned_paths(path))


def _salvage(plan: WritePlan, manifest: Manifest, summary: WriteSummary) -> None:
    """Before a resume: repair a dataset that an interrupted write damaged (an HDF5 file is rebuilt from its intact
    chunks) and forget the recorded chunks it does not really hold, so that they are written again."""
    try:
        kept, problem = plan.writer_cls.salvage(plan.path, plan.layout, plan.metadata, set(manifest.done))
    except OSError as exc:
        raise storage_error(exc, plan.path, "repairing the dataset") from None
    if problem is None:
        return
    lost = manifest.done - kept
    if lost:
        manifest.done = set(kept)
        manifest.save()
    rows = sum(hi - lo for lo, hi in (plan.layout.chunk_range(c) for c in lost))
    summary.add_note(
        f"the file was damaged by an interrupted write ({problem}) and was rebuilt: "
        + (f"{rows:,} sequences whose data was lost are written again" if rows else "no written sequence was lost")
    )


def _mark_complete(plan: WritePlan, manifest: Manifest) -> None:
    """Rewrite the metadata as complete, then the manifest; remove the HDF5 writers' lock file."""
    path = plan.path
    if not manifest.all_done:  # pragma: no cover - every path above either records all chunks or raises
        raise DatasetError(f"{path}: {len(manifest.missing())} chunks are still missing")
    writer = plan.writer_cls(path, plan.layout, **plan.writer_kwargs())
    try:
        writer.write_metadata({**plan.metadata, "complete": True})
        manifest.complete = True
        manifest.save()
    except OSError as exc:
        raise storage_error(exc, path, "marking the dataset complete") from None
    finally:
        writer.close()
    if not is_remote(path) and os.path.exists(path + ".lock"):
        os.remove(path + ".lock")


def create_dataset(
    writer_cls: type[Writer],
    path: str,
    layout: Layout,
    metadata: Mapping[str, Any],
    manifest: Manifest,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create an empty dataset: the manifest first (so that an interruption leaves something recognisable),
    then the structure; returns the parent directories it made. On failure, remove what this call created and
    raise a one-line DatasetError."""
    if is_remote(path):  # no directories on object storage: the manifest object, then zarr's metadata objects
        try:
            manifest.save()
            writer_cls.create(path, layout, metadata, **storage_kwargs(path, storage_options))
        except OSError as exc:
            from ..io import remote

            with contextlib.suppress(OSError):
                remote.remove(path, storage_options)
            raise storage_error(exc, path, "creating the dataset", resumable=False) from None
        return []
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
        _undo_create(writer_cls, path, dir_existed, new_parents)
        raise storage_error(exc, path, "creating the dataset", resumable=False) from None
    return new_parents


def _undo_create(writer_cls: type[Writer], path: str, dir_existed: bool, new_parents: list[str]) -> None:
    """Remove what a failed :func:`create_dataset` made: the dataset's paths (or the content of the directory
    that was there) and the parent directories it created, if they are empty."""
    if writer_cls.single_file:
        if not dir_existed:
            for owned in writer_cls.owned_paths(path):
                remove_path(owned)
    elif dir_existed:
        for name in os.listdir(path):
            remove_path(os.path.join(path, name))
    else:
        remove_path(path)
    _remove_empty(new_parents)


def _remove_empty(directories: list[str]) -> None:
    """Remove the directories (innermost first) that are empty."""
    for created in directories:
        if os.path.isdir(created) and not os.listdir(created):
            os.rmdir(created)
