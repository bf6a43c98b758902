"""What is already at the output path: recognising a dataset there, deleting it safely, and checking that a resume
gives the arguments it was generated with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DatasetError
from ..io.files import remove_path
from ..io.layout import Layout
from ..io.manifest import Manifest
from ..io.opening import stored_kind
from ..io.reader import Dataset
from ..io.remote import StorageOptions, is_remote
from ..io.writers import get_writer, registered_writers
from ..sources import stored_source_name
from ..spec import Spec


@dataclass
class ExistingDataset:
    format: str
    manifest: Manifest | None
    complete: bool


def _is_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and all(n.endswith(".tmp") for n in os.listdir(path))


def find_existing(path: str, durable: bool, storage_options: StorageOptions = None) -> ExistingDataset | None:
    """What is at ``path``: None (nothing, or an empty directory), or a movingmnist dataset. DatasetError if it is
    something else (never touched)."""
    if is_remote(path):
        return _find_remote(path, durable, storage_options)
    writers = registered_writers()
    if not os.path.lexists(path):
        sidecar = writers["hdf5"].manifest_path(path)  # every single-file format keeps <file>.manifest.json
        if not os.path.isfile(sidecar):
            return None
    elif _is_empty_dir(path):
        return None
    candidates = (
        [w for w in writers.values() if not w.single_file]
        if os.path.isdir(path)
        else [w for w in writers.values() if w.single_file]
    )
    for writer in candidates:
        manifest = Manifest.load(writer.manifest_path(path), durable=durable)
        if manifest is not None:
            fmt = str(manifest.identity.get("format", writer.format))
            return ExistingDataset(fmt, manifest, manifest.complete)
    try:
        ds = Dataset(path, allow_incomplete=True)
    except DatasetError:
        fmt = stored_kind(path)  # a damaged dataset of ours (refused by the reader) is still ours to replace
        if fmt is None:
            raise DatasetError(
                f"{path} exists and is not a movingmnist dataset; choose another path (it is left untouched)"
            ) from None
        return ExistingDataset(fmt, None, False)
    return ExistingDataset(ds.format, None, ds.complete)


def _find_remote(path: str, durable: bool, storage_options: StorageOptions) -> ExistingDataset | None:
    """:func:`find_existing` at an object-store URL: nothing under the prefix is nothing; a zarr dataset is found by
    its manifest, else by its metadata."""
    from ..io import remote

    try:
        if not remote.exists(path, storage_options):
            return None
    except OSError as exc:
        raise DatasetError(f"cannot look at {path}: {exc.strerror or exc}") from None
    writer = get_writer("zarr")
    manifest = Manifest.load(writer.manifest_path(path), durable=durable, storage_options=storage_options)
    if manifest is not None:
        return ExistingDataset(str(manifest.identity.get("format", "zarr")), manifest, manifest.complete)
    try:
        ds = Dataset(path, allow_incomplete=True, storage_options=storage_options)
    except DatasetError:
        fmt = stored_kind(path, storage_options)
        if fmt is None:
            raise DatasetError(
                f"{path} exists and is not a movingmnist dataset; choose another path (it is left untouched)"
            ) from None
        return ExistingDataset(fmt, None, False)
    return ExistingDataset(ds.format, None, ds.complete)


def remove_dataset(path: str, fmt: str, storage_options: StorageOptions = None) -> None:
    """Delete a dataset so that an interruption never leaves a manifest describing data that is gone: every owned
    path (the manifest first) is renamed to a hidden trash name, atomically, then deleted. Trash left by an
    earlier interrupted removal of the same dataset is deleted too. On object storage (no rename) the manifest
    object is deleted first, then the objects under the dataset's prefix, its metadata (``zarr.json``) last: an
    interrupted removal leaves a dataset that is recognisably ours, incomplete, and replaced by the next
    ``--overwrite``."""
    writer = get_writer(fmt)
    manifest = writer.manifest_path(path)
    if is_remote(path):
        from ..io import remote

        remote.remove(manifest, storage_options)
        remote.remove(path, storage_options, last=("zarr.json",))
        return
    owned = sorted(writer.owned_paths(path), key=lambda p: p != manifest)
    token = os.urandom(4).hex()
    trash = []
    for item in owned:
        if os.path.lexists(item):
            directory, name = os.path.split(os.path.abspath(item))
            target = os.path.join(directory, f".{name}.trash-{token}")
            os.rename(item, target)
            trash.append(target)
    directory, name = os.path.split(os.path.abspath(path))
    for entry in os.listdir(directory):
        if entry.startswith(f".{name}") and ".trash-" in entry:
            trash.append(os.path.join(directory, entry))
    for item in dict.fromkeys(trash):
        remove_path(item)


def identity(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """What the data depends on, as the manifest repeats it (a resume checks it before touching anything)."""
    keys = ("format", "layout", "spec", "fingerprint", "seed", "source", "num", "start", "created", "command")
    return {k: metadata[k] for k in keys if k in metadata}


def _pinned_fingerprint(stored: Mapping[str, Any]) -> Any:
    """The stored fingerprint, or for a spec naming plain ``glyphs`` (written before the built-in digits had
    versions) that of the spec naming ``glyphs@1``, which is what it was made with."""
    spec = stored.get("spec")
    if isinstance(spec, Mapping) and isinstance(spec.get("source"), Mapping) and spec["source"].get("name") == "glyphs":
        return Spec.from_dict(spec).replace({"source.name": stored_source_name("glyphs")}).fingerprint
    return stored.get("fingerprint")


def resume_conflicts(stored: Mapping[str, Any], new: Mapping[str, Any], explicit: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between a stored dataset and the arguments of a resume."""
    conflicts = []
    if _pinned_fingerprint(stored) != new["fingerprint"]:
        diff = Spec.from_dict(stored["spec"]).diff(Spec.from_dict(new["spec"]))
        diff.pop("preset", None)
        conflicts += [f"{k} (stored {a!r}, given {b!r})" for k, a, b in ((k, *v) for k, v in diff.items())]
    for key in ("seed", "num", "start"):
        if stored.get(key) != new[key]:
            conflicts.append(f"{key} (stored {stored.get(key)!r}, given {new[key]!r})")
    stored_layout = stored.get("layout", {})
    for key in ("format", "chunk_size", "compression"):
        if explicit.get(key) is not None and stored_layout.get(key) != explicit[key]:
            conflicts.append(f"{key} (stored {stored_layout.get(key)!r}, given {explicit[key]!r})")
    old_sum = (stored.get("source") or {}).get("checksum")
    new_sum = new["source"]["checksum"]
    if old_sum and old_sum != new_sum:
        conflicts.append(f"source content (stored checksum {old_sum[:12]}..., given {new_sum[:12]}...)")
    return conflicts


