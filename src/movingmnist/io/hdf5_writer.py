"""HDF5 writer (h5py): one file, one dataset per schema array, chunks of a few sequences, gzip or no compression.

HDF5 cannot take writes from several processes at once, so each worker compresses its chunk's HDF5 chunks itself
(zlib, exactly what HDF5's deflate filter stores) and then, holding an exclusive lock on ``<file>.lock``, opens the
file, stores them with ``write_direct_chunk``, closes and fsyncs it. Compression runs in parallel; only the short
copy into the file is serialised. The metadata is the root attribute ``movingmnist`` (JSON text); the manifest is
``<file>.manifest.json``.

Unlike a zarr shard or an npy row range, one HDF5 file is edited in place, and an edit cut short (the process
killed while it holds the file open, or the disk filling up during HDF5's flush) can leave the file's index
damaged. Two defences: each commit first checks that the filesystem has room for its bytes plus
:data:`SPACE_MARGIN` (a full disk is then a clean error before the file is touched), and a resume checks the
file (:meth:`Hdf5Writer.salvage`) and, if it is damaged, rebuilds it: a new file receives the stored chunks that
are still intact, the others are generated again, and it replaces the damaged one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DatasetError, require
from .base import ChunkSink, StorageChunkSink, Writer, schema_dims
from .layout import Layout
from .registry import register_writer

ATTRIBUTE = "movingmnist"
#: Free bytes a commit needs beyond its chunks' own: room for HDF5 to grow its chunk index and flush its metadata
#: (a few kB per commit; generous so that the check holds with other writers on the same disk).
SPACE_MARGIN = 1 << 20


class _FileLock:
    """An exclusive ``flock`` on ``path`` (created if needed), held inside a ``with`` block."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> _FileLock:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        assert self.fd is not None
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def open_h5(path: str, mode: str):
    h5py = require("h5py", "hdf5", "the hdf5 format")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise DatasetError(
            f"cannot open the HDF5 file {path} ({exc}); if a run was killed while writing it, the file may be "
            "damaged: generate it again with --overwrite"
        ) from None


class _Hdf5Sink(StorageChunkSink):
    def __init__(self, writer: Hdf5Writer, chunk: int) -> None:
        super().__init__(writer, chunk)
        self._chunks: dict[str, list[bytes]] = {name: [] for name in self.layout.arrays}

    def _encode(self, name: str, data: np.ndarray) -> None:
        level = self.writer.level  # type: ignore[attr-defined]
        raw = data.data if data.flags.c_contiguous else np.ascontiguousarray(data).data
        self._chunks[name].append(bytes(raw) if level is None else zlib.compress(raw, level))

    def _commit(self) -> None:
        writer: Hdf5Writer = self.writer  # type: ignore[assignment]
        self._encode_partial()
        chunks = self._chunks

        def store(f: Any) -> None:
            for name, spec in self.layout.arrays.items():
                dset = f[name]
                zeros = (0,) * len(spec.shape)
                for j, data in enumerate(chunks[name]):
                    dset.id.write_direct_chunk((self.lo + j * spec.chunk_rows, *zeros), data)

        nbytes = sum(len(data) for parts in chunks.values() for data in parts)
        with _FileLock(writer.lock_path):
            writer.edit(store, nbytes)
        self.nbytes += nbytes
        self._chunks = {}


