"""The export run: choose the sequences, stage the files under a temporary name, feed the exporter a Batch at a
time, and move the finished export into place (so that a half-written export never looks complete)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..batch import Batch
from ..errors import ExportError
from ..io.files import disk_usage, fsync_dir, remove_path
from .base import Job, check_arrays, exporter_class, resolve_options

#: File written into every export: what it holds and where it came from. Its ``kind`` marks a finished export.
MARKER = "movingmnist.json"
KIND = "movingmnist-export"
#: Sequences read and converted at a time.
BLOCK = 64


@dataclass
class ExportSummary:
    """What :func:`export` did: ``num`` sequences written as ``format`` to ``path`` (``nbytes`` on disk) in
    ``seconds`` of wall-clock time."""

    path: str
    format: str
    num: int
    seconds: float
    nbytes: int

    @property
    def seq_per_s(self) -> float:
        return self.num / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        from ..runner.summary import human_bytes

        return (
            f"exported {self.num:,} sequences as {self.format} in {self.seconds:.1f} s ({self.seq_per_s:,.0f} seq/s): "
            f"{human_bytes(self.nbytes)} at {self.path}"
        )


def export(
    data: Any,
    to: str,
    out: str | os.PathLike[str],
    *,
    start: int | None = None,
    num: int | None = None,
    rows: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    **options: Any,
) -> ExportSummary:
    """Write sequences of a dataset in an exchange format (see docs/export.md).

    Args:
        data: a dataset path, a :class:`~movingmnist.Dataset` from ``mm.open``, or a :class:`~movingmnist.Batch`.
        to: ``"mot"`` (MOTChallenge), ``"coco-vis"`` (YouTube-VIS JSON), ``"coco-det"`` (COCO detection JSON, one
            image per frame), ``"hf"`` (Hugging Face ``datasets``, ``load_from_disk``) or ``"webdataset"``
            (tar shards).
        out: the directory to create. An existing path is refused unless ``overwrite`` (which replaces only an
            earlier export or an empty directory).
        start, num: export rows ``start .. start + num - 1`` (default: every row); row ``r`` of a dataset holds
            sequence ``ds.start + r``.
        rows: instead of start/num, the rows to export: a sequence of distinct rows, a slice or ``"a:b"``.
        progress: show a progress bar (default: when stderr is a terminal).
        **options: options of the format: ``images`` (mot, coco-vis, coco-det: write the frames as PNG files,
            default True), ``boxes`` (mot: ``"modal"``, the visible box, default, or ``"amodal"``), ``fps`` (mot:
            frame rate in ``seqinfo.ini``, default 10), ``shard_size`` (hf, webdataset: sequences per shard,
            default 1000).

    Returns:
        an :class:`ExportSummary`.
    """
    began = time.perf_counter()
    cls = exporter_class(to)
    opts = resolve_options(cls, options)
    cls.prepare()
    out = os.path.abspath(os.fspath(out))
    if not isinstance(overwrite, (bool, np.bool_)):
        raise ExportError("overwrite", overwrite, "True or False")
    owned = None
    if isinstance(data, (str, os.PathLike)):
        from ..io.reader import open_dataset

        data = owned = open_dataset(data)
    try:
        source = _Source(data)
        positions = choose_rows(source.length, start, num, rows)
        check_arrays(cls, opts, source.arrays)
        _check_out(out, overwrite, source.path)
        job = Job(*source.shapes, num=len(positions), arrays=source.arrays, class_names=source.class_names(),
                  provenance=_provenance(source, to, opts, positions))
        stage = _stage(out)
        try:
            bar = _progress(len(positions), progress, to)
            try:
                with cls(stage, job, **opts) as exporter:
                    for lo in range(0, len(positions), BLOCK):
                        chosen = positions[lo : lo + BLOCK]
                        exporter.write(source.take(chosen))
                        bar.update(len(chosen))
            finally:
                bar.close()
            with open(os.path.join(stage, MARKER), "w") as f:
                json.dump(job.provenance, f, indent=1)
            _move_into_place(stage, out, overwrite)
        except BaseException:
            remove_path(stage)
            raise
    finally:
        if owned is not None:
            owned.close()
    return ExportSummary(out, to, len(positions), time.perf_counter() - began, disk_usage([out]))


# -- the data -----------------------------------------------------------------------------------------------------
class _Source:
    """A Dataset or a Batch, read a few rows at a time."""

    def __init__(self, data: Any) -> None:
        from ..io.reader import Dataset

        if isinstance(data, Dataset):
            self.length = len(data)
            self.arrays = tuple(data.arrays)
            frames = data.arrays["frames"].shape
            labels = data.arrays.get("labels")
            self.path = data.path
            self.metadata = dict(data.metadata or {})
        elif isinstance(data, Batch):
            self.length = len(data)
            self.arrays = tuple(data.arrays())
            frames = data.frames.shape
            labels = data.labels
            self.path = None
            self.metadata = {}
        else:
            raise TypeError(
                f"cannot export {type(data).__name__}: give a dataset path, a dataset from movingmnist.open, or a "
                "Batch from movingmnist.generate"
            )
        if self.length == 0:
            raise ExportError("data", data, "data with at least one sequence")
        self.data = data
        k = labels.shape[1] if labels is not None and len(labels.shape) == 2 else 0
        self.shapes = (*frames[1:], k)

    def class_names(self) -> list[str]:
        names = (self.metadata.get("source") or {}).get("class_names")
        if names:
            return [str(n) for n in names]
        highest = 9
        if isinstance(self.data, Batch) and self.data.labels.size:
            highest = max(highest, int(self.data.labels.max()))
        return [str(c) for c in range(highest + 1)]

    def take(self, positions: np.ndarray) -> Batch:
        data = self.data
        contiguous = len(positions) and positions[-1] - positions[0] == len(positions) - 1 and (
            np.all(np.diff(positions) == 1))
        if isinstance(data, Batch):
            key: Any = slice(int(positions[0]), int(positions[-1]) + 1) if contiguous else positions
            return Batch(**{f.name: None if getattr(data, f.name) is None else getattr(data, f.name)[key]
                            for f in fields(data)})
        if contiguous:
            return data[int(positions[0]) : int(positions[-1]) + 1]
        return data[positions]


def choose_rows(length: int, start: Any, num: Any, rows: Any) -> np.ndarray:
    """The rows to export (int64, in export order): ``rows``, or ``start .. start + num - 1``; ExportError naming the
    argument when they do not fit ``length`` rows."""
    if rows is not None:
        if start is not None or num is not None:
            raise ExportError("rows", rows, "rows, or start and num, not both")
        return _rows(length, rows)
    for name, value in (("start", start), ("num", num)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)):
            raise ExportError(name, value, "an integer")
    start = 0 if start is None else int(start)
    if not 0 <= start < length:
        raise ExportError("start", start, f"a row in 0..{length - 1} (the data has {length:,} sequences)")
    if num is None:
        num = length - start
    if not 1 <= num <= length - start:
        raise ExportError("num", num, f"1..{length - start} (the data has {length:,} sequences from row {start})")
    return np.arange(start, start + int(num), dtype=np.int64)


def _rows(length: int, rows: Any) -> np.ndarray:
    if isinstance(rows, str):
        rows = _parse_rows(rows)
    if isinstance(rows, slice):
        if rows.step == 0:
            raise ExportError("rows", rows, "a slice whose step is not 0")
        chosen = np.arange(length, dtype=np.int64)[rows]
    else:
        try:
            chosen = np.asarray(list(rows))
        except TypeError:
            raise ExportError("rows", rows, "a sequence of integer rows, a slice or 'START:STOP'") from None
        if chosen.ndim != 1 or not (chosen.size == 0 or np.issubdtype(chosen.dtype, np.integer)):
            raise ExportError("rows", rows, "a sequence of integer rows, a slice or 'START:STOP'")
        chosen = chosen.astype(np.int64)
        bad = (chosen < 0) | (chosen >= length)
        if bad.any():
            raise ExportError("rows", int(chosen[bad][0]), f"rows in 0..{length - 1} (the data has {length:,} "
                              "sequences)")
        if len(np.unique(chosen)) != len(chosen):
            raise ExportError("rows", rows, "distinct rows (a row given twice would be exported twice)")
    if chosen.size == 0:
        raise ExportError("rows", rows, f"at least one row in 0..{length - 1}")
    return chosen


def _parse_rows(text: str) -> slice | list[int]:
    """``"0:16"``, ``"10:20:2"``, ``":8"`` -> a slice; ``"3,5,9"`` or ``"7"`` -> a list."""
    try:
        if ":" in text:
            parts = [int(p) if p.strip() else None for p in text.split(":")]
            if len(parts) <= 3:
                return slice(*parts)
        else:
            return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        pass
    raise ExportError("rows", text, "START:STOP[:STEP] or a comma list such as 3,5,9")


def _provenance(source: _Source, to: str, opts: dict[str, Any], positions: np.ndarray) -> dict[str, Any]:
    from .._version import __version__

    index = _indices(source, positions)
    meta = {k: v for k, v in source.metadata.items() if k not in ("layout", "complete")}
    return {
        "kind": KIND,
        "format": to,
        "options": opts,
        "version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "num": len(positions),
        "indices": _runs(index),
        "dataset": source.path,
        "metadata": meta,
    }


def _indices(source: _Source, positions: np.ndarray) -> np.ndarray:
    data = source.data
    if isinstance(data, Batch):
        return np.asarray(data.index)[positions]
    return positions + data.start


def _runs(values: np.ndarray) -> list[list[int]]:
    """``[0, 1, 2, 7, 8]`` -> ``[[0, 3], [7, 9]]``: half-open runs of consecutive values, in order."""
    if not len(values):
        return []
    cut = np.nonzero(np.diff(values) != 1)[0] + 1
    return [[int(r[0]), int(r[-1]) + 1] for r in np.split(values, cut)]


def _progress(total: int, enabled: bool | None, to: str):
    from ..runner.summary import Progress

    return Progress(total, 0, sys.stderr.isatty() if enabled is None else bool(enabled), f"export {to}")


# -- the output path ----------------------------------------------------------------------------------------------
def _check_out(out: str, overwrite: bool, dataset: str | None) -> None:
    if dataset is not None:
        src = os.path.realpath(dataset)
        dst = os.path.realpath(out)
        if dst == src or dst.startswith(src + os.sep) or src.startswith(dst + os.sep):
            raise ExportError("out", out, "a path outside the dataset being exported (and not containing it)")
    if not os.path.lexists(out):
        parent = os.path.dirname(out)
        if not os.path.isdir(parent):
            raise ExportError("out", out, f"a path in an existing directory ({parent} does not exist)")
        return
    if not overwrite:
        raise ExportError("out", out, "a path that does not exist yet (or overwrite=True, --overwrite, to replace "
                          "an earlier export)")
    if not is_export(out) and not (os.path.isdir(out) and not os.listdir(out)):
        raise ExportError("out", out, "a new path, or an earlier export or empty directory to overwrite (this "
                          "path is something else and is left untouched)")


def is_export(path: str) -> bool:
    """Whether ``path`` is a finished export (a directory holding the marker file of its kind)."""
    try:
        with open(os.path.join(path, MARKER)) as f:
            return json.load(f).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def _stage(out: str) -> str:
    """A new empty directory beside ``out`` to write into: ``.<name>.export-<pid>-<hex>.tmp``. What killed exports
    to the same path left (their process is gone: stages, and replaced exports not yet deleted) is removed first."""
    parent, name = os.path.split(out)
    for entry in os.listdir(parent):
        for stale in (f".{name}.export-", f".{name}.old-"):
            if entry.startswith(stale) and entry.endswith(".tmp"):
                pid = entry[len(stale) :].split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)):
                    remove_path(os.path.join(parent, entry))
    prefix = f".{name}.export-"
    stage = os.path.join(parent, f"{prefix}{os.getpid()}-{os.urandom(4).hex()}.tmp")
    os.mkdir(stage)
    return stage


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _move_into_place(stage: str, out: str, overwrite: bool) -> None:
    """Rename the finished ``stage`` to ``out`` (an earlier export there is renamed away first, then deleted)."""
    old = None
    if os.path.lexists(out):
        if not overwrite:
            raise ExportError("out", out, "a path that does not exist yet (it appeared during the export)")
        parent, name = os.path.split(out)
        old = os.path.join(parent, f".{name}.old-{os.getpid()}-{os.urandom(4).hex()}.tmp")
        os.rename(out, old)
    os.rename(stage, out)
    fsync_dir(os.path.dirname(out))
    if old is not None:
        with contextlib.suppress(OSError):
            remove_path(old)