@dataclass(frozen=True)
class ResumePoint:
    """Where a resume starts: the stored layout and metadata, and the manifest of the chunks already written
    (None: nothing is recorded, the dataset is created afresh). ``complete``: nothing is left to write."""

    layout: Layout
    metadata: dict[str, Any]
    manifest: Manifest | None
    complete: bool


def resume_point(
    path: str,
    existing: ExistingDataset,
    layout: Layout,
    metadata: dict[str, Any],
    explicit: Mapping[str, Any],
) -> ResumePoint:
    """Check that the dataset ``existing`` at ``path`` was generated with these arguments (``metadata``, the
    ``layout`` they give, and the ``explicit`` format, chunk size and compression) and say where to resume."""
    manifest = existing.manifest
    if manifest is None:
        if not existing.complete:
            raise DatasetError(
                f"cannot resume {path}: its manifest is missing, so which chunks are written is unknown; "
                "use --overwrite to start again"
            )
        return ResumePoint(layout, metadata, None, True)
    stored = manifest.identity
    conflicts = resume_conflicts(stored, metadata, explicit)
    if conflicts:
        raise DatasetError(
            f"cannot resume {path}: it was generated with different settings: {'; '.join(conflicts)}; "
            "give the same arguments, or --overwrite to start again"
        )
    layout = Layout.from_dict(stored["layout"])
    if _pinned_fingerprint(stored) != stored.get("fingerprint"):
        # Written before the built-in digits had versions: its spec keeps saying plain "glyphs" (meaning glyphs@1,
        # what the rest is rendered with), so that the metadata goes on matching the manifest.
        source = stored.get("source")
        metadata = {**metadata, "spec": stored["spec"], "fingerprint": stored.get("fingerprint")}
        if isinstance(source, Mapping):
            metadata["source"] = {**metadata["source"], "name": source.get("name")}
    metadata = {
        **metadata,
        "layout": layout.to_dict(),
        "created": stored.get("created"),
        "command": stored.get("command"),
    }
    if not manifest.done and not manifest.complete:
        return ResumePoint(layout, metadata, None, False)  # nothing recorded: start again from an empty structure
    return ResumePoint(layout, metadata, manifest, manifest.complete)
