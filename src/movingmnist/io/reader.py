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

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..batch import SCHEMA, SCHEMA_BY_NAME, Batch
from ..errors import DatasetError, KeyTypeError, RowIndexError, shown
from .backends import Damage, H5Array, H5File, NpyFile, RemoteZarrShards, ZarrApi, ZarrShards, classic_view
from .files import check_inside
from .layout import Layout
from .lazy_array import LazyArray
from .manifest import Manifest
from .remote import StorageOptions, is_remote
from .writers import get_writer

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
KIND = "movingmnist-dataset"


def detect_format(path: str, storage_options: StorageOptions = None) -> str:
    """``zarr``, ``hdf5``, ``npy`` or ``classic-npy``, from what is at ``path``; DatasetError if none. At an
    object-store URL only zarr datasets are read."""
    from .zarr_writer import local_path

    if is_remote(path):
        from . import remote

        try:
            if remote.is_file(remote.join(path, "zarr.json"), storage_options):
                return "zarr"
            there = remote.exists(path, storage_options)
        except OSError as exc:
            raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not there:
            raise DatasetError(f"{path} does not exist")
        raise DatasetError(
            f"{path} is not a zarr dataset (no zarr.json under it): only the zarr format is read from and written to "
            "object storage"
        )
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


def stored_kind(path: str, storage_options: StorageOptions = None) -> str | None:
    """The format of the movingmnist dataset at ``path`` judged by its metadata alone (no other check: a damaged
    dataset is still recognised, so that ``--overwrite`` can replace it), or None when it has no such metadata."""
    from .hdf5_writer import ATTRIBUTE as H5_ATTRIBUTE
    from .npy_writer import METADATA_NAME, ClassicNpyWriter
    from .zarr_writer import ATTRIBUTE, local_path

    try:
        fmt = detect_format(path, storage_options)
        local = local_path(path)
        if is_remote(path):
            from .remote import join, read_bytes

            metadata = json.loads(read_bytes(join(path, "zarr.json"), storage_options))["attributes"][ATTRIBUTE]
        elif fmt == "zarr":
            with open(os.path.join(local, "zarr.json")) as f:
                metadata = json.load(f)["attributes"][ATTRIBUTE]
        elif fmt == "npy":
            with open(os.path.join(local, METADATA_NAME)) as f:
                metadata = json.load(f)
        elif fmt == "classic-npy":
            with open(ClassicNpyWriter.metadata_path(local)) as f:
                metadata = json.load(f)
        else:
            from .hdf5_writer import open_h5

            with open_h5(local, "r") as f:
                metadata = json.loads(f.attrs[H5_ATTRIBUTE])
    except Exception:  # anything unreadable is simply not recognised
        return None
    return fmt if isinstance(metadata, dict) and metadata.get("kind") == KIND else None


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
        self.metadata: dict[str, Any] | None = None
        self.layout: Layout | None = None
        self._h5: H5File | None = None
        self._root_real: str | None = None  # real path of a directory dataset: every file read lies inside it
        backends = getattr(self, f"_open_{self.format.replace('-', '_')}")()
        self.arrays: dict[str, LazyArray] = {}
        order = [a.name for a in SCHEMA]
        for name in sorted(backends, key=lambda n: order.index(n) if n in order else len(order)):
            shape, dtype, backend = backends[name]
            self.arrays[name] = LazyArray(name, shape, dtype, backend)
        if "frames" not in self.arrays:
            raise DatasetError(f"{self.path} has no frames array")
        self.num = len(self.arrays["frames"])
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

    # -- per-format opening -------------------------------------------------------------------------------------
    def _read_json(self, path: str) -> dict[str, Any]:
        if self._root_real is not None:
            check_inside(path, self._root_real, os.path.basename(path))
        try:
            if is_remote(path):
                from .remote import read_bytes

                data = json.loads(read_bytes(path, self.storage_options))
            else:
                with open(path) as f:
                    data = json.load(f)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise DatasetError(f"{path} holds a JSON {type(data).__name__}, not an object: it is damaged")
        return data

    def _check_metadata(self, metadata: Any, where: str) -> dict[str, Any]:
        """The metadata, after checking what the reader relies on: kind, layout, array names and schema dtypes,
        counts; sets ``self.layout``. DatasetError naming the field, what was found and what is allowed."""
        if not isinstance(metadata, dict) or metadata.get("kind") != KIND or "layout" not in metadata:
            raise DatasetError(f"{where} is not a movingmnist dataset (no movingmnist metadata)")
        layout = Layout.from_dict(metadata["layout"])
        if layout.format != self.format:
            raise DatasetError(
                f"{where}: the metadata describes a {shown(layout.format)} dataset, but a {self.format} one is stored"
            )
        for name, array in layout.arrays.items():
            check_array_name(name, where)
            schema = SCHEMA_BY_NAME[name]
            if array.dtype != schema.dtype:
                raise DatasetError(
                    f"{where}: the layout gives array {name!r} dtype {shown(array.dtype)}; the schema's is "
                    f"{schema.dtype}"
                )
            if len(array.shape) != len(schema.dims) or min(array.shape, default=1) < 1:
                raise DatasetError(
                    f"{where}: the layout gives array {name!r} per-sequence shape {array.shape}; the schema's has "
                    f"{len(schema.dims)} positive sizes {schema.dims}"
                )
        if "frames" not in layout.arrays:
            raise DatasetError(f"{where}: the layout has no frames array")
        if layout.num < 1 or layout.chunk_size < 1 or layout.start < 0:
            raise DatasetError(
                f"{where}: the layout has num={layout.num}, chunk_size={layout.chunk_size}, start={layout.start}; "
                "allowed: num >= 1, chunk_size >= 1, start >= 0"
            )
        for key in ("num", "start"):
            if key in metadata and metadata[key] != getattr(layout, key):
                raise DatasetError(
                    f"{where}: the metadata has {key}={shown(metadata[key])} but its layout {getattr(layout, key)}"
                )
        seed = metadata.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise DatasetError(f"{where}: the metadata has seed={shown(seed)}; allowed: an integer >= 0")
        if not isinstance(metadata.get("source", {}), dict):
            raise DatasetError(f"{where}: the metadata has source={shown(metadata['source'])}; allowed: an object")
        if not isinstance(metadata.get("spec"), dict):
            raise DatasetError(f"{where}: the metadata has spec={shown(metadata.get('spec'))}; allowed: an object")
        if not isinstance(metadata.get("complete", False), bool):
            raise DatasetError(f"{where}: the metadata has complete={shown(metadata['complete'])}; allowed: a boolean")
        self.layout = layout
        return metadata

    def _check_array(self, name: str, shape: Any, dtype: Any) -> None:
        """DatasetError unless stored array ``name`` has the dtype and shape the layout gives it."""
        assert self.layout is not None
        spec = self.layout.arrays[name]
        want_shape, want_dtype = (self.layout.num, *spec.shape), np.dtype(spec.dtype)
        try:
            found_shape, found_dtype = tuple(int(s) for s in shape), np.dtype(dtype)
        except (TypeError, ValueError):
            found_shape, found_dtype = shape, dtype
        if found_shape != want_shape or found_dtype != want_dtype:
            raise DatasetError(
                f"{self.path}: array {name!r} is stored as {found_dtype} with shape {shown(found_shape)}, but the "
                f"dataset's layout gives {want_dtype} with shape {want_shape}; it was changed after it was written"
            )

    def _open_zarr(self) -> dict[str, tuple]:
        from .zarr_writer import ATTRIBUTE, fast_layout, local_path

        remote = is_remote(self.path)
        if remote:  # no symlinks on object storage: every key is under the dataset's prefix (_root_real stays None)
            from .remote import filesystem, join

            root = self.path
            fs, fs_root = filesystem(root, self.storage_options)
        else:
            join = os.path.join
            root = local_path(self.path)
            self._root_real = os.path.realpath(root)
        group_meta = self._read_json(join(root, "zarr.json"))
        attributes = group_meta.get("attributes")
        self.metadata = self._check_metadata(
            attributes.get(ATTRIBUTE) if isinstance(attributes, dict) else None, self.path
        )
        assert self.layout is not None
        backends = {}
        group = None
        for name, spec in self.layout.arrays.items():
            array_dir = join(root, name)
            meta_path = join(array_dir, "zarr.json")
            if remote:
                try:
                    meta = self._read_json(meta_path)
                except DatasetError:
                    from .remote import is_file

                    if not is_file(meta_path, self.storage_options):
                        raise DatasetError(f"{self.path}: array {name!r} is missing (no {meta_path})") from None
                    raise
            else:
                check_inside(array_dir, self._root_real, f"array {name!r}")
                if not os.path.isfile(meta_path):
                    raise DatasetError(f"{self.path}: array {name!r} is missing (no {meta_path})")
                meta = self._read_json(meta_path)
            info = fast_layout(meta)
            if info is not None:
                self._check_array(name, info["shape"], info["dtype"])
                if info["shard_rows"] != self.layout.chunk_size or info["chunk_rows"] != spec.chunk_rows:
                    raise DatasetError(
                        f"{self.path}: array {name!r} is stored in shards of {info['shard_rows']} and chunks of "
                        f"{info['chunk_rows']} sequences, but the layout gives {self.layout.chunk_size} and "
                        f"{spec.chunk_rows}; it was changed after it was written"
                    )
                if remote:
                    backend = RemoteZarrShards(root, name, info, fs, fs_root)
                else:
                    backend = ZarrShards(root, name, info, self._root_real)
                backends[name] = (info["shape"], info["dtype"], backend)
            else:
                if group is None:
                    from ..errors import require

                    zarr = require("zarr", "zarr", "reading zarr datasets")
                    extra = {"storage_options": dict(self.storage_options or {})} if remote else {}
                    try:
                        group = zarr.open_group(root, mode="r", **extra)
                    except Exception as exc:
                        raise DatasetError(f"zarr cannot open {self.path}: {exc}") from None
                array = _zarr_array(group, name, self.path)
                self._check_array(name, array.shape, array.dtype)
                backends[name] = (array.shape, array.dtype, ZarrApi(array))
        return backends

    def _open_hdf5(self) -> dict[str, tuple]:
        from .hdf5_writer import ATTRIBUTE

        self._h5 = H5File(self.path)
        f = self._h5.get()
        import h5py  # present: the file opened
        text = f.attrs.get(ATTRIBUTE)
        try:
            metadata = json.loads(text) if text is not None else None
        except (TypeError, ValueError):
            metadata = None
        self.metadata = self._check_metadata(metadata, self.path)
        assert self.layout is not None
        backends = {}
        for name, spec in self.layout.arrays.items():
            link = f.get(name, getlink=True)
            if link is None:
                raise DatasetError(f"{self.path}: array {name!r} is missing from the file")
            if isinstance(link, h5py.ExternalLink):
                raise DatasetError(
                    f"{self.path}: array {name!r} is an external link to {link.path!r} in {link.filename}; "
                    "only datasets stored in the file itself are read"
                )
            if not isinstance(link, h5py.HardLink):
                raise DatasetError(
                    f"{self.path}: array {name!r} is a {type(link).__name__} to {shown(getattr(link, 'path', '?'))}; "
                    "only datasets stored in the file itself (hard links) are read"
                )
            dset = f[name]
            if not isinstance(dset, h5py.Dataset):
                raise DatasetError(f"{self.path}: {name!r} is a {type(dset).__name__}, not a dataset")
            if dset.is_virtual or dset.external:
                where = "a virtual dataset" if dset.is_virtual else f"stored in external files {dset.external}"
                raise DatasetError(
                    f"{self.path}: array {name!r} is {where}; only data stored in the file itself is read"
                )
            self._check_array(name, dset.shape, dset.dtype)
            if dset.chunks is None or dset.chunks[0] != spec.chunk_rows:
                raise DatasetError(
                    f"{self.path}: array {name!r} is stored in chunks of {dset.chunks and dset.chunks[0]} "
                    f"sequences, but the layout gives {spec.chunk_rows}; it was changed after it was written"
                )
            backends[name] = (dset.shape, dset.dtype, H5Array(self._h5, name, spec.chunk_rows))
        return backends

    def _open_npy(self) -> dict[str, tuple]:
        from .npy_writer import METADATA_NAME

        self._root_real = os.path.realpath(self.path)
        self.metadata = self._check_metadata(self._read_json(os.path.join(self.path, METADATA_NAME)), self.path)
        assert self.layout is not None
        backends = {}
        for name in self.layout.arrays:
            path = os.path.join(self.path, f"{name}.npy")
            if not os.path.lexists(path):
                raise DatasetError(f"{self.path}: array {name!r} is missing (no {path})")
            check_inside(path, self._root_real, f"array {name!r}")
            if not os.path.isfile(path):
                raise DatasetError(f"{self.path}: array {name!r}: {path} is not a regular file")
            backend = NpyFile(path, name=name)
            array = backend.array()
            self._check_array(name, array.shape, array.dtype)
            backends[name] = (array.shape, array.dtype, backend)
        return backends

    def _open_classic_npy(self) -> dict[str, tuple]:
        from .npy_writer import ClassicNpyWriter

        sidecar = ClassicNpyWriter.metadata_path(self.path)
        if os.path.isfile(sidecar):
            self.metadata = self._check_metadata(self._read_json(sidecar), sidecar)
            assert self.layout is not None
            if set(self.layout.arrays) != {"frames"}:
                raise DatasetError(
                    f"{sidecar}: the layout lists arrays {sorted(self.layout.arrays)}; a classic .npy holds frames only"
                )
        backend = NpyFile(self.path, classic_view, name="frames")
        array = backend.array()
        if self.layout is not None:
            self._check_array("frames", array.shape, array.dtype)
        return {"frames": (array.shape, array.dtype, backend)}

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


