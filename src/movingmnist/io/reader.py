"""Reading datasets: ``mm.open(path)`` returns a lazy :class:`Dataset` for any of the formats::

    ds = mm.open("train.zarr")            # nothing is read yet
    len(ds), ds.seed, ds.spec.preset
    ds[17]["frames"].shape                # one sequence: dict of arrays, (T, C, H, W)
    ds[100:164]                           # a Batch of 64 sequences
    ds.arrays["boxes"][5:9, :, 0]         # any array, lazily, numpy-style row indexing

Nothing is read before it is indexed. zarr datasets written by this package are read by a small direct reader of
the ``sharding_indexed`` layout (one ``pread`` of the shard index, cached, and one of the inner chunk per array:
tens of microseconds per sequence instead of zarr's per-call overhead); other zarr layouts and remote stores go
through zarr itself. A Dataset pickles by path, so it can be handed to DataLoader worker processes.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..batch import SCHEMA, Batch
from ..errors import DatasetError
from .files import disk_usage
from .layout import Layout
from .manifest import Manifest
from .writers import get_writer

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
KIND = "movingmnist-dataset"


def detect_format(path: str) -> str:
    """``zarr``, ``hdf5``, ``npy`` or ``classic-npy``, from what is at ``path``; DatasetError if none."""
    from .zarr_writer import is_url, local_path

    if is_url(path) and not path.startswith("file://"):
        return "zarr"
    local = local_path(path)
    if os.path.isdir(local):
        if os.path.isfile(os.path.join(local, "zarr.json")):
            return "zarr"
        if os.path.isfile(os.path.join(local, "metadata.json")):
            return "npy"
        raise DatasetError(f"{path} is a directory but not a dataset (no zarr.json or metadata.json in it)")
    if os.path.isfile(local):
        with open(local, "rb") as f:
            head = f.read(8)
        if head == HDF5_SIGNATURE:
            return "hdf5"
        if head.startswith(NPY_MAGIC):
            return "classic-npy"
        raise DatasetError(f"{path} is neither an HDF5 file nor a .npy file")
    raise DatasetError(f"{path} does not exist")


# -- lazy arrays --------------------------------------------------------------------------------------------------
class LazyArray:
    """Array-like view of one stored array: ``shape``, ``dtype``, numpy-style indexing on the first (sequence) axis.

    ``a[i]`` reads one row, ``a[lo:hi]`` a range, ``a[[3, 1, 3]]`` any rows; further indices apply to the rows read
    (``a[2:5, 0]``). ``np.asarray(a)`` reads everything.
    """

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype, backend: Any) -> None:
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._backend = backend

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo .. hi - 1`` as a new array."""
        lo, hi = max(0, lo), min(self.shape[0], hi)
        if hi <= lo:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        return self._backend.read(lo, hi)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows at ``rows`` (any order, repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        n = self.shape[0]
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row indices out of range for {self.name!r} with {n} rows")
        rows = np.where(rows < 0, rows + n, rows)
        out = np.empty((rows.size, *self.shape[1:]), dtype=self.dtype)
        if rows.size == 0:
            return out
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        # read runs of consecutive rows at once
        breaks = np.flatnonzero(np.diff(sorted_rows) > 1) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [sorted_rows.size]])
        for a, b in zip(starts, ends, strict=True):
            lo, hi = int(sorted_rows[a]), int(sorted_rows[b - 1]) + 1
            block = self.read(lo, hi)
            out[order[a:b]] = block[sorted_rows[a:b] - lo]
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple[Any, ...] = ()
        if isinstance(key, tuple):
            key, rest = (key[0], key[1:]) if key else (slice(None), ())
        if key is Ellipsis:
            key, rest = slice(None), ((Ellipsis, *rest) if rest else ())
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"index {key} is out of range for {self.name!r} with {n} rows")
            result = self.read(i, i + 1)[0]
            return result[rest] if rest else result
        elif isinstance(key, slice):
            lo, hi, step = key.indices(n)
            if step == 1:
                result = self.read(lo, hi)
            else:
                result = self.take(np.arange(lo, hi, step))
        else:
            rows = np.asarray(key)
            if rows.dtype == bool:
                if rows.shape != (n,):
                    raise IndexError(f"a boolean index must have shape ({n},), got {rows.shape}")
                rows = np.flatnonzero(rows)
            elif rows.dtype.kind not in "iu":
                raise IndexError(f"unsupported index {key!r}")
            result = self.take(rows)
        return result[(slice(None), *rest)] if rest else result

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self.read(0, self.shape[0])
        return data if dtype is None else data.astype(dtype)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.shape[0]):
            yield self[i]

    def __repr__(self) -> str:
        return f"LazyArray({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class _ZarrShards:
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


class _ZarrApi:
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


class _H5File:
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


class _H5Array:
    def __init__(self, file: _H5File, name: str) -> None:
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


