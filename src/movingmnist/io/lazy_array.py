"""LazyArray: an array-like view of one stored array, read row by row on indexing (numpy-style on the first axis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


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
