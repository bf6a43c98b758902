"""Row readers of each storage format, behind :class:`~movingmnist.io.lazy_array.LazyArray`.

Each reader has ``read(lo, hi)`` (rows ``lo .. hi - 1`` as a new array) and ``storage_bytes()``. zarr datasets
written by this package are read by :class:`~movingmnist.io.zarr_shards.ZarrShards` (and
:class:`~movingmnist.io.zarr_shards.RemoteZarrShards` on object storage), a small direct reader of the
``sharding_indexed`` layout in a module of its own; other zarr layouts go through zarr itself (:class:`ZarrApi`).
HDF5 files are opened once per process (:class:`H5File`).

Readers also know which work chunks the dataset records as written (:meth:`Backend.expect`): rows of such a chunk
whose data is missing raise a :class:`~movingmnist.errors.DatasetError` naming the array and the rows, never read as
the fill value. :meth:`Backend.scan` checks every written chunk's storage without decoding the data (what
``movingmnist info`` and ``verify`` report as damage).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DatasetError


@dataclass(frozen=True)
class Damage:
    """Rows ``lo .. hi - 1`` of array ``array`` are missing or unreadable, for ``reason``."""

    array: str
    lo: int
    hi: int
    reason: str

    def __str__(self) -> str:
        return f"{self.array} rows {self.lo}..{self.hi - 1}: {self.reason}"


class Backend:
    """Base of the row readers. ``written``: per work chunk, whether the dataset records it as written (None: all)."""

    name = ""
    written: np.ndarray | None = None
    chunk_size = 1

    def read(self, lo: int, hi: int) -> np.ndarray:
        raise NotImplementedError

    def storage_bytes(self) -> int:
        raise NotImplementedError

    def expect(self, written: np.ndarray | None, chunk_size: int) -> None:
        """Record which work chunks (of ``chunk_size`` rows) are written; cheap checks of their storage may raise."""
        self.written = written
        self.chunk_size = chunk_size

    def scan(self) -> list[Damage]:
        """Damage found in the storage of every written chunk (a quick look at each; the data is not decoded)."""
        return []

    def is_written(self, chunk: int) -> bool:
        return self.written is None or bool(self.written[chunk])


class ZarrApi(Backend):
    def __init__(self, array: Any) -> None:
        self.array = array
        self.name = str(array.name)

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


class H5Array(Backend):
    """One HDF5 dataset. Chunks of written rows that were never stored (HDF5 would read them as the fill value) raise
    a DatasetError: on the first read in each process the number of stored chunks is compared with what the
    written rows need (one quick call), and only when it falls short is the map of stored chunks built and
    checked on every read."""

    def __init__(self, file: H5File, name: str, chunk_rows: int) -> None:
        self.file = file
        self.name = name
        self.chunk_rows = max(1, int(chunk_rows))
        self._absent: np.ndarray | None = None  # per storage chunk: written rows whose chunk is not stored
        self._checked_pid: int | None = None

    def _storage_chunks(self, dset) -> tuple[int, np.ndarray]:
        """Storage chunks of the array, and which of them hold rows of written work chunks."""
        n = -(-int(dset.shape[0]) // self.chunk_rows)
        rows0 = np.arange(n, dtype=np.int64) * self.chunk_rows
        if self.written is None:
            return n, np.ones(n, dtype=bool)
        return n, self.written[rows0 // self.chunk_size]

    def _absent_chunks(self, dset) -> np.ndarray | None:
        """Per storage chunk: True where written rows have no stored chunk (None when every one is stored)."""
        n, needed = self._storage_chunks(dset)
        if not needed.any():
            return None
        if self.written is None and dset.id.get_num_chunks() >= n:
            return None
        stored = np.zeros(n, dtype=bool)
        ndim = len(dset.shape)
        chunk_iter = getattr(dset.id, "chunk_iter", None)
        if chunk_iter is not None:
            offsets: list[int] = []
            chunk_iter(lambda info: offsets.append(info.chunk_offset[0]))
            stored[np.asarray(offsets, dtype=np.int64) // self.chunk_rows] = True
        else:  # pragma: no cover - HDF5 < 1.12.3
            for k in np.flatnonzero(needed):
                info = dset.id.get_chunk_info_by_coord((int(k) * self.chunk_rows,) + (0,) * (ndim - 1))
                stored[k] = info.byte_offset is not None
        absent = needed & ~stored
        return absent if absent.any() else None

    def _check(self, lo: int, hi: int, dset) -> None:
        if self._checked_pid != os.getpid():
            self._absent = self._absent_chunks(dset)
            self._checked_pid = os.getpid()
        if self._absent is not None:
            c_lo, c_hi = lo // self.chunk_rows, (hi - 1) // self.chunk_rows + 1
            bad = np.flatnonzero(self._absent[c_lo:c_hi])
            if bad.size:
                k = c_lo + int(bad[0])
                a, b = k * self.chunk_rows, min(int(dset.shape[0]), (k + 1) * self.chunk_rows)
                raise DatasetError(
                    f"{self.name}: rows {a}..{b - 1} are missing (their HDF5 chunk was never stored in "
                    f"{self.file.path}), though the dataset records them as written; the dataset is damaged: "
                    "generate it again"
                )

    def read(self, lo: int, hi: int) -> np.ndarray:
        try:
            dset = self.file.dataset(self.name)
            self._check(lo, hi, dset)
            return dset[lo:hi]
        except DatasetError:
            raise
        except Exception as exc:
            raise DatasetError(f"{self.name}: cannot read rows {lo}..{hi - 1} of {self.file.path}: {exc}") from None

    def scan(self) -> list[Damage]:
        """Written rows whose HDF5 chunks are not stored (runs of consecutive chunks reported together)."""
        try:
            dset = self.file.dataset(self.name)
            absent = self._absent_chunks(dset)
        except DatasetError as exc:
            return [Damage(self.name, 0, 0, str(exc))]
        except Exception as exc:
            return [Damage(self.name, 0, 0, f"cannot read the chunk index of {self.file.path}: {exc}")]
        if absent is None:
            return []
        damage = []
        num = int(dset.shape[0])
        bad = np.flatnonzero(absent)
        breaks = np.flatnonzero(np.diff(bad) > 1) + 1
        for run in np.split(bad, breaks):
            lo, hi = int(run[0]) * self.chunk_rows, min(num, (int(run[-1]) + 1) * self.chunk_rows)
            damage.append(Damage(self.name, lo, hi, f"{len(run)} HDF5 chunks were never stored in {self.file.path}"))
        return damage

    def storage_bytes(self) -> int:
        return int(self.file.dataset(self.name).id.get_storage_size())


class NpyFile(Backend):
    def __init__(self, path: str, transform=None, name: str = "") -> None:
        self.path = path
        self.name = name or os.path.basename(path)
        self.transform = transform
        self._array = None

    def array(self) -> np.ndarray:
        if self._array is None:
            try:
                array = np.load(self.path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{self.name}: cannot read {self.path}: {exc}") from None
            try:
                self._array = array if self.transform is None else self.transform(array)
            except DatasetError as exc:
                raise DatasetError(f"{self.path}: {exc}") from None
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
