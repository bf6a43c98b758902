"""Verify a dataset on disk: regenerate sequences from its stored spec and seed and compare them byte for byte."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DatasetError
from .reader import Dataset, open_dataset


@dataclass
class VerifyReport:
    """Result of :func:`verify_dataset`. Rows are dataset rows; row ``r`` holds sequence ``start + r``.

    Attributes:
        mismatches: row -> names of the arrays whose stored bytes differ from the regenerated ones.
        errors: row -> messages of arrays that could not be read (corrupt or missing data).
    """

    path: str
    total: int
    start: int
    checked: int = 0
    mode: str = "sample"
    mismatches: dict[int, list[str]] = field(default_factory=dict)
    errors: dict[int, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.errors

    @property
    def bad_rows(self) -> list[int]:
        return sorted(set(self.mismatches) | set(self.errors))

    @property
    def bad_sequences(self) -> list[int]:
        """Sequence indices (``start + row``) that differ or cannot be read."""
        return [self.start + r for r in self.bad_rows]

    def lines(self, limit: int = 20) -> list[str]:
        """Human-readable report: one summary line, then one line per bad sequence (at most ``limit``)."""
        if self.ok:
            return [f"verified {self.checked:,} of {self.total:,} sequences of {self.path} ({self.mode}): "
                    "all identical to their regeneration"]
        bad = self.bad_rows
        out = [
            f"MISMATCH: {len(bad):,} of {self.checked:,} sequences checked in {self.path} ({self.mode}) differ "
            f"from their regeneration or cannot be read; sequences: "
            + ", ".join(str(self.start + r) for r in bad[:limit])
            + (f", ... ({len(bad) - limit:,} more)" if len(bad) > limit else "")
        ]
        for row in bad[:limit]:
            parts = []
            if row in self.mismatches:
                parts.append("differs in " + ", ".join(self.mismatches[row]))
            if row in self.errors:
                parts.extend(self.errors[row])
            out.append(f"  sequence {self.start + row} (row {row}): " + "; ".join(parts))
        return out


def _as_bytes(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.reshape(a.shape[0], -1).view(np.uint8)


def verify_dataset(
    path: str | os.PathLike[str] | Dataset,
    *,
    sample: int | None = 100,
    seed: int = 0,
    all: bool = False,  # noqa: A002 - mirrors the --all flag
    rows: Iterable[int] | None = None,
    source: Any = None,
    cache_dir: str | None = None,
    block: int = 64,
    progress: bool = False,
) -> VerifyReport:
    """Regenerate sequences of a dataset from its stored spec, seed and source, and compare every stored array.

    Args:
        path: the dataset (or an open Dataset).
        sample: how many random rows to check (drawn with ``seed``); ignored with ``all`` or ``rows``.
        all: check every row. rows: check these rows.
        source: the glyph source when the stored name cannot be loaded here (a moved ``idx:`` directory, or the
            ``(images, labels)`` arrays of a dataset made from arrays); its checksum must match the stored one.
        block: rows regenerated at once (bounds memory).

    Returns:
        A :class:`VerifyReport`; ``report.ok`` is False when any checked sequence differs or cannot be read.
    """
    from ..generator import Generator

    ds = path if isinstance(path, Dataset) else open_dataset(path)
    if ds.metadata is None:
        raise DatasetError(f"{ds.path} has no movingmnist metadata, so it cannot be regenerated")
    stored_source = ds.metadata.get("source", {})
    if source is None and stored_source.get("name") == "array":
        raise DatasetError(
            f"{ds.path} was generated from arrays given in Python; verify it from Python with "
            "mm.verify_dataset(path, source=(images, labels))"
        )
    gen = Generator(ds.spec, seed=ds.seed, source=source, cache_dir=cache_dir)
    if stored_source.get("checksum") and gen.bank.checksum != stored_source["checksum"]:
        raise DatasetError(
            f"the source {gen.bank.name!r} ({gen.bank.split}) has checksum {gen.bank.checksum[:12]}..., but "
            f"{ds.path} was made from glyphs with checksum {stored_source['checksum'][:12]}...: not the same glyphs"
        )
    n = len(ds)
    if rows is not None:
        chosen = np.unique(np.asarray(list(rows), dtype=np.int64))
        if chosen.size and (chosen.min() < 0 or chosen.max() >= n):
            raise DatasetError(f"rows must lie in [0, {n}), got {chosen.min()}..{chosen.max()}")
        mode = "selected rows"
    elif all or sample is None or sample >= n:
        chosen = np.arange(n, dtype=np.int64)
        mode = "all"
    else:
        if sample < 1:
            raise DatasetError(f"sample={sample} is not allowed: an integer >= 1")
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
        mode = f"random sample, seed {seed}"
    report = VerifyReport(ds.path, n, ds.start, mode=mode)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(chosen), unit="seq", desc="verify", leave=False)
    out = gen.allocate(min(block, max(len(chosen), 1)))
    for lo in range(0, len(chosen), block):
        part = chosen[lo : lo + block]
        expected = gen.render_indices(part + ds.start, out=out)
        for name, array in ds.arrays.items():
            want = getattr(expected, name)[: len(part)]
            try:
                got = array.take(part)
            except DatasetError:
                got = None
            if got is None:  # read row by row to name exactly the unreadable ones
                got = np.empty_like(want)
                for i, row in enumerate(part):
                    try:
                        got[i] = array.read(int(row), int(row) + 1)[0]
                    except DatasetError as exc:
                        report.errors.setdefault(int(row), []).append(f"cannot read {name}: {exc}")
                        got[i] = want[i]  # counted as an error, not also as a mismatch
            differs = (_as_bytes(got) != _as_bytes(want)).any(axis=1)
            for row in part[differs]:
                report.mismatches.setdefault(int(row), []).append(name)
        report.checked += len(part)
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    return report
