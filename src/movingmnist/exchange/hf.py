"""Hugging Face ``datasets``: the layout ``Dataset.save_to_disk`` writes, loaded with ``datasets.load_from_disk``.

    OUT/data-00000-of-00002.arrow ...   Arrow IPC streams, ``shard_size`` sequences each
    OUT/dataset_info.json               features, and the provenance as JSON in ``description``
    OUT/state.json                      the shard list

One row per sequence: ``index`` (int64, the sequence index) and every array of the data with its dtype and
per-sequence shape (``ArrayND`` features for arrays of 2 to 5 dimensions, fixed-length ``List`` for the
per-object vectors labels, occupied and glyph_index). The Arrow columns are built from the arrays' buffers
directly (``save_to_disk`` re-encodes every row and was several times slower here); the tests load the result
with ``load_from_disk``.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..batch import Batch
from ..errors import require
from .base import SHARD_SIZE, Exporter

FEATURE = "exporting to Hugging Face datasets (to='hf')"


def _modules():
    datasets = require("datasets", "export", FEATURE)
    import pyarrow

    return datasets, pyarrow


def features_of(arrays: dict[str, np.ndarray]):
    """``datasets.Features`` of a batch's arrays (leading batch axis dropped), after an int64 ``index``."""
    datasets, _ = _modules()
    fixed_list = getattr(datasets, "List", None) or datasets.Sequence  # List since datasets 4, Sequence before
    out = {"index": datasets.Value("int64")}
    for name, array in arrays.items():
        shape, dtype = tuple(array.shape[1:]), str(array.dtype)
        if len(shape) == 1:
            out[name] = fixed_list(datasets.Value(dtype), length=shape[0])
        elif 2 <= len(shape) <= 5:
            out[name] = getattr(datasets, f"Array{len(shape)}D")(shape=shape, dtype=dtype)
        else:  # pragma: no cover - every schema array has 1 to 4 dimensions per sequence
            raise ValueError(f"{name}: {len(shape)}-dimensional arrays have no datasets feature")
    return datasets.Features(out)


def arrow_column(array: np.ndarray, arrow_type):
    """An Arrow column of type ``arrow_type`` (an ArrayND extension type: nested lists; or a fixed-size list) whose
    row ``i`` is ``array[i]``, built on the array's buffer."""
    _, pa = _modules()
    array = np.ascontiguousarray(array)
    column = pa.array(array.reshape(-1))
    extension = isinstance(arrow_type, pa.ExtensionType)
    rows = column.__len__()
    for size in array.shape[:0:-1]:
        rows //= size
        if extension:
            offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * size)
            column = pa.ListArray.from_arrays(offsets, column)
        else:
            column = pa.FixedSizeListArray.from_arrays(column, size)
    return pa.ExtensionArray.from_storage(arrow_type, column) if extension else column


class HfExporter(Exporter):
    name = "hf"
    options = {"shard_size": SHARD_SIZE}

    @classmethod
    def prepare(cls) -> None:
        _modules()

    def __init__(self, root, job, **options):
        super().__init__(root, job, **options)
        self.features = None
        self.schema = None
        self.shards: list[str] = []
        self.sink = self.writer = None
        self.in_shard = 0

    def write(self, batch: Batch) -> None:
        _, pa = _modules()
        arrays = batch.arrays()
        if self.features is None:
            self.features = features_of(arrays)
            self.schema = self.features.arrow_schema
        size = self.opts["shard_size"]
        lo = 0
        while lo < len(batch):
            if self.writer is None or self.in_shard == size:
                self._next_shard()
            hi = min(len(batch), lo + size - self.in_shard)
            columns = [pa.array(batch.index[lo:hi].astype(np.int64))]
            columns += [arrow_column(arrays[n][lo:hi], self.schema.field(n).type) for n in arrays]
            self.writer.write_batch(pa.record_batch(columns, schema=self.schema))
            self.in_shard += hi - lo
            lo = hi

    def _next_shard(self) -> None:
        _, pa = _modules()
        self._close_shard()
        path = os.path.join(self.root, f".shard-{len(self.shards):05d}.arrow")
        self.shards.append(path)
        self.sink = pa.OSFile(path, "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)
        self.in_shard = 0

    def _close_shard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
            self.writer = self.sink = None

    def finish(self) -> None:
        datasets, _ = _modules()
        self._close_shard()
        n = len(self.shards)
        names = [f"data-{i:05d}-of-{n:05d}.arrow" for i in range(n)]
        for path, name in zip(self.shards, names, strict=True):
            os.rename(path, os.path.join(self.root, name))
        description = json.dumps(self.job.provenance, sort_keys=True)
        size = sum(os.path.getsize(os.path.join(self.root, name)) for name in names)
        info = datasets.DatasetInfo(description=description, features=self.features, dataset_size=size,
                                    size_in_bytes=size)
        info.write_to_directory(self.root)
        state = {
            "_data_files": [{"filename": name} for name in names],
            "_fingerprint": hashlib.sha256(description.encode()).hexdigest()[:16],
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        }
        with open(os.path.join(self.root, "state.json"), "w") as f:
            json.dump(state, f, indent=2, sort_keys=True)

    def __exit__(self, exc_type, *rest):
        if exc_type is not None:
            self._close_shard()
        super().__exit__(exc_type, *rest)
