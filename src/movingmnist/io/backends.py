"""Row readers of each storage format, behind :class:`~movingmnist.io.lazy_array.LazyArray`.

Each reader has ``read(lo, hi)`` (rows ``lo .. hi - 1`` as a new array) and ``storage_bytes()``. zarr datasets
written by this package are read by :class:`ZarrShards`, a small direct reader of the ``sharding_indexed`` layout
(one ``pread`` of the shard index, cached, and one of the inner chunk per array); other zarr layouts and remote
stores go through zarr itself (:class:`ZarrApi`). HDF5 files are opened once per process (:class:`H5File`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DatasetError
from .files import disk_usage


class ZarrShards:
    """Direct reader of an array written with the sharded layout this package writes (see zarr_writer)."""

    def __init__(self, root: str, name: str, info: Mapping[str, Any]) -> None:
        from .zarr_writer import numcodecs_for

        self.dir = os.path.join(root, name)
        self.name = name
        self.shape = tuple(info["shape"])
        self.dtype = np.dtype(info["dtype"])
        self.shard_rows = int(info["shard_rows"])
        self.chunk_rows = int(info["chunk_rows"])
        self.per_shard = self.shard_rows // self.chunk_rows
        self.codec = numcodecs_for(info["compression"])
        fill = info.get("fill_value")
        if isinstance(fill, str):
            fill = float(fill)
        self.fill = 0 if fill is None else fill
        self._indexes: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _path(self, shard: int) -> str:
        from .zarr_writer import shard_key

        return os.path.join(self.dir, shard_key(shard, len(self.shape)))

    def _index(self, shard: int, fd: int, size: int) -> np.ndarray:
        index = self._indexes.get(shard)
        if index is None:
            from .zarr_writer import decode_index

            tail = 16 * self.per_shard + 4
            if size < tail:
                raise DatasetError(f"{self._path(shard)}: shard is truncated ({size} bytes)")
            index = decode_index(os.pread(fd, tail, size - tail), self.per_shard, size, self._path(shard))
            with self._lock:
                self._indexes[shard] = index
                if len(self._indexes) > 512:
                    self._indexes.popitem(last=False)
        return index

    def read(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty((hi - lo, *self.shape[1:]), dtype=self.dtype)
        s_rows, c_rows = self.shard_rows, self.chunk_rows
        for shard in range(lo // s_rows, (hi - 1) // s_rows + 1):
            base = shard * s_rows
            a, b = max(lo, base), min(hi, base + s_rows)
            path = self._path(shard)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                with self._lock:
                    self._indexes.pop(shard, None)
                out[a - lo : b - lo] = self.fill
                continue
            try:
                size = os.fstat(fd).st_size
                index = self._index(shard, fd, size)
                c_lo, c_hi = (a - base) // c_rows, (b - 1 - base) // c_rows + 1
                used = index[c_lo:c_hi, 0] != np.uint64(2**64 - 1)
                if not used.any():
                    out[a - lo : b - lo] = self.fill
                    continue
                offsets = index[c_lo:c_hi, 0][used].astype(np.int64)
                ends = offsets + index[c_lo:c_hi, 1][used].astype(np.int64)
                span_lo, span_hi = int(offsets.min()), int(ends.max())
                data = os.pread(fd, span_hi - span_lo, span_lo)
                if len(data) != span_hi - span_lo:
                    raise DatasetError(f"{path}: shard is truncated")
            finally:
                os.close(fd)
            view = memoryview(data)
            for c in range(c_lo, c_hi):
                row0 = base + c * c_rows
                ra, rb = max(a, row0), min(b, row0 + c_rows)
                offset, length = (int(v) for v in index[c])
                if offset == 2**64 - 1:
                    out[ra - lo : rb - lo] = self.fill
                    continue
                piece = view[offset - span_lo : offset - span_lo + length]
                whole = ra == row0 and rb == row0 + c_rows
                target = out[ra - lo : rb - lo] if whole else np.empty((c_rows, *self.shape[1:]), self.dtype)
                self._decode(piece, target, path, row0)
                if not whole:
                    out[ra - lo : rb - lo] = target[ra - row0 : rb - row0]
        return out

    def _decode(self, piece: memoryview, target: np.ndarray, path: str, row0: int) -> None:
        try:
            if self.codec is None:
                flat = np.frombuffer(piece, dtype=np.uint8)
                if flat.size != target.nbytes:
                    raise ValueError(f"chunk has {flat.size} bytes, expected {target.nbytes}")
                target.reshape(-1).view(np.uint8)[:] = flat
            else:
                self.codec.decode(piece, out=target)
        except DatasetError:
            raise
        except Exception as exc:
            rows = f"{row0}..{row0 + self.chunk_rows - 1}"
            raise DatasetError(f"{self.name}: cannot decode rows {rows} ({path}): {exc}") from None

    def storage_bytes(self) -> int:
        return disk_usage([os.path.join(self.dir, "c")])


class ZarrApi:
    def __init__(self, array: Any) -> None:
        self.array = array

    def read(self, lo: int, hi: int) -> np.ndarray:
        try:
            return np.asarray(self.array[lo:hi])
        except Exception as exc:
            raise DatasetError(f"{self.array.name}: cannot read rows {lo}..{hi - 1}: {exc}") from None

    def storage_bytes(self) -> int:
        try:
            return int(self.array.nbytes_stored())
        except Exception:
            return 0


class H5File:
    """An h5py File opened on first use in each process (h5py handles do not survive fork or pickling)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = None
        self._pid = None
        self._datasets: dict = {}

    def get(self):
        if self._file is None or self._pid != os.getpid():
            from .hdf5_writer import open_h5

            self._file = open_h5(self.path, "r")
            self._pid = os.getpid()
            self._datasets = {}
        return self._file

    def dataset(self, name: str):
        """The h5py Dataset ``name``, looked up once per open file (a lookup costs ~40 us per read otherwise)."""
        file = self.get()
        dset = self._datasets.get(name)
        if dset is None:
            dset = self._datasets[name] = file[name]
        return dset

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._datasets = {}


class H5Array:
    def __init__(self, file: H5File, name: str) -> None:
        self.file = file
        self.name = name

    def read(self, lo: int, hi: int) -> np.ndarray:
        try:
            return self.file.dataset(self.name)[lo:hi]
        except DatasetError:
            raise
        except Exception as exc:
            raise DatasetError(f"{self.name}: cannot read rows {lo}..{hi - 1} of {self.file.path}: {exc}") from None

    def storage_bytes(self) -> int:
        return int(self.file.dataset(self.name).id.get_storage_size())


class NpyFile:
    def __init__(self, path: str, transform=None) -> None:
        self.path = path
        self.transform = transform
        self._array = None

    def array(self) -> np.ndarray:
        if self._array is None:
            try:
                array = np.load(self.path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise DatasetError(f"cannot read {self.path}: {exc}") from None
            self._array = array if self.transform is None else self.transform(array)
        return self._array

    def read(self, lo: int, hi: int) -> np.ndarray:
        return np.array(self.array()[lo:hi])

    def storage_bytes(self) -> int:
        return os.stat(self.path).st_size


def classic_view(array: np.ndarray) -> np.ndarray:
    """``(T, N, H, W)`` uint8 -> a ``(N, T, 1, H, W)`` view."""
    if array.ndim != 4 or array.dtype != np.uint8:
        raise DatasetError(
            f"a classic .npy holds (T, N, H, W) uint8 frames; this one holds {array.dtype} {array.shape}"
        )
    return array.transpose(1, 0, 2, 3)[:, :, None]