def check_array_name(name: Any, where: str) -> None:
    """DatasetError unless ``name`` is an array of the output schema (names become file names: never a path)."""
    if isinstance(name, str) and name in SCHEMA_BY_NAME:
        return
    allowed = f"one of the schema's arrays ({', '.join(SCHEMA_BY_NAME)})"
    if isinstance(name, str) and ("/" in name or "\\" in name or ".." in name or os.path.isabs(name)):
        raise DatasetError(f"{where}: the metadata names an array {shown(name)}, a path; array names are {allowed}")
    raise DatasetError(f"{where}: the metadata names an array {shown(name)}; array names are {allowed}")


def differences(key: str, a: Any, b: Any, limit: int = 3) -> str:
    """``key (a and b)``, or for two dicts the dotted fields that differ: ``spec.frames (4 and 6), ...``."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return f"{key} ({shown(a)} and {shown(b)})"
    from ..spec import flatten

    fa, fb = flatten(a, key + "."), flatten(b, key + ".")
    keys = [k for k in sorted(set(fa) | set(fb)) if fa.get(k, ...) != fb.get(k, ...)]
    parts = [f"{k} ({shown(fa.get(k))} and {shown(fb.get(k))})" for k in keys[:limit]]
    return ", ".join(parts) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _zarr_array(group: Any, name: str, where: str) -> Any:
    try:
        return group[name]
    except Exception as exc:
        raise DatasetError(f"{where}: zarr cannot open array {name!r}: {exc}") from None


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
