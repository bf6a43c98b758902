"""The Batch: rendered frames and every annotation of a range of sequences (DESIGN.md output schema, batch-first)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ArraySchema:
    """One array of the output schema: per-sequence shape in symbols and its dtype."""

    name: str
    dims: tuple[str, ...]
    dtype: str
    meaning: str


#: Per-sequence arrays; a Batch stacks them on a leading B axis. Symbols: T frames (T-1: frame pairs), C channels,
#: H x W canvas, K object slots, E event rows, L caption bytes.
SCHEMA: tuple[ArraySchema, ...] = (
    ArraySchema("frames", ("T", "C", "H", "W"), "uint8", "rendered video"),
    ArraySchema("semantic", ("T", "H", "W"), "uint8", "class of the topmost visible object; ignore_label elsewhere"),
    ArraySchema("instance", ("T", "H", "W"), "uint8", "0 background, k + 1 where object k is topmost and visible"),
    ArraySchema("labels", ("K",), "int16", "class of each object; -1 for absent slots"),
    ArraySchema("present", ("T", "K"), "bool", "object k is in the scene at frame t (docs/scenes.md)"),
    ArraySchema("occupied", ("K",), "bool", "which object slots hold an object at some frame"),
    ArraySchema("glyph_index", ("K",), "int32", "index of the glyph in the source split; -1 for absent slots"),
    ArraySchema("boxes", ("T", "K", 4), "float32", "visible (modal) box x0, y0, x1, y1 in pixels; NaN if not visible"),
    ArraySchema("amodal_boxes", ("T", "K", 4), "float32", "box of the whole glyph's ink, visible or not"),
    ArraySchema("centers", ("T", "K", 2), "float32", "glyph centre (x, y) in pixels"),
    ArraySchema("velocities", ("T", "K", 2), "float32", "change of the centre to the next frame"),
    ArraySchema("angles", ("T", "K"), "float32", "rotation in degrees"),
    ArraySchema("scales", ("T", "K"), "float32", "scale factor"),
    ArraySchema("brightness", ("T", "K"), "float32", "brightness factor"),
    ArraySchema("visibility", ("T", "K"), "float32", "fraction of the object's ink that is visible"),
    ArraySchema("depth", ("T", "K"), "int8", "drawing order, higher on top; -1 for absent slots"),
    ArraySchema("amodal_masks", ("T", "K", "H", "W"), "bool", "pixels of each object's ink, visible or not (optional)"),
    ArraySchema("events", ("E", 4), "int32", "frame, kind, a, b of each event; -1 rows unused (optional)"),
    ArraySchema("captions", ("L",), "uint8", "the caption as zero-padded UTF-8 (optional)"),
    ArraySchema(
        "flow",
        ("T-1", "H", "W", 2),
        "float16",
        "forward optical flow (dx, dy) in pixels from frame t to t + 1 of what each pixel shows (optional)",
    ),
)
SCHEMA_BY_NAME = {a.name: a for a in SCHEMA}
TRACK_ARRAYS = ("centers", "velocities", "angles", "scales", "brightness", "depth")


@dataclass
class Batch:
    """Sequences ``index[0] .. index[B-1]`` of a dataset: every array has a leading B axis.

    Arrays switched off in the spec's annotations are ``None``. Shapes: frames ``(B, T, C, H, W)`` uint8;
    semantic, instance ``(B, T, H, W)`` uint8; labels ``(B, K)`` int16; present ``(B, T, K)`` bool (per frame);
    occupied ``(B, K)`` bool (the slot holds an object at some frame); optional events ``(B, E, 4)`` int32 and
    captions ``(B, L)`` uint8 (:meth:`caption` decodes them);
    glyph_index ``(B, K)`` int32; boxes, amodal_boxes ``(B, T, K, 4)`` float32; centers, velocities
    ``(B, T, K, 2)`` float32; angles, scales, brightness, visibility ``(B, T, K)`` float32; depth ``(B, T, K)``
    int8; index ``(B,)`` int64; optional amodal_masks ``(B, T, K, H, W)`` bool and flow ``(B, T-1, H, W, 2)``
    float16.
    """

    index: np.ndarray
    frames: np.ndarray
    labels: np.ndarray
    present: np.ndarray
    glyph_index: np.ndarray
    occupied: np.ndarray | None = None
    semantic: np.ndarray | None = None
    instance: np.ndarray | None = None
    boxes: np.ndarray | None = None
    amodal_boxes: np.ndarray | None = None
    centers: np.ndarray | None = None
    velocities: np.ndarray | None = None
    angles: np.ndarray | None = None
    scales: np.ndarray | None = None
    brightness: np.ndarray | None = None
    visibility: np.ndarray | None = None
    depth: np.ndarray | None = None
    amodal_masks: np.ndarray | None = None
    events: np.ndarray | None = None
    captions: np.ndarray | None = None
    flow: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The schema arrays that are present, by name (``index`` not included)."""
        return {a.name: getattr(self, a.name) for a in SCHEMA if getattr(self, a.name) is not None}

    def __getitem__(self, item: int | slice) -> Batch:
        """Sequences of this batch by position: ``batch[3]`` (a batch of one) or ``batch[2:5]``."""
        if isinstance(item, (int, np.integer)):
            position = int(item) + (len(self) if item < 0 else 0)
            if not 0 <= position < len(self):
                raise IndexError(f"index {item} is out of range for a batch of {len(self)}")
            item = slice(position, position + 1)
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = None if value is None else value[item]
        return Batch(**values)

    def sequence(self, position: int) -> dict[str, np.ndarray]:
        """One sequence as a dict of arrays without the batch axis."""
        one = self[position]
        return {name: array[0] for name, array in one.arrays().items()}

    def slots(self) -> np.ndarray | None:
        """``(B, K)`` bool: which slots hold an object at some frame (``occupied``, or derived from ``present``)."""
        if self.occupied is not None:
            return self.occupied
        if self.present is None:
            return None
        return self.present.any(axis=1) if self.present.ndim == 3 else self.present

    def caption(self, position: int) -> str:
        """The caption of sequence ``position`` of this batch, decoded (empty when captions are off)."""
        if self.captions is None:
            return ""
        from .captions import decode_caption

        return decode_caption(self.captions[position])

    def copy(self) -> Batch:
        return Batch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).copy()
                        for f in fields(self)})

    def __repr__(self) -> str:
        parts = [f"{name}={tuple(a.shape)}:{a.dtype}" for name, a in self.arrays().items()]
        return f"Batch(n={len(self)}, " + ", ".join(parts) + ")"
