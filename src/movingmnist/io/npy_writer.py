"""Uncompressed .npy writers: a directory of memory-mappable arrays, and the classic single-file frames export.

``npy``: ``PATH/<array>.npy`` for every schema array, shape ``(N, ...)``, created at full size with
``np.lib.format.open_memmap`` (sparse until written), plus ``metadata.json`` and ``manifest.json``. Each work
chunk is a contiguous range of rows of every file, written with ``os.pwrite`` (one copy, no page faults on fresh
mappings) and fsync'ed; processes never write the same bytes.

``classic-npy``: the layout of the original ``mnist_test_seq.npy``: frames only, ``(T, N, H, W)`` uint8 in one
``.npy``, for evaluation code that expects it. Metadata and manifest sit beside it as ``<file>.json`` and
``<file>.manifest.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DatasetError, SpecError
from .base import ChunkSink, Writer
from .files import atomic_write, fsync_dir
from .layout import Layout
from .registry import register_writer

METADATA_NAME = "metadata.json"


def npy_data_offset(path: str) -> int:
    """Byte offset of the array data in the .npy file ``path``."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            np.lib.format.read_array_header_2_0(f)
        else:
            raise DatasetError(f"{path}: unsupported .npy version {version}")
        return f.tell()


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def pwrite_all(fd: int, data: np.ndarray, offset: int) -> int:
    view = memoryview(np.ascontiguousarray(data)).cast("B")
    total = 0
    while view.nbytes:
        written = os.pwrite(fd, view, offset + total)
        total += written
        view = view[written:]
    return total


def create_npy(path: str, dtype: str, shape: tuple[int, ...]) -> None:
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=shape)
    del mm


class _Files:
    """Open file descriptors with their data offsets, one per array, opened on first use."""

    def __init__(self) -> None:
        self.fds: dict[str, tuple[int, int]] = {}

    def get(self, key: str, path: str) -> tuple[int, int]:
        if key not in self.fds:
            offset = npy_data_offset(path)
            self.fds[key] = (os.open(path, os.O_WRONLY), offset)
        return self.fds[key]

    def close(self) -> None:
        for fd, _ in self.fds.values():
            os.close(fd)
        self.fds = {}


class _NpySink(ChunkSink):
    def _write(self, name: str, lo: int, data: np.ndarray) -> None:
        writer: NpyWriter = self.writer  # type: ignore[assignment]
        fd, offset = writer.files.get(name, writer.array_path(name))
        row_bytes = self.layout.arrays[name].row_bytes
        self.nbytes += pwrite_all(fd, data, offset + (self.lo + lo) * row_bytes)

    def _commit(self) -> None:
        writer: NpyWriter = self.writer  # type: ignore[assignment]
        if writer.durable:
            for fd, _ in writer.files.fds.values():
                _datasync(fd)


@register_writer
class NpyWriter(Writer):
    format = "npy"
    suffixes = (".npy-dir",)

    def __init__(self, path: str, layout: Layout, *, durable: bool = True) -> None:
        super().__init__(path, layout, durable=durable)
        self.files = _Files()

    def array_path(self, name: str) -> str:
        return os.path.join(self.path, f"{name}.npy")

    @classmethod
    def create(cls, path: str, layout: Layout, metadata: Mapping[str, Any]) -> None:
        os.makedirs(path, exist_ok=True)
        writer = cls(path, layout)
        for name, spec in layout.arrays.items():
            create_npy(writer.array_path(name), spec.dtype, (layout.num, *spec.shape))
        writer.write_metadata(metadata)

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        text = json.dumps(dict(metadata), indent=1, default=str).encode()
        atomic_write(os.path.join(self.path, METADATA_NAME), text, durable=self.durable)

    def chunk(self, chunk: int) -> ChunkSink:
        return _NpySink(self, chunk)

    def close(self) -> None:
        self.files.close()


class _ClassicSink(ChunkSink):
    def _write(self, name: str, lo: int, data: np.ndarray) -> None:
        writer: ClassicNpyWriter = self.writer  # type: ignore[assignment]
        fd, offset = writer.files.get("frames", writer.path)
        t = data.shape[1]
        frame_bytes = data.shape[3] * data.shape[4]
        num = self.layout.num
        for i in range(t):
            block = np.ascontiguousarray(data[:, i, 0])  # (n, H, W)
            self.nbytes += pwrite_all(fd, block, offset + (i * num + self.lo + lo) * frame_bytes)

    def _commit(self) -> None:
        writer: ClassicNpyWriter = self.writer  # type: ignore[assignment]
        if writer.durable:
            for fd, _ in writer.files.fds.values():
                _datasync(fd)


@register_writer
class ClassicNpyWriter(Writer):
    """Frames only, ``(T, N, H, W)`` uint8: the layout of the classic ``mnist_test_seq.npy``."""

    format = "classic-npy"
    suffixes = (".npy",)
    single_file = True
    all_arrays = False

    def __init__(self, path: str, layout: Layout, *, durable: bool = True) -> None:
        super().__init__(path, layout, durable=durable)
        self.files = _Files()

    @staticmethod
    def metadata_path(path: str) -> str:
        return path + ".json"

    @classmethod
    def owned_paths(cls, path: str) -> list[str]:
        return [path, cls.metadata_path(path), cls.manifest_path(path)]

    @classmethod
    def check_layout(cls, layout: Layout) -> None:
        frames = layout.arrays["frames"]
        if frames.shape[1] != 1:
            raise SpecError(
                "format", "classic-npy", f"grey frames (canvas.channels=1); these have {frames.shape[1]} channels"
            )

    @classmethod
    def create(cls, path: str, layout: Layout, metadata: Mapping[str, Any]) -> None:
        cls.check_layout(layout)
        t, _c, h, w = layout.arrays["frames"].shape
        create_npy(path, "uint8", (t, layout.num, h, w))
        writer = cls(path, layout)
        writer.write_metadata(metadata)
        if writer.durable:
            fsync_dir(os.path.dirname(os.path.abspath(path)))

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        text = json.dumps(dict(metadata), indent=1, default=str).encode()
        atomic_write(self.metadata_path(self.path), text, durable=self.durable)

    def chunk(self, chunk: int) -> ChunkSink:
        return _ClassicSink(self, chunk)

    def close(self) -> None:
        self.files.close()
