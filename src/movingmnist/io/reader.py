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
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..batch import SCHEMA, Batch
from ..errors import DatasetError, KeyTypeError, RowIndexError, shown
from .backends import H5Array, H5File, NpyFile, ZarrApi, ZarrShards, classic_view
from .layout import Layout
from .lazy_array import LazyArray
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
        self._h5: H5File | None = None
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
                name: (group[name].shape, group[name].dtype, ZarrApi(group[name]))
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
                backends[name] = (info["shape"], info["dtype"], ZarrShards(root, name, info))
            else:
                if group is None:
                    from ..errors import require

                    zarr = require("zarr", "zarr", "reading zarr datasets")
                    group = zarr.open_group(root, mode="r")
                backends[name] = (group[name].shape, group[name].dtype, ZarrApi(group[name]))
        return backends

    def _open_hdf5(self) -> dict[str, tuple]:
        from .hdf5_writer import ATTRIBUTE

        self._h5 = H5File(self.path)
        f = self._h5.get()
        text = f.attrs.get(ATTRIBUTE)
        try:
            metadata = json.loads(text) if text is not None else None
        except ValueError:
            metadata = None
        self.metadata = self._check_metadata(metadata, self.path)
        return {
            name: (f[name].shape, f[name].dtype, H5Array(self._h5, name)) for name in self.metadata["layout"]["arrays"]
        }

    def _open_npy(self) -> dict[str, tuple]:
        from .npy_writer import METADATA_NAME

        self.metadata = self._check_metadata(
            self._read_json(os.path.join(self.path, METADATA_NAME)), self.path
        )
        backends = {}
        for name in self.metadata["layout"]["arrays"]:
            backend = NpyFile(os.path.join(self.path, f"{name}.npy"))
            array = backend.array()
            backends[name] = (array.shape, array.dtype, backend)
        return backends

    def _open_classic_npy(self) -> dict[str, tuple]:
        from .npy_writer import ClassicNpyWriter

        sidecar = ClassicNpyWriter.metadata_path(self.path)
        if os.path.isfile(sidecar):
            self.metadata = self._check_metadata(self._read_json(sidecar), sidecar)
        backend = NpyFile(self.path, classic_view)
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
        """``ds[i]``: sequence in row i as a dict of arrays; ``ds[lo:hi]``, ``ds[[i, j]]`` or ``ds[mask]`` (a
        boolean mask of length ``len(ds)``): a Batch. Other keys raise TypeError, out-of-range rows IndexError."""
        if isinstance(key, (bool, np.bool_)):  # why: True is an int, and would silently read row 1
            raise KeyTypeError(f"dataset index {key!r} is a boolean: use an integer row, a slice, rows or a mask")
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.num if key < 0 else 0)
            if not 0 <= i < self.num:
                raise RowIndexError(
                    f"index {key} is out of range for a dataset of {self.num} sequences "
                    f"(rows -{self.num}..{self.num - 1})"
                )
            return {name: array.read(i, i + 1)[0] for name, array in self.arrays.items()}
        if isinstance(key, slice):
            lo, hi, step = key.indices(self.num)
            if step == 1:
                rows = np.arange(lo, max(lo, hi), dtype=np.int64)
                values = {name: array.read(lo, hi) for name, array in self.arrays.items()}
                return self._batch(rows, values)
            key = np.arange(lo, hi, step)
        rows = self._rows(key)
        return self._batch(rows, {name: array.take(rows) for name, array in self.arrays.items()})

    def _rows(self, key: Any) -> np.ndarray:
        """Row numbers (int64, in range) of an integer sequence or a boolean mask; TypeError / IndexError else."""
        try:
            rows = np.asarray(key)
        except (TypeError, ValueError):
            rows = np.asarray(None)
        if rows.dtype == bool:
            if rows.shape != (self.num,):
                raise RowIndexError(
                    f"boolean mask of shape {rows.shape} does not match a dataset of {self.num} sequences: "
                    f"give one of shape ({self.num},)"
                )
            return np.flatnonzero(rows).astype(np.int64)
        if rows.size == 0 and rows.ndim == 1:  # ds[[]]: numpy makes an empty list float64
            return np.zeros(0, dtype=np.int64)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise KeyTypeError(
                f"dataset index {shown(key)} is not allowed: use an integer row, a slice, a 1-D sequence of integer "
                f"rows or a boolean mask of length {self.num}"
            )
        bad = (rows < -self.num) | (rows >= self.num)
        if bad.any():
            raise RowIndexError(
                f"row {int(rows[bad][0])} is out of range for a dataset of {self.num} sequences "
                f"(rows -{self.num}..{self.num - 1})"
            )
        return np.where(rows < 0, rows + self.num, rows).astype(np.int64)

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
    if not isinstance(path, (str, os.PathLike)):
        raise DatasetError(f"path={shown(path)} is not allowed: the path of a dataset (a str or os.PathLike), such as "
                           "'train.zarr'")
    return Dataset(os.fspath(path), allow_incomplete=allow_incomplete)
