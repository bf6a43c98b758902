"""HDF5 writer (h5py): one file, one dataset per schema array, chunks of a few sequences, gzip or no compression.

HDF5 cannot take writes from several processes at once, so each worker compresses its chunk's HDF5 chunks itself
(zlib, exactly what HDF5's deflate filter stores) and then, holding an exclusive lock on ``<file>.lock``, opens the
file, stores them with ``write_direct_chunk``, closes and fsyncs it. Compression runs in parallel; only the short
copy into the file is serialised. The metadata is the root attribute ``movingmnist`` (JSON text); the manifest is
``<file>.manifest.json``.

Unlike zarr and npy, a single HDF5 file can be left damaged if the process is killed while it holds the file
open for writing (a few milliseconds per chunk); a resume then reports it and asks for ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DatasetError, require
from .base import ChunkSink, StorageChunkSink, Writer, schema_dims
from .layout import Layout
from .registry import register_writer

ATTRIBUTE = "movingmnist"


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
        with _FileLock(writer.lock_path):
            with open_h5(writer.path, "r+") as f:
                for name, spec in self.layout.arrays.items():
                    dset = f[name]
                    zeros = (0,) * len(spec.shape)
                    for j, data in enumerate(self._chunks[name]):
                        dset.id.write_direct_chunk((self.lo + j * spec.chunk_rows, *zeros), data)
                        self.nbytes += len(data)
                f.flush()
            if writer.durable:
                fd = os.open(writer.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
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
        name, _, level = layout.compression.partition(":")
        with open_h5(path, "w") as f:
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
        cls(path, layout)._fsync()

    def _fsync(self) -> None:
        if self.durable:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        with _FileLock(self.lock_path):
            with open_h5(self.path, "r+") as f:
                f.attrs[ATTRIBUTE] = json.dumps(dict(metadata), default=str)
            self._fsync()

    def chunk(self, chunk: int) -> ChunkSink:
        return _Hdf5Sink(self, chunk)
