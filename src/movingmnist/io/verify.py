"""Verify a dataset on disk: check its structure, then regenerate sequences from its stored spec and seed and compare
them byte for byte.

Structure first, and always of every written chunk (even when only a sample of sequences is regenerated): opening
checks the metadata (array names, layout, counts), every array's dtype and shape against the layout, the manifest
against the metadata, and that no file lies outside the dataset; then the stored spec is checked against its
fingerprint and the arrays it renders, and the storage of every written chunk of every array is looked at
(:meth:`~movingmnist.io.reader.Dataset.check_structure`: shard files present, indexes intact, HDF5 chunks stored)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DatasetError, shown
from ..sources import stored_source_name
from .backends import Damage
from .reader import Dataset, open_dataset
from .writers import get_writer


@dataclass
class VerifyReport:
    """Result of :func:`verify_dataset`. Rows are dataset rows; row ``r`` holds sequence ``start + r``.

    Attributes:
        checked: sequences regenerated and compared (all of them, or a sample: see ``mode``).
        mismatches: row -> names of the arrays whose stored bytes differ from the regenerated ones.
        errors: row -> messages of arrays that could not be read (corrupt or missing data).
        damage: what the structure check found in the storage of every written chunk (not only the checked rows).
        structure: what the structure check covered, e.g. ``"15 arrays x 4 chunks"``.
    """

    path: str
    total: int
    start: int
    checked: int = 0
    mode: str = "sample"
    mismatches: dict[int, list[str]] = field(default_factory=dict)
    errors: dict[int, list[str]] = field(default_factory=dict)
    damage: list[Damage] = field(default_factory=list)
    structure: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.errors and not self.damage

    @property
    def damaged_rows(self) -> list[int]:
        """Rows in the damage the structure check found."""
        rows: set[int] = set()
        for d in self.damage:
            rows.update(range(d.lo, d.hi))
        return sorted(rows)

    @property
    def bad_rows(self) -> list[int]:
        return sorted(set(self.mismatches) | set(self.errors) | set(self.damaged_rows))

    @property
    def bad_sequences(self) -> list[int]:
        """Sequence indices (``start + row``) that differ or cannot be read."""
        return [self.start + r for r in self.bad_rows]

    def lines(self, limit: int = 20) -> list[str]:
        """Human-readable report: the structure check (one line, or one per damaged range), then one summary line of
        the regenerated sequences and one line per bad sequence (at most ``limit`` each)."""
        out = []
        if self.damage:
            out.append(
                f"DAMAGED: {_count(len(self.damage), 'problem')} in the files of {self.path} (structure of "
                f"{self.structure} checked), {len(self.damaged_rows):,} of {self.total:,} sequences unreadable:"
            )
            out += [f"  {d}" for d in self.damage[:limit]]
            if len(self.damage) > limit:
                out.append(f"  ... ({len(self.damage) - limit:,} more)")
        elif self.structure:
            out.append(f"structure of {self.structure} checked: every written chunk is present and intact")
        bad = sorted(set(self.mismatches) | set(self.errors))
        if not bad:
            return [*out, f"verified {self.checked:,} of {self.total:,} sequences of {self.path} ({self.mode}): "
                    "all identical to their regeneration"]
        out += [
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


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


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
    storage_options: Mapping[str, Any] | None = None,
) -> VerifyReport:
    """Regenerate sequences of a dataset from its stored spec, seed and source, and compare every stored array.

    Args:
        path: the dataset (or an open Dataset).
        sample: how many random rows to check (drawn with ``seed``); ignored with ``all`` or ``rows``.
        all: check every row. rows: check these rows.
        source: the glyph source when the stored name cannot be loaded here (a moved ``idx:`` directory, or the
            ``(images, labels)`` arrays of a dataset made from arrays); its checksum must match the stored one.
        block: rows regenerated at once (bounds memory).
        storage_options: for a dataset on object storage (see :func:`~movingmnist.open`).

    Returns:
        A :class:`VerifyReport`; ``report.ok`` is False when any checked sequence differs or cannot be read, or the
        structure check found damage anywhere.

    Raises:
        DatasetError: the dataset cannot be opened (see :func:`~movingmnist.open`: changed dtypes or shapes, array
            names that are not the schema's, files outside the dataset...), its spec does not match its
            fingerprint or its arrays, or the source is not the one it was made from.
    """
    from ..generator import Generator

    ds = path if isinstance(path, Dataset) else open_dataset(path, storage_options=storage_options)
    if ds.metadata is None:
        raise DatasetError(f"{ds.path} has no movingmnist metadata, so it cannot be regenerated")
    spec = ds.spec
    fingerprint = ds.metadata.get("fingerprint")
    if fingerprint is not None and spec.fingerprint != fingerprint:
        raise DatasetError(
            f"{ds.path}: the stored spec has fingerprint {spec.fingerprint}, but the metadata records "
            f"{shown(fingerprint)}: the spec was changed after the dataset was written"
        )
    stored_source = ds.metadata.get("source")
    if not isinstance(stored_source, dict):
        stored_source = {}
    if source is None and stored_source.get("name") == "array":
        raise DatasetError(
            f"{ds.path} was generated from arrays given in Python; verify it from Python with "
            "mm.verify_dataset(path, source=(images, labels))"
        )
    # Plain "glyphs" in a stored spec predates the versions of the built-in digits: it means glyphs@1.
    if spec.source.name != stored_source_name(spec.source.name):
        spec = spec.replace({"source.name": stored_source_name(spec.source.name)})
    gen = Generator(spec, seed=ds.seed, source=source, cache_dir=cache_dir)
    if stored_source.get("checksum") and gen.bank.checksum != stored_source["checksum"]:
        raise DatasetError(
            f"the source {gen.bank.name!r} ({gen.bank.split}) has checksum {gen.bank.checksum[:12]}..., but "
            f"{ds.path} was made from glyphs with checksum {str(stored_source['checksum'])[:12]}...: not the same "
            "glyphs"
        )
    _check_arrays_match_spec(ds, gen)
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
    report.damage = ds.check_structure()
    layout = ds.layout
    assert layout is not None
    written = layout.num_chunks if ds.done_chunks is None else len(ds.done_chunks)
    report.structure = f"{len(ds.arrays)} arrays x {written:,} written chunks"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(chosen), unit="seq", desc="verify", leave=False)
    out = gen.allocate(min(block, max(len(chosen), 1)))
    for lo in range(0, len(chosen), block):
        part = chosen[lo : lo + block]
        expected = gen.render_indices(part + ds.start, out=out)
        for name, array in ds.arrays.items():
            want = getattr(expected, _stored_as(ds, name))[: len(part)]
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
                        text = str(exc).removeprefix(f"{name}: ")
                        report.errors.setdefault(int(row), []).append(f"cannot read {name}: {text}")
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


def _check_arrays_match_spec(ds: Dataset, gen: Any) -> None:
    """DatasetError unless the stored arrays are those the spec renders, with its per-sequence shapes and dtypes
    (a spec edited in the metadata would otherwise be compared with arrays of another shape)."""
    shapes = dict(gen.shapes)
    if _stored_as(ds, "present") == "occupied":
        shapes["present"] = shapes.pop("occupied")
    expected = get_writer(ds.format).array_names(shapes)
    problems = []
    missing = [name for name in expected if name not in ds.arrays]
    extra = [name for name in ds.arrays if name not in expected]
    if missing:
        problems.append(f"it renders {', '.join(missing)}, which are not stored")
    if extra:
        problems.append(f"it does not render the stored {', '.join(extra)}")
    for name, array in ds.arrays.items():
        if name in shapes:
            shape, dtype = shapes[name]
            if tuple(shape) != array.shape[1:] or np.dtype(dtype) != array.dtype:
                problems.append(
                    f"it renders {name} as {np.dtype(dtype)} {tuple(shape)} per sequence, stored as {array.dtype} "
                    f"{array.shape[1:]}"
                )
    if problems:
        raise DatasetError(
            f"{ds.path}: the stored spec does not describe the stored arrays ({'; '.join(problems)}): the metadata "
            "was changed after the dataset was written"
        )


def _stored_as(ds: Dataset, name: str) -> str:
    """The rendered array a stored array holds: datasets written before presence was per frame store the ``(K,)``
    slots, now ``occupied``, under the name ``present``."""
    if name == "present" and ds.slots_as_present:
        return "occupied"
    return name
