"""What a picture shows: the data behind it (a Batch, a frames array or a dataset), read only where chosen, and the
choice of sequences and frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..batch import Batch


@dataclass
class Shapes:
    """Per-sequence sizes of the data: T frames, C channels, H x W, K object slots."""

    t: int
    c: int
    h: int
    w: int
    k: int


@dataclass
class Source:
    """Anything that yields Batches: a Batch, a frames array, or a dataset (``len`` + slicing to a Batch)."""

    obj: Any
    length: int
    shapes: Shapes
    class_names: list[str] | None = None
    ignore_label: int | None = None
    _probe: Batch | None = field(default=None, repr=False)

    def take(self, positions: np.ndarray) -> Batch:
        """The sequences at ``positions`` (any order) as one Batch."""
        obj = self.obj
        if isinstance(obj, Batch):
            return take(obj, positions)
        # A dataset: read runs of consecutive positions with one slice each.
        runs = np.split(positions, np.nonzero(np.diff(positions) != 1)[0] + 1) if len(positions) else []
        parts = []
        for run in runs:
            part = obj[int(run[0]) : int(run[-1]) + 1]
            if not isinstance(part, Batch):
                raise TypeError(f"slicing {type(obj).__name__} returned {type(part).__name__}, not a Batch")
            parts.append(part)
        return concat(parts)


def take(batch: Batch, positions: np.ndarray) -> Batch:
    """Sequences of ``batch`` at ``positions`` (an index array)."""
    values = {}
    for name in batch.__dataclass_fields__:
        value = getattr(batch, name)
        values[name] = None if value is None else value[positions]
    return Batch(**values)


def concat(batches: list[Batch]) -> Batch:
    if len(batches) == 1:
        return batches[0]
    values = {}
    for name in batches[0].__dataclass_fields__:
        parts = [getattr(b, name) for b in batches]
        values[name] = None if any(p is None for p in parts) else np.concatenate(parts)
    return Batch(**values)


def as_batch(frames: np.ndarray) -> Batch:
    """Wrap a frames array ``(B, T, H, W)`` or ``(B, T, C, H, W)`` (uint8, or float in [0, 1]) as a Batch."""
    frames = np.asarray(frames)
    if frames.ndim == 4:
        frames = frames[:, :, None]
    if frames.ndim != 5:
        raise ValueError(f"a frames array must be (B, T, H, W) or (B, T, C, H, W), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating):
            frames = np.clip(np.nan_to_num(frames) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            frames = np.clip(frames, 0, 255).astype(np.uint8)
    b = frames.shape[0]
    return Batch(
        index=np.arange(b, dtype=np.int64),
        frames=frames,
        labels=np.zeros((b, 0), dtype=np.int16),
        present=np.zeros((b, frames.shape[1], 0), dtype=bool),
        occupied=np.zeros((b, 0), dtype=bool),
        glyph_index=np.zeros((b, 0), dtype=np.int32),
    )


def _metadata(obj: Any) -> dict:
    meta = getattr(obj, "metadata", None)
    if callable(meta):
        try:
            meta = meta()
        except TypeError:
            meta = None
    return meta if isinstance(meta, dict) else {}


def open_source(data: Any, class_names=None, ignore_label=None) -> Source:
    """Inspect ``data`` without reading more than one sequence of it."""
    if isinstance(data, np.ndarray):
        data = as_batch(data)
    if isinstance(data, Batch):
        probe = data
        length = len(data)
    elif hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        length = len(data)
        if length == 0:
            raise ValueError(f"{type(data).__name__} has no sequences to show")
        probe = data[0:1]
        if not isinstance(probe, Batch):
            raise TypeError(
                f"{type(data).__name__}[0:1] returned {type(probe).__name__}; expected a movingmnist Batch "
                "(give a Batch, a frames array, or a dataset from movingmnist.open)"
            )
    else:
        raise TypeError(
            f"cannot show {type(data).__name__}: give a Batch, a frames array (B, T, [C,] H, W), or a dataset "
            "(anything with len() whose slices are Batches, e.g. movingmnist.open(path))"
        )
    b, t, c, h, w = probe.frames.shape
    if c not in (1, 3):
        raise ValueError(f"frames must have 1 (grey) or 3 (RGB) channels, got C={c}")
    k = probe.labels.shape[1] if probe.labels is not None and probe.labels.ndim == 2 else 0
    meta = _metadata(data)
    if class_names is None:
        class_names = getattr(data, "class_names", None) or (meta.get("source") or {}).get("class_names")
    if ignore_label is None:
        ann = ((meta.get("spec") or {}).get("annotations") or {})
        ignore_label = ann.get("ignore_label")
    return Source(data, length, Shapes(t, c, h, w, k), list(class_names) if class_names else None,
                  None if ignore_label is None else int(ignore_label), probe)


def positions_of(selection: Any, length: int, what: str = "rows") -> np.ndarray:
    """Positions chosen by ``None`` (all), an int n (the first n), a slice, a ``"a:b"`` string or a sequence."""
    if selection is None:
        return np.arange(length, dtype=np.int64)
    if isinstance(selection, str):
        selection = parse_slice(selection, what)
    if isinstance(selection, (int, np.integer)) and not isinstance(selection, bool):
        if selection < 1:
            raise ValueError(f"{what}={selection} is not allowed: at least 1")
        return np.arange(min(int(selection), length), dtype=np.int64)
    if isinstance(selection, slice):
        return np.arange(length, dtype=np.int64)[selection]
    pos = np.asarray(list(selection), dtype=np.int64).reshape(-1)
    pos = np.where(pos < 0, pos + length, pos)
    bad = (pos < 0) | (pos >= length)
    if bad.any():
        raise IndexError(f"{what}: position {int(pos[bad][0])} is out of range for {length} available")
    return pos


def parse_slice(text: str, what: str = "indices") -> slice | list[int]:
    """``"0:16"``, ``"10:20:2"``, ``":8"`` -> slice; ``"3,5,9"`` or ``"7"`` -> a list."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [int(p) if p.strip() else None for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError
            return slice(*parts)
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"{what}={text!r} is not allowed: START:STOP[:STEP] or a comma list such as 3,5,9") from None


def frame_ids(frames: Any, t: int) -> np.ndarray:
    """Frames to show: ``None`` all, int n the first n, a slice or a sequence of frame numbers."""
    return positions_of(frames, t, "frames")


# -- the data of one picture -------------------------------------------------------------------------------------------
@dataclass
class Shown:
    """What a picture shows, with the batch axis first: B sequences, F frames of each."""

    batch: Batch
    frames: np.ndarray  # (F,) frame numbers
    class_names: list[str] | None
    ignore_label: int

    @property
    def b(self) -> int:
        return len(self.batch)

    def class_name(self, c: int) -> str:
        names = self.class_names
        return names[c] if names is not None and 0 <= c < len(names) else str(c)

    def slots_used(self) -> np.ndarray:
        slots = self.batch.slots()
        return np.nonzero(slots.any(axis=0))[0] if slots is not None and slots.size else np.zeros(0, int)
