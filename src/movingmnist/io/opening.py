"""Opening a dataset's storage: what format is at a path, its metadata checked against what the reader relies on,
and one row reader per stored array, each checked against the layout (dtype, shape, storage chunking) and refused
when it lies outside the dataset (links, absolute or ``..`` names, HDF5 external storage). :class:`Dataset` builds on
this; ``--overwrite`` recognises a damaged dataset by :func:`stored_kind`."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..batch import SCHEMA_BY_NAME
from ..errors import DatasetError, shown
from .backends import H5Array, H5File, NpyFile, ZarrApi, classic_view
from .files import check_inside
from .layout import Layout
from .remote import StorageOptions, is_remote
from .zarr_shards import RemoteZarrShards, ZarrShards

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



class Opening:
    """The storage of the dataset at ``path`` (of format ``fmt``; ``storage_options`` for an object-store URL)
    being opened: :meth:`open` returns ``{name: (shape, dtype, row reader)}`` and fills in ``metadata`` and
    ``layout`` (None for a classic .npy without its sidecar), ``h5`` (the HDF5 file handle) and ``root_real`` (the
    real path of a local directory dataset: every file read lies inside it)."""

    def __init__(self, path: str, fmt: str, storage_options: StorageOptions = None) -> None:
        self.path = path
        self.format = fmt
        self.storage_options = storage_options
        self.metadata: dict[str, Any] | None = None
        self.layout: Layout | None = None
        self.h5: H5File | None = None
        self.root_real: str | None = None

    def open(self) -> dict[str, tuple]:
        return getattr(self, f"open_{self.format.replace('-', '_')}")()

    def _read_json(self, path: str) -> dict[str, Any]:
        if self.root_real is not None:
            check_inside(path, self.root_real, os.path.basename(path))
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
            dims = len(schema.dims)
            if name == "present" and "occupied" not in layout.arrays:
                dims = 1  # written before presence was per frame: the (K,) slots, read as occupied (reader.py)
            if len(array.shape) != dims or min(array.shape, default=1) < 1:
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

    def open_zarr(self) -> dict[str, tuple]:
        from .zarr_writer import ATTRIBUTE, fast_layout, local_path

        remote = is_remote(self.path)
        if remote:  # no symlinks on object storage: every key is under the dataset's prefix (root_real stays None)
            from .remote import filesystem, join

            root = self.path
            fs, fs_root = filesystem(root, self.storage_options)
        else:
            join = os.path.join
            root = local_path(self.path)
            self.root_real = os.path.realpath(root)
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
                check_inside(array_dir, self.root_real, f"array {name!r}")
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
                    backend = ZarrShards(root, name, info, self.root_real)
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

    def open_hdf5(self) -> dict[str, tuple]:
        from .hdf5_writer import ATTRIBUTE

        self.h5 = H5File(self.path)
        f = self.h5.get()
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
            backends[name] = (dset.shape, dset.dtype, H5Array(self.h5, name, spec.chunk_rows))
        return backends

    def open_npy(self) -> dict[str, tuple]:
        from .npy_writer import METADATA_NAME

        self.root_real = os.path.realpath(self.path)
        self.metadata = self._check_metadata(self._read_json(os.path.join(self.path, METADATA_NAME)), self.path)
        assert self.layout is not None
        backends = {}
        for name in self.layout.arrays:
            path = os.path.join(self.path, f"{name}.npy")
            if not os.path.lexists(path):
                raise DatasetError(f"{self.path}: array {name!r} is missing (no {path})")
            check_inside(path, self.root_real, f"array {name!r}")
            if not os.path.isfile(path):
                raise DatasetError(f"{self.path}: array {name!r}: {path} is not a regular file")
            backend = NpyFile(path, name=name)
            array = backend.array()
            self._check_array(name, array.shape, array.dtype)
            backends[name] = (array.shape, array.dtype, backend)
        return backends

    def open_classic_npy(self) -> dict[str, tuple]:
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