@register_writer
class Hdf5Writer(Writer):
    format = "hdf5"
    suffixes = (".h5", ".hdf5")
    compressions = ("gzip", "none")
    default_level = {"gzip": 1}
    # measured (N = 20,000): random single-sequence reads 1.6 ms at 16 KB vs 4.0 ms at 256 KB (small arrays then
    # span 1,000 sequences per chunk, decompressed whole on each read), same write speed, +2% on disk
    chunk_target_bytes = 16 * 2**10
    single_file = True

    def __init__(self, path: str, layout: Layout, *, durable: bool = True) -> None:
        super().__init__(path, layout, durable=durable)
        name, _, level = layout.compression.partition(":")
        self.level = None if name == "none" else int(level)
        self.lock_path = path + ".lock"

    @classmethod
    def owned_paths(cls, path: str) -> list[str]:
        return [path, cls.manifest_path(path), path + ".lock"]

    @classmethod
    def create(cls, path: str, layout: Layout, metadata: Mapping[str, Any]) -> None:
        try:
            cls._create(path, layout, metadata)
        except (OSError, RuntimeError) as exc:
            raise _as_os_error(exc, path) from None
        cls(path, layout)._fsync()

    @classmethod
    def _create(cls, path: str, layout: Layout, metadata: Mapping[str, Any]) -> None:
        name, _, level = layout.compression.partition(":")
        h5py = require("h5py", "hdf5", "the hdf5 format")
        with h5py.File(path, "w") as f:
            for array, spec in layout.arrays.items():
                dset = f.create_dataset(
                    array,
                    shape=(layout.num, *spec.shape),
                    dtype=np.dtype(spec.dtype),
                    chunks=(spec.chunk_rows, *spec.shape),
                    compression="gzip" if name == "gzip" else None,
                    compression_opts=int(level) if name == "gzip" else None,
                    fillvalue=spec.fill_value,
                    track_times=False,
                )
                dset.attrs["dims"] = ",".join(schema_dims(array))
            f.attrs[ATTRIBUTE] = json.dumps(dict(metadata), default=str)

    def _fsync(self) -> None:
        if self.durable:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def edit(self, change: Any, nbytes: int) -> None:
        """Open the file for writing, apply ``change(h5py_file)`` (which adds about ``nbytes`` to it), flush, close
        and fsync. Refuses with ENOSPC before opening when the filesystem lacks ``nbytes + SPACE_MARGIN``; any
        HDF5 failure becomes an OSError carrying the errno HDF5 reports (the caller holds the lock)."""
        require_space(self.path, nbytes + SPACE_MARGIN)
        h5py = require("h5py", "hdf5", "the hdf5 format")
        f = None
        try:
            f = h5py.File(self.path, "r+")
            change(f)
            f.flush()
            f.close()
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            if f is not None:
                _close_quietly(f)
            raise _as_os_error(exc, self.path) from None
        self._fsync()

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        text = json.dumps(dict(metadata), default=str)

        def store(f: Any) -> None:
            f.attrs[ATTRIBUTE] = text

        with _FileLock(self.lock_path):
            self.edit(store, len(text))

    @classmethod
    def salvage(
        cls, path: str, layout: Layout, metadata: Mapping[str, Any], done: set[int]
    ) -> tuple[set[int], str | None]:
        """Before a resume: the work chunks of ``done`` that the file really holds, and what was wrong with it (None
        when it is intact: then all of them). When an interrupted edit damaged it, a new file is built beside it
        with every chunk of ``done`` whose stored data is intact (each is read back and decompressed), and replaces
        the damaged file; the chunks returned are those, the others are written again by the resume."""
        problem = cls.damage(path, layout, done)
        if problem is None:
            return set(done), None
        directory, name = os.path.split(os.path.abspath(path))
        tmp = os.path.join(directory, f".{name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
        try:
            cls.create(tmp, layout, metadata)
            kept = cls._copy_intact(path, tmp, layout, done)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        return kept, problem

    @classmethod
    def damage(cls, path: str, layout: Layout, done: set[int]) -> str | None:
        """What is wrong with the file, or None: it opens, holds every array with the layout's shape and dtype,
        its chunk index can be walked to the end with every stored chunk inside the file, and every stored chunk
        of the work chunks ``done`` is in it."""
        h5py = require("h5py", "hdf5", "the hdf5 format")
        try:
            size = os.path.getsize(path)
            with h5py.File(path, "r") as f:
                for name, spec in layout.arrays.items():
                    dset = f.get(name)
                    if not isinstance(dset, h5py.Dataset):
                        return f"array {name!r} is missing"
                    if dset.shape != (layout.num, *spec.shape) or dset.dtype != np.dtype(spec.dtype):
                        return f"array {name!r} has shape {dset.shape} and dtype {dset.dtype}"
                    rows: set[int] = set()
                    end = 0

                    def seen(info: Any, rows: set[int] = rows) -> None:
                        nonlocal end
                        rows.add(info.chunk_offset[0])
                        end = max(end, info.byte_offset + info.size)

                    dset.id.chunk_iter(seen)
                    if end > size:
                        return f"array {name!r} has chunks past the end of the file"
                    for chunk in done:
                        lo, hi = layout.chunk_range(chunk)
                        if any(row not in rows for row in range(lo, hi, spec.chunk_rows)):
                            return f"array {name!r} lacks stored data of chunk {chunk} (sequences {lo}..{hi - 1})"
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            text = str(exc)
            short = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
            if short:
                return f"it ends {int(short.group(2)) - int(short.group(1)):,} bytes before its recorded end"
            return text.splitlines()[0] if text else type(exc).__name__
        return None

    @classmethod
    def _copy_intact(cls, damaged: str, target: str, layout: Layout, done: set[int]) -> set[int]:
        """Copy the stored chunks of the work chunks ``done`` from ``damaged`` into ``target`` as they are, for the
        work chunks whose every stored chunk can be read and decompresses to its full size; returns those."""
        h5py = require("h5py", "hdf5", "the hdf5 format")
        source = _open_damaged(damaged)
        if source is None:
            return set()  # nothing can be read from it: everything is generated again
        kept: set[int] = set()
        compressed = layout.compression != "none"
        try:
            with h5py.File(target, "r+") as out:
                for chunk in sorted(done):
                    parts = _read_work_chunk(source, layout, chunk, compressed=compressed)
                    if parts is None:
                        continue
                    for name, coord, data in parts:
                        out[name].id.write_direct_chunk(coord, data)
                    kept.add(chunk)
                out.flush()
        finally:
            _close_quietly(source)
        cls(target, layout)._fsync()
        return kept

    def chunk(self, chunk: int) -> ChunkSink:
        return _Hdf5Sink(self, chunk)


def _read_work_chunk(f: Any, layout: Layout, chunk: int, *, compressed: bool) -> list[tuple] | None:
    """(array, chunk coordinate, stored bytes) of every stored chunk of work chunk ``chunk``, or None when one of
    them is missing, unreadable or does not decompress to its full size."""
    lo, hi = layout.chunk_range(chunk)
    parts = []
    try:
        for name, spec in layout.arrays.items():
            dset = f[name]
            zeros = (0,) * len(spec.shape)
            full = spec.chunk_rows * int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize
            for row in range(lo, hi, spec.chunk_rows):
                coord = (row, *zeros)
                info = dset.id.get_chunk_info_by_coord(coord)
                if info.byte_offset is None:
                    return None
                _, data = dset.id.read_direct_chunk(coord)
                raw = zlib.decompress(data) if compressed else data
                if len(raw) != full:
                    return None
                parts.append((name, coord, data))
    except (OSError, RuntimeError, KeyError, ValueError, zlib.error):
        return None
    return parts


def _open_damaged(path: str) -> Any:
    """The damaged file opened for reading, or None. A write that failed at the end of the file leaves it shorter
    than its superblock says, which HDF5 refuses to open; extending it (a sparse hole, no disk space) to the
    recorded length lets the intact chunks before the failed write be read."""
    h5py = require("h5py", "hdf5", "the hdf5 format")
    for _attempt in range(2):
        try:
            return h5py.File(path, "r")
        except (OSError, RuntimeError) as exc:
            found = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
            if not found or int(found.group(2)) <= int(found.group(1)):
                return None
            try:
                os.truncate(path, int(found.group(2)))
            except OSError:
                return None
    return None


def require_space(path: str, nbytes: int) -> None:
    """OSError(ENOSPC) when the filesystem holding ``path`` has fewer than ``nbytes`` free for this user."""
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (OSError, AttributeError):  # no statvfs (Windows): HDF5's own error is all there is
        return
    free = stat.f_bavail * stat.f_frsize
    if free < nbytes:
        raise OSError(
            errno.ENOSPC, f"No space left on device ({free:,} bytes free, {nbytes:,} needed for the next chunk)"
        )


def _as_os_error(exc: BaseException, path: str) -> OSError:
    """An HDF5 failure as an OSError with the errno HDF5 reports (EIO when it names none) and its first line."""
    text = str(exc)
    found = re.search(r"errno = (\d+)", text)  # HDF5 puts the system's errno in its message
    if not found and isinstance(exc, OSError) and exc.errno is not None:
        return exc
    code = int(found.group(1)) if found else errno.EIO
    reason = os.strerror(code) if found else (text.splitlines()[0] if text else type(exc).__name__)
    return OSError(code, reason)


def _close_quietly(f: Any) -> None:
    """Close an h5py File whose flush failed: HDF5 may refuse the first close, so try the low-level one too."""
    with contextlib.suppress(Exception):
        f.close()
    with contextlib.suppress(Exception):
        if f.id.valid:
            f.id.close()
