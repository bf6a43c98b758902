"""Reading datasets: ``mm.open(path)`` returns a lazy :class:`Dataset` for any of the formats::

    ds = mm.open("train.zarr")            # nothing is read yet
    len(ds), ds.seed, ds.spec.preset
    ds[17]["frames"].shape                # one sequence: dict of arrays, (T, C, H, W)
    ds[100:164]                           # a Batch of 64 sequences
    ds.arrays["boxes"][5:9, :, 0]         # any array, lazily, numpy-style row indexing

Nothing is read before it is indexed. zarr datasets written by this package are read by a small direct reader of
the ``sharding_indexed`` layout (one ``pread`` of the shard index, cached, and one of the inner chunk per array:
tens of microseconds per sequence instead of zarr's per-call overhead; on object storage the same reader makes
ranged GETs); other zarr layouts go through zarr itself. A Dataset pickles by path (and storage options), so it can
be handed to DataLoader worker processes.

Object storage: ``mm.open("s3://bucket/train.zarr", storage_options={...})`` reads a zarr dataset at any fsspec URL
(see :mod:`movingmnist.io.remote` for where credentials and endpoints come from).

Opening checks the metadata and every stored array against the layout, the manifest against the metadata, and that
no file lies outside the dataset; rows of chunks recorded as written never read as fill values (see
:func:`open_dataset`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..batch import SCHEMA, Batch
from ..errors import DatasetError, KeyTypeError, RowIndexError, shown
from .backends import Damage, H5File
from .files import check_inside
from .layout import Layout
from .lazy_array import LazyArray
from .manifest import Manifest
from .opening import Opening, detect_format, differences
from .remote import StorageOptions, is_remote
from .writers import get_writer


# -- dataset ------------------------------------------------------------------------------------------------------
class Dataset:
    """A dataset on disk, opened lazily (see :func:`open_dataset`).

    Attributes:
        path, format: where and how it is stored.
        metadata: provenance dict (spec, fingerprint, seed, version, source, layout, command, ...); None for a
            classic .npy without the sidecar metadata.
        arrays: name -> :class:`LazyArray` with a leading N axis.
        complete: whether every sequence is written. missing: how many sequences are not.
        storage_options: of an object-store URL (None: fsspec's configuration and environment).
    """

    def __init__(
        self, path: str, *, allow_incomplete: bool = False, storage_options: StorageOptions = None
    ) -> None:
        self.path = str(path).rstrip("/") if is_remote(path) else str(path)
        self.allow_incomplete = allow_incomplete
        self.storage_options = storage_options
        self.format = detect_format(self.path, storage_options)
        opening = Opening(self.path, self.format, storage_options)
        backends = opening.open()
        self.metadata: dict[str, Any] | None = opening.metadata
        self.layout: Layout | None = opening.layout
        self._h5: H5File | None = opening.h5
        self._root_real = opening.root_real  # real path of a directory dataset: every file read lies inside it
        self.arrays: dict[str, LazyArray] = {}
        order = [a.name for a in SCHEMA]
        for name in sorted(backends, key=lambda n: order.index(n) if n in order else len(order)):
            shape, dtype, backend = backends[name]
            self.arrays[name] = LazyArray(name, shape, dtype, backend)
        if "frames" not in self.arrays:
            raise DatasetError(f"{self.path} has no frames array")
        self.num = len(self.arrays["frames"])
        # Written before presence was per frame: ``present`` holds the (K,) slots, read as ``occupied``.
        self.slots_as_present = (
            "occupied" not in self.arrays and "present" in self.arrays and self.arrays["present"].ndim == 2
        )
        self.done_chunks, self.missing, why = self._completeness()
        self.complete = self.missing == 0 and (self.metadata is None or bool(self.metadata.get("complete")))
        if not self.complete and not allow_incomplete:
            raise DatasetError(
                f"{self.path} is incomplete: {self.missing:,} of {self.num:,} sequences are missing"
                + (why or ("" if self.missing else " (all chunks are written but the run did not finish)"))
                + "; finish it with `movingmnist generate ... --resume` (same arguments), or open it with "
                "allow_incomplete=True"
            )
        if self.layout is not None:
            written = None
            if self.done_chunks is not None:
                written = np.zeros(self.layout.num_chunks, dtype=bool)
                written[sorted(self.done_chunks)] = True
            for array in self.arrays.values():
                array._backend.expect(written, self.layout.chunk_size)

    def _completeness(self) -> tuple[set[int] | None, int, str]:
        """Written chunks (None: all), missing sequences, and why the metadata's word was not taken ("" if it was).

        A manifest beside the data is checked against the metadata: one that lists fewer written chunks than the
        metadata's ``complete`` claims makes the dataset incomplete (a run killed, then its metadata edited)."""
        if self.metadata is None:
            return None, 0, ""
        layout = self.layout
        assert layout is not None
        manifest_path = get_writer(self.format).manifest_path(self.path)
        if self._root_real is not None and os.path.lexists(manifest_path):
            check_inside(manifest_path, self._root_real, "the manifest")
        manifest = Manifest.load(manifest_path, storage_options=self.storage_options)
        claims = bool(self.metadata.get("complete"))
        if manifest is None:
            return (None, 0, "") if claims else (set(), layout.num, "")
        if manifest.num_chunks != layout.num_chunks:
            raise DatasetError(
                f"the manifest {manifest_path} counts {manifest.num_chunks} chunks, the dataset {layout.num_chunks}: "
                "it belongs to another dataset"
            )
        for key in ("fingerprint", "seed", "num", "start", "layout", "spec"):
            if key in manifest.identity and key in self.metadata and manifest.identity[key] != self.metadata[key]:
                raise DatasetError(
                    f"the manifest {manifest_path} and the metadata of {self.path} differ in "
                    f"{differences(key, manifest.identity[key], self.metadata[key])}: one of them was changed after "
                    "the dataset was written"
                )
        done = {c for c in manifest.done if 0 <= c < layout.num_chunks}
        if claims and len(done) == layout.num_chunks:
            return None, 0, ""
        written = sum(hi - lo for lo, hi in (layout.chunk_range(c) for c in done))
        why = ""
        if claims:
            why = (
                f" (its metadata says complete, but its manifest records only {len(done)} of {layout.num_chunks} "
                "chunks as written)"
            )
        return done, layout.num - written, why

    def check_structure(self) -> list[Damage]:
        """Look at the storage of every written chunk of every array (without decoding the data): shard files
        present, inside the dataset and with intact indexes, HDF5 chunks stored. Returns the damage found (an
        empty list when none); ``movingmnist info`` and ``verify`` report it."""
        damage: list[Damage] = []
        for array in self.arrays.values():
            damage.extend(array._backend.scan())
        return damage

    # -- properties ---------------------------------------------------------------------------------------------
    @property
    def spec(self):
        """The :class:`~movingmnist.Spec` the dataset was generated from (None without metadata)."""
        if self.metadata is None:
            return None
        from ..errors import SpecError
        from ..spec import Spec

        try:
            return Spec.from_dict(self.metadata["spec"])
        except SpecError as exc:
            raise DatasetError(f"{self.path}: the stored spec is not valid here: {exc}") from None

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
        if self.slots_as_present and fields["present"] is not None:
            # Every occupied slot of those datasets is present in every frame (they have no lifetimes).
            present = fields["present"]
            frames = int(self.arrays["frames"].shape[1])
            fields["occupied"] = present
            fields["present"] = np.ascontiguousarray(
                np.broadcast_to(present[:, None, :], (present.shape[0], frames, present.shape[1]))
            )
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
        return {"path": self.path, "allow_incomplete": self.allow_incomplete, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"], allow_incomplete=state["allow_incomplete"], storage_options=state.get("storage_options")
        )

    def __repr__(self) -> str:
        status = "complete" if self.complete else f"incomplete, {self.missing} missing"
        return f"Dataset({self.path!r}, format={self.format}, n={self.num}, {status}, arrays={list(self.arrays)})"


def open_dataset(
    path: str | os.PathLike[str], *, allow_incomplete: bool = False, storage_options: StorageOptions = None
) -> Dataset:
    """Open a dataset written by :func:`movingmnist.write_dataset` (zarr, hdf5, npy or classic-npy), lazily.

    Args:
        path: the dataset (a ``.zarr`` directory, ``.h5`` file, npy directory or classic ``.npy`` file), or the URL
            of a zarr dataset on object storage (``s3://bucket/train.zarr``, any fsspec URL).
        allow_incomplete: open a dataset whose generation did not finish (the sequences of chunks it does not
            record as written read as the fill value: NaN for floats, 0 otherwise); without it such a dataset raises
            a DatasetError saying how many sequences are missing.
        storage_options: for a URL, passed to its fsspec filesystem (``{"endpoint_url": ..., "key": ...,
            "secret": ...}`` for S3); default: fsspec's configuration and the backend's environment variables
            (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...).

    Raises:
        DatasetError: the dataset is incomplete (without ``allow_incomplete``), or its metadata or files are not
            what it says they are: array names that are not the schema's, dtypes or shapes that differ from the
            layout, a manifest that contradicts the metadata, files that resolve outside the dataset, HDF5 arrays
            that are links or external storage, shards missing for chunks recorded as written. Reading rows whose
            written data is missing or damaged raises a DatasetError naming the array and the rows, never fill
            values (docs/datasets.md, "What opening and verify check").
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DatasetError(f"path={shown(path)} is not allowed: the path of a dataset (a str or os.PathLike), such as "
                           "'train.zarr'")
    return Dataset(os.fspath(path), allow_incomplete=allow_incomplete, storage_options=storage_options)
