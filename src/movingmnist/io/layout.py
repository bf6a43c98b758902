"""The layout of a dataset on disk: its stored arrays (per-sequence shape, dtype, storage chunk) and work chunks.

A dataset of N sequences is cut into work chunks of ``chunk_size`` consecutive sequences (the last one may be
shorter); each stored array is further cut into storage chunks of ``chunk_rows`` sequences, a divisor of
``chunk_size``, so that a work chunk is always a whole number of storage chunks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DatasetError


@dataclass(frozen=True)
class ArrayLayout:
    """One stored array: per-sequence ``shape`` and ``dtype``, and ``chunk_rows`` sequences per storage chunk."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    chunk_rows: int

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def fill_value(self) -> Any:
        """What unwritten rows read as: NaN for floats, False for bool, 0 otherwise."""
        kind = np.dtype(self.dtype).kind
        return float("nan") if kind == "f" else (False if kind == "b" else 0)

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "chunk_rows": self.chunk_rows}


@dataclass(frozen=True)
class Layout:
    """How a dataset is stored: rows ``0 .. num - 1`` hold sequences ``start .. start + num - 1``."""

    format: str
    num: int
    start: int
    chunk_size: int
    compression: str
    arrays: dict[str, ArrayLayout] = field(default_factory=dict)

    @property
    def num_chunks(self) -> int:
        return -(-self.num // self.chunk_size)

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of work chunk ``chunk``."""
        if not 0 <= chunk < self.num_chunks:
            raise IndexError(f"chunk {chunk} is out of range: the dataset has {self.num_chunks} chunks")
        lo = chunk * self.chunk_size
        return lo, min(self.num, lo + self.chunk_size)

    @property
    def row_bytes(self) -> int:
        return sum(a.row_bytes for a in self.arrays.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "num": self.num,
            "start": self.start,
            "chunk_size": self.chunk_size,
            "compression": self.compression,
            "arrays": {name: a.to_dict() for name, a in self.arrays.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        try:
            arrays = {
                name: ArrayLayout(name, tuple(int(s) for s in a["shape"]), str(a["dtype"]), int(a["chunk_rows"]))
                for name, a in data["arrays"].items()
            }
            return cls(
                format=str(data["format"]),
                num=int(data["num"]),
                start=int(data["start"]),
                chunk_size=int(data["chunk_size"]),
                compression=str(data["compression"]),
                arrays=arrays,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"the stored layout is damaged or from an unknown version: {exc!r}") from None


def storage_chunk_rows(row_bytes: int, chunk_size: int, target_bytes: int) -> int:
    """Sequences per storage chunk: the largest divisor of ``chunk_size`` whose chunk stays within
    ``target_bytes`` (at least 1), so that a work chunk is always a whole number of storage chunks."""
    limit = max(1, target_bytes // max(row_bytes, 1))
    best = 1
    d = 1
    while d * d <= chunk_size:
        if chunk_size % d == 0:
            for candidate in (d, chunk_size // d):
                if best < candidate <= limit:
                    best = candidate
        d += 1
    return best
