"""WebDataset tar shards: one sample per sequence, each array as a ``.npy`` member (no dependency to write).

    OUT/shard-000000.tar ...   ``shard_size`` sequences each, in export order
        000000017.frames.npy   (T, C, H, W) uint8 ... one member per array of the data
        000000017.meta.json    index, seed, fingerprint, preset, source of the sequence

``__key__`` is the sequence index, zero-padded to 9 digits (``int(key)`` gives it back; keys hold no dot, so
WebDataset splits ``000000017.frames.npy`` into the key and ``frames.npy``). Members are written with fixed
metadata (mtime 0, owner 0, mode 644): the same export gives the same bytes.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from typing import Any

import numpy as np

from ..batch import Batch
from .base import SHARD_SIZE, Exporter


def key_of(index: int) -> str:
    return f"{int(index):09d}"


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def sample_members(index: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The tar members of one sequence: ``(name, bytes)`` of each array as ``.npy`` and of ``meta.json``."""
    key = key_of(index)
    members = [(f"{key}.{name}.npy", npy_bytes(array)) for name, array in arrays.items()]
    members.append((f"{key}.meta.json", json.dumps({"index": int(index), **meta}, sort_keys=True).encode()))
    return members


def sample_meta(provenance: dict[str, Any]) -> dict[str, Any]:
    """What every sample's ``meta.json`` repeats of the provenance (the whole of it is in ``movingmnist.json``)."""
    meta = provenance.get("metadata") or {}
    return {
        "seed": meta.get("seed"),
        "fingerprint": meta.get("fingerprint"),
        "preset": (meta.get("spec") or {}).get("preset"),
        "source": (meta.get("source") or {}).get("name"),
        "version": meta.get("version"),
    }


class WebDatasetExporter(Exporter):
    name = "webdataset"
    options = {"shard_size": SHARD_SIZE}

    def __init__(self, root, job, **options):
        super().__init__(root, job, **options)
        self.meta = sample_meta(job.provenance)
        self.tar: tarfile.TarFile | None = None
        self.shards = 0
        self.in_shard = 0

    def write(self, batch: Batch) -> None:
        arrays = batch.arrays()
        for i, index in enumerate(batch.index.tolist()):
            if self.tar is None or self.in_shard == self.opts["shard_size"]:
                self._next_shard()
            for name, data in sample_members(index, {n: a[i] for n, a in arrays.items()}, self.meta):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                self.tar.addfile(info, io.BytesIO(data))
            self.in_shard += 1

    def _next_shard(self) -> None:
        self._close()
        self.tar = tarfile.open(os.path.join(self.root, f"shard-{self.shards:06d}.tar"), "w",
                                format=tarfile.PAX_FORMAT)
        self.shards += 1
        self.in_shard = 0

    def _close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tar = None

    def finish(self) -> None:
        self._close()
        self.job.provenance["shards"] = [f"shard-{i:06d}.tar" for i in range(self.shards)]

    def __exit__(self, exc_type, *rest):
        if exc_type is not None:
            self._close()
        super().__exit__(exc_type, *rest)
