"""The entry point, :func:`write_dataset`: check the arguments, look at what is at the path, plan the layout and the
metadata, then hand over to the write loop (:mod:`movingmnist.runner.loop`)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import DatasetError, SpecError, check_int
from ..generator import Generator, SourceLike, resolve_spec
from ..io.base import make_layout
from ..io.files import remove_stale_temps
from ..io.layout import Layout
from ..io.manifest import MAX_CHUNKS
from ..io.opening import KIND
from ..io.remote import is_remote
from ..io.writers import get_writer, infer_format, suffix_format
from ..sources import LEGACY_GLYPHS
from ..spec import Spec
from .chunks import render_step_rows, sequence_bytes
from .executors import connect, refuse_unguarded_main
from .existing import ExistingDataset, find_existing, remove_dataset, resume_point
from .lock import writer_lock
from .loop import WritePlan, dataset_bytes, write_chunks
from .summary import WriteSummary

#: Raw bytes of the largest default work chunk; the default chunk size is min(1000, this / bytes per sequence).
DEFAULT_CHUNK_BYTES = 256 * 2**20
DEFAULT_MAX_CHUNK = 1000


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
    storage_options: Mapping[str, Any] | None = None,
) -> WriteSummary:
    """Generate sequences ``start .. start + num - 1`` of (spec, seed) and write them to ``path``.

    ::

        summary = mm.write_dataset("srivastava", seed=0, num=1000, path="toy.zarr", source="glyphs")
        mm.open("toy.zarr")[3]["frames"].shape      # (20, 1, 64, 64)

    ``path`` may be an object-store URL (``s3://bucket/train.zarr``, any fsspec URL; zarr only): shards, manifest
    and metadata are then written there directly, by this process, the pool's workers or the cluster's.

    Args:
        spec: a Spec or a preset name (``overrides`` apply to it; ``source``/``split`` are written into it).
        seed, num, path: dataset seed, number of sequences, output path (or a zarr dataset's fsspec URL).
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
        storage_options: for a URL, the keyword arguments of its fsspec filesystem (S3: ``endpoint_url``, ``key``,
            ``secret``, ...); they travel with every chunk task to the workers. Default: fsspec's configuration and
            the backend's environment variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...) on each machine.

    Returns:
        A :class:`WriteSummary`. Raises :class:`Interrupted` (a KeyboardInterrupt) on Ctrl-C, after recording the
        chunks that finished; DatasetError / SpecError for bad arguments, existing data, full disks.
    """
    refuse_unguarded_main()  # first: a spawned worker re-running an unguarded script must not touch the path
    num = _check_int("num", num, 1, MAX_INDEX, "an integer >= 1 and <= 2**63-1")
    path = _output_path(path)
    seed = _check_int("seed", seed, 0, 2**63 - 1)
    # Why: sequence indices are 64-bit; the last one, start+num-1, must fit (else an OverflowError deep inside).
    start = _check_int(
        "start", start, 0, MAX_INDEX - num, f"an integer in [0, 2**63-1-num] = [0, {MAX_INDEX - num}] "
        "(sequence indices start..start+num-1 are 64-bit)"
    )
    workers = _check_int("workers", workers, 1)
    if chunk_size is not None:
        chunk_size = _check_int("chunk_size", chunk_size, 1, num, f"an integer in [1, num={num}]")
    if render_rows is not None:
        render_rows = _check_int("render_rows", render_rows, 1)
    distributed = _check_execution(
        resume=resume, overwrite=overwrite, workers=workers, client=client, scheduler=scheduler
    )
    if format is not None:
        get_writer(format)
        named = suffix_format(str(path))
        if named is not None and named != format:  # an HDF5 file called .zarr would mislead every later reader
            raise SpecError("format", format, f"the format that the suffix of {str(path)!r} names, {named} (or give "
                            "the output a suffix of its format, or none)")
    remote = is_remote(path)
    if remote:
        _check_object_storage(path, format)
        storage_options = dict(storage_options or {})
    elif storage_options:
        raise SpecError("storage_options", storage_options, "None for a local path (they configure the "
                        "filesystem of an object-store URL such as s3://bucket/train.zarr)")

    with writer_lock(path, storage_options) as lock:  # before anything at the path is looked at: one run per dataset
        existing = find_existing(path, durable, storage_options)
        _refuse_existing(path, existing, resume=resume, overwrite=overwrite)
        fmt = format or (existing.format if existing is not None and resume else infer_format(path))
        writer_cls = get_writer(fmt)
        if distributed and not writer_cls.distributed:
            raise SpecError("format", fmt, "zarr with a dask cluster (its workers write shards directly)")

        # A resumed dataset keeps the digits it was begun with: plain "glyphs" in metadata written before the
        # built-in digits had versions means glyphs@1.
        plain_glyphs = LEGACY_GLYPHS if resume and _stored_source_name(existing) == "glyphs" else None
        gen = Generator(
            resolve_spec(spec, overrides, source=source, split=split, plain_glyphs=plain_glyphs),
            seed=seed,
            source=None if isinstance(source, str) else source,  # a name is in the resolved spec
            cache_dir=cache_dir,
        )
        _check_output_size(num, sequence_bytes(gen.shapes))
        _check_chunks(num, chunk_size)
        layout = make_layout(
            writer_cls,
            gen.shapes,
            num=num,
            start=start,
            chunk_size=chunk_size or _default_chunk_size(num, sequence_bytes(gen.shapes)),
            compression=compression,
        )
        # One render step (render_rows sequences, at least one) must fit in memory: refused here, before anything
        # is written, rather than as a MemoryError inside the first chunk.
        rows = render_step_rows(gen, layout, render_rows)
        gen.check_memory(rows, "render_rows", "lower render_rows", what="a render step")
        if workers > 1 and not distributed:  # each local worker holds its own step
            gen.check_memory(rows * workers, "workers", f"use fewer workers (each renders {rows:,} sequences at a "
                             "time)", value=workers, what=f"{workers} workers' render steps")
        writer_cls.check_layout(layout)
        metadata = _metadata(gen, fmt, layout, command)
        already_complete = False
        manifest = None
        if existing is not None and resume:
            explicit = {
                "format": format,
                "chunk_size": chunk_size,
                "compression": writer_cls.check_compression(compression) if compression else None,
            }
            point = resume_point(path, existing, layout, metadata, explicit)
            layout, metadata, manifest, already_complete = point.layout, point.metadata, point.manifest, point.complete
            if not already_complete and not remote:  # object stores get no temporaries: a PUT is whole or absent
                remove_stale_temps(path)  # left by a killed run; we hold the lock, so none is being written
        elif existing is not None and overwrite:
            remove_dataset(path, existing.format, storage_options)

        summary = WriteSummary(path, fmt, num, 0, num, 0, 0.0, chunks=layout.num_chunks)
        if getattr(lock, "took_over", None):
            summary.add_note(f"took over the writer lock of a run that died ({lock.took_over})")
        if already_complete:
            summary.nbytes = dataset_bytes(writer_cls, path, storage_options)
            return summary

        plan = WritePlan(
            path=path,
            writer_cls=writer_cls,
            layout=layout,
            metadata=metadata,
            gen=gen,
            source=source,
            seed=seed,
            num=num,
            cache_dir=cache_dir,
            durable=durable,
            render_rows=render_rows,
            storage_options=storage_options if remote else None,
            lock_check=lock.check,
        )
        own_client = None
        if scheduler is not None:  # connect before anything is written
            client = own_client = connect(scheduler)
        try:
            return write_chunks(plan, manifest, existing, summary, progress=progress, workers=workers, client=client)
        finally:
            if own_client is not None:
                own_client.close()


#: The largest sequence index (indices are int64).
MAX_INDEX = 2**63 - 1
#: Datasets whose raw (uncompressed) arrays would exceed this many bytes (256 TiB) are refused up front: no disk
#: holds them, and planning their chunks alone would take minutes and all the memory before failing.
MAX_OUTPUT_BYTES = 2**48


def _check_output_size(num: int, per_sequence: int) -> None:
    """Refuse a ``num`` whose raw output would exceed :data:`MAX_OUTPUT_BYTES`, naming the bytes needed."""
    needed = num * per_sequence
    if needed > MAX_OUTPUT_BYTES:
        most = MAX_OUTPUT_BYTES // max(per_sequence, 1)
        raise SpecError(
            "num", num, f"at most {most:,} sequences of this spec: {num:,} x {per_sequence:,} bytes = {needed:,} "
            f"bytes of raw arrays, over the limit of 2**48 bytes (256 TiB) per dataset"
        )


def _check_chunks(num: int, chunk_size: int | None) -> None:
    """Refuse a ``chunk_size`` that cuts ``num`` sequences into more than :data:`MAX_CHUNKS` work chunks (the
    default chunk size grows to stay under it)."""
    if chunk_size is not None and -(-num // chunk_size) > MAX_CHUNKS:
        least = -(-num // MAX_CHUNKS)
        raise SpecError(
            "chunk_size", chunk_size, f"at least {least:,} for num={num:,}: {num:,} sequences in chunks of "
            f"{chunk_size:,} make {-(-num // chunk_size):,} work chunks, over the limit of {MAX_CHUNKS:,} chunks "
            "per dataset (the manifest tracks each one)"
        )


def _check_int(name: str, value: Any, low: int, high: int | None = None, allowed: str | None = None) -> int:
    return check_int(name, value, low, high, allowed)


def _output_path(path: str | os.PathLike[str] | None) -> str:
    """``path`` as a local path (``file://`` URLs become paths) or an object-store URL (``s3://bucket/key``, without
    a trailing ``/``); SpecError for None and for URLs without a protocol or a key."""
    if not isinstance(path, (str, os.PathLike)):
        raise SpecError("path", path, "an output path (a str or os.PathLike) such as 'train.zarr'")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path.startswith("file://"):
        path = path[len("file://") :]
    if "://" in path:
        protocol, _, rest = path.partition("://")
        rest = rest.rstrip("/")
        if not protocol or not rest.strip("/"):
            raise SpecError("path", path, "a local path or an fsspec URL with a protocol and a key, such as "
                            "s3://bucket/train.zarr")
        return f"{protocol}://{rest}"
    return path


def _check_object_storage(path: str, format: str | None) -> None:
    """SpecError unless the format for the URL ``path`` (given, or named by its suffix) writes object storage."""
    fmt = format or suffix_format(path) or "zarr"
    if not get_writer(fmt).object_storage:
        raise SpecError(
            "format", fmt, f"zarr for an object-store URL ({path}): the {fmt} format writes local or "
            "shared-filesystem paths only; zarr is the format for object storage (give the URL a .zarr suffix or "
            "none), or write the dataset to a local path"
        )


def _check_execution(*, resume: bool, overwrite: bool, workers: int, client: Any, scheduler: str | None) -> bool:
    """Refuse contradictory options; True when chunks run on a dask cluster."""
    if resume and overwrite:
        raise SpecError("resume", True, "resume or overwrite, not both")
    if client is not None and scheduler is not None:
        raise SpecError("scheduler", scheduler, "a scheduler address or a dask client, not both")
    distributed = client is not None or scheduler is not None
    if distributed and workers != 1:
        raise SpecError("workers", workers, "1 with a dask cluster (size the cluster instead)")
    return distributed


def _stored_source_name(existing: ExistingDataset | None) -> str | None:
    """The source name in the spec recorded by an existing dataset's manifest (None when there is none)."""
    if existing is None or existing.manifest is None:
        return None
    spec = existing.manifest.identity.get("spec")
    source = spec.get("source") if isinstance(spec, Mapping) else None
    return source.get("name") if isinstance(source, Mapping) else None


def _refuse_existing(path: str, existing: ExistingDataset | None, *, resume: bool, overwrite: bool) -> None:
    """DatasetError when a dataset is at ``path`` and neither ``resume`` nor ``overwrite`` was asked for."""
    if existing is not None and not resume and not overwrite:
        state = "a complete" if existing.complete else "an incomplete"
        raise DatasetError(
            f"{path} already exists ({state} {existing.format} dataset); pass --overwrite to replace it"
            + ("" if existing.complete else " or --resume to complete it")
        )


def _default_chunk_size(num: int, row_bytes: int) -> int:
    """min(num, 1000, 256 MB of raw data) sequences, raised where needed to keep to :data:`MAX_CHUNKS` chunks (such
    chunks hold at most 2**48 / MAX_CHUNKS = 256 MiB of raw data, since the output is at most 2**48 bytes)."""
    size = max(1, min(num, DEFAULT_MAX_CHUNK, DEFAULT_CHUNK_BYTES // max(row_bytes, 1)))
    return max(size, -(-num // MAX_CHUNKS))


def _metadata(gen: Generator, fmt: str, layout: Layout, command: str | None) -> dict[str, Any]:
    """The dataset metadata, marked incomplete: provenance (spec, seed, source...), format and layout."""
    return {
        "kind": KIND,
        **gen.metadata(),
        "format": fmt,
        "num": layout.num,
        "start": layout.start,
        "layout": layout.to_dict(),
        "complete": False,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command if command is not None else " ".join(sys.argv),
    }