class _Npy:
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


def _classic_view(array: np.ndarray) -> np.ndarray:
    """``(T, N, H, W)`` uint8 -> a ``(N, T, 1, H, W)`` view."""
    if array.ndim != 4 or array.dtype != np.uint8:
        raise DatasetError(
            f"a classic .npy holds (T, N, H, W) uint8 frames; this one holds {array.dtype} {array.shape}"
        )
    return array.transpose(1, 0, 2, 3)[:, :, None]


# -- dataset ------------------------------------------------------------------------------------------------------
class Dataset:
    """A dataset on disk, opened lazily (see :func:`open_dataset`).

    Attributes:
        path, format: where and how it is stored.
        metadata: provenance dict (spec, fingerprint, seed, version, source, layout, command, ...); None for a
            classic .npy without the sidecar metadata.
        arrays: name -> :class:`LazyArray` with a leading N axis.
        complete: whether every sequence is written. missing: how many sequences are not.
    """

    def __init__(self, path: str, *, allow_incomplete: bool = False) -> None:
        self.path = str(path)
        self.allow_incomplete = allow_incomplete
        self.format = detect_format(self.path)
        self.metadata: dict[str, Any] | None = None
        self._h5: _H5File | None = None
        backends = getattr(self, f"_open_{self.format.replace('-', '_')}")()
        if self.metadata is not None:
            self.layout: Layout | None = Layout.from_dict(self.metadata["layout"])
        else:
            self.layout = None
        self.arrays: dict[str, LazyArray] = {}
        order = [a.name for a in SCHEMA]
        for name in sorted(backends, key=lambda n: order.index(n) if n in order else len(order)):
            shape, dtype, backend = backends[name]
            self.arrays[name] = LazyArray(name, shape, dtype, backend)
        if "frames" not in self.arrays:
            raise DatasetError(f"{self.path} has no frames array")
        self.num = len(self.arrays["frames"])
        self.done_chunks, self.missing = self._completeness()
        self.complete = self.missing == 0 and (self.metadata is None or bool(self.metadata.get("complete")))
        if not self.complete and not allow_incomplete:
            raise DatasetError(
                f"{self.path} is incomplete: {self.missing:,} of {self.num:,} sequences are missing"
                + ("" if self.missing else " (all chunks are written but the run did not finish)")
                + "; finish it with `movingmnist generate ... --resume` (same arguments), or open it with "
                "allow_incomplete=True"
            )

    # -- per-format opening -------------------------------------------------------------------------------------
    def _read_json(self, path: str) -> dict[str, Any]:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read {path}: {exc}") from None

    def _check_metadata(self, metadata: Any, where: str) -> dict[str, Any]:
        if not isinstance(metadata, dict) or metadata.get("kind") != KIND or "layout" not in metadata:
            raise DatasetError(f"{where} is not a movingmnist dataset (no movingmnist metadata)")
        return metadata

    def _open_zarr(self) -> dict[str, tuple]:
        from .zarr_writer import ATTRIBUTE, fast_layout, is_url, local_path

        if is_url(self.path) and not self.path.startswith("file://"):
            from ..errors import require

            zarr = require("zarr", "zarr", "reading zarr datasets")
            group = zarr.open_group(self.path, mode="r")
            self.metadata = self._check_metadata(group.attrs.get(ATTRIBUTE), self.path)
            return {
                name: (group[name].shape, group[name].dtype, _ZarrApi(group[name]))
                for name in self.metadata["layout"]["arrays"]
            }
        root = local_path(self.path)
        group_meta = self._read_json(os.path.join(root, "zarr.json"))
        self.metadata = self._check_metadata(group_meta.get("attributes", {}).get(ATTRIBUTE), self.path)
        backends = {}
        group = None
        for name in self.metadata["layout"]["arrays"]:
            meta = self._read_json(os.path.join(root, name, "zarr.json"))
            info = fast_layout(meta)
            if info is not None:
                backends[name] = (info["shape"], info["dtype"], _ZarrShards(root, name, info))
            else:
                if group is None:
                    from ..errors import require

                    zarr = require("zarr", "zarr", "reading zarr datasets")
                    group = zarr.open_group(root, mode="r")
                backends[name] = (group[name].shape, group[name].dtype, _ZarrApi(group[name]))
        return backends

    def _open_hdf5(self) -> dict[str, tuple]:
        from .hdf5_writer import ATTRIBUTE

        self._h5 = _H5File(self.path)
        f = self._h5.get()
        text = f.attrs.get(ATTRIBUTE)
        try:
            metadata = json.loads(text) if text is not None else None
        except ValueError:
            metadata = None
        self.metadata = self._check_metadata(metadata, self.path)
        return {
            name: (f[name].shape, f[name].dtype, _H5Array(self._h5, name)) for name in self.metadata["layout"]["arrays"]
        }

    def _open_npy(self) -> dict[str, tuple]:
        from .npy_writer import METADATA_NAME

        self.metadata = self._check_metadata(
            self._read_json(os.path.join(self.path, METADATA_NAME)), self.path
        )
        backends = {}
        for name in self.metadata["layout"]["arrays"]:
            backend = _Npy(os.path.join(self.path, f"{name}.npy"))
            array = backend.array()
            backends[name] = (array.shape, array.dtype, backend)
        return backends

    def _open_classic_npy(self) -> dict[str, tuple]:
        from .npy_writer import ClassicNpyWriter

        sidecar = ClassicNpyWriter.metadata_path(self.path)
        if os.path.isfile(sidecar):
            self.metadata = self._check_metadata(self._read_json(sidecar), sidecar)
        backend = _Npy(self.path, _classic_view)
        array = backend.array()
        return {"frames": (array.shape, array.dtype, backend)}

    def _completeness(self) -> tuple[set[int] | None, int]:
        if self.metadata is None or self.metadata.get("complete"):
            return None, 0
        layout = self.layout
        assert layout is not None
        manifest = Manifest.load(get_writer(self.format).manifest_path(self.path))
        done = manifest.done if manifest is not None else set()
        written = sum(hi - lo for lo, hi in (layout.chunk_range(c) for c in done if c < layout.num_chunks))
        return done, layout.num - written

    # -- properties ---------------------------------------------------------------------------------------------
    @property
    def spec(self):
        """The :class:`~movingmnist.Spec` the dataset was generated from (None without metadata)."""
        if self.metadata is None:
            return None
        from ..spec import Spec

        return Spec.from_dict(self.metadata["spec"])

    @property
    def seed(self) -> int | None:
        return None if self.metadata is None else int(self.metadata["seed"])

    @property
    def start(self) -> int:
        """Index of the sequence in row 0 (row ``r`` holds sequence ``start + r``)."""
        return 0 if self.metadata is None else int(self.metadata.get("start", 0))

    def row_done(self, rows: np.ndarray | int) -> np.ndarray:
        """Whether each row's chunk is written (all True for a complete dataset)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.done_chunks is None or self.layout is None:
            return np.ones(rows.shape, dtype=bool)
        done = np.zeros(self.layout.num_chunks, dtype=bool)
        done[list(self.done_chunks)] = True
        return done[rows // self.layout.chunk_size]

    def storage_bytes(self) -> dict[str, int]:
        """Bytes each array takes on disk (after compression)."""
        return {name: int(a._backend.storage_bytes()) for name, a in self.arrays.items()}

    # -- indexing -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num

    def __getitem__(self, key: Any) -> dict[str, np.ndarray] | Batch:
        """``ds[i]``: sequence in row i as a dict of arrays; ``ds[lo:hi]`` or ``ds[[i, j]]``: a Batch."""
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.num if key < 0 else 0)
            if not 0 <= i < self.num:
                raise IndexError(f"index {key} is out of range for a dataset of {self.num} sequences")
            return {name: array.read(i, i + 1)[0] for name, array in self.arrays.items()}
        if isinstance(key, slice):
            lo, hi, step = key.indices(self.num)
            if step == 1:
                rows = np.arange(lo, max(lo, hi), dtype=np.int64)
                values = {name: array.read(lo, hi) for name, array in self.arrays.items()}
                return self._batch(rows, values)
            key = np.arange(lo, hi, step)
        rows = np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = np.where(rows < 0, rows + self.num, rows).astype(np.int64)
        return self._batch(rows, {name: array.take(rows) for name, array in self.arrays.items()})

    def _batch(self, rows: np.ndarray, values: dict[str, np.ndarray]) -> Batch:
        fields = {a.name: values.get(a.name) for a in SCHEMA}
        return Batch(index=rows + self.start, **fields)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(self.num):
            yield self[i]

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "allow_incomplete": self.allow_incomplete}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], allow_incomplete=state["allow_incomplete"])  # type: ignore[misc]

    def __repr__(self) -> str:
        status = "complete" if self.complete else f"incomplete, {self.missing} missing"
        return f"Dataset({self.path!r}, format={self.format}, n={self.num}, {status}, arrays={list(self.arrays)})"


def open_dataset(path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Dataset:
    """Open a dataset written by :func:`movingmnist.write_dataset` (zarr, hdf5, npy or classic-npy), lazily.

    Args:
        path: the dataset (a ``.zarr`` directory, ``.h5`` file, npy directory or classic ``.npy`` file).
        allow_incomplete: open a dataset whose generation did not finish (missing sequences read as the fill
            value: NaN for floats, 0 otherwise); without it such a dataset raises a DatasetError saying how many
            sequences are missing.
    """
    return Dataset(os.fspath(path), allow_incomplete=allow_incomplete)
