"""Text captions of shown sequences (``preview --captions``), from whatever annotations a Batch carries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import captions
from ..batch import Batch


def caption_text(batch: Batch, i: int, style: str = "template", *, class_names: Sequence[str] | None = None) -> str:
    """The caption (:mod:`movingmnist.captions`, style "template" or "events") of sequence ``i`` of ``batch``.

    ``style="auto"``: the batch's stored captions when it has them (``annotations.captions``), else "template".
    Tolerant of what the batch holds: its ``events (B, E, 4)`` when it has them, else an empty table (walls of
    entries and exits, contacts, occlusions and collisions are then not told); ``present (B, K)`` (one flag per
    slot, as older datasets store it) is taken as present in every frame. Centres and velocities are needed.
    """
    if style == "auto":
        if batch.captions is not None:
            return batch.caption(i)
        style = "template"
    if batch.centers is None or batch.velocities is None:
        raise ValueError("captions need the centers and velocities annotations, which this data does not have")
    sequence = {name: getattr(batch, name)[i] for name in ("labels", "centers", "velocities", "present")}
    events = getattr(batch, "events", None)
    sequence["events"] = np.full((0, 4), -1, np.int32) if events is None else np.asarray(events[i])
    return captions.caption(style, sequence, canvas_hw=tuple(batch.frames.shape[-2:]), class_names=class_names)


def _wrap(text: str, width: int, size: int) -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` pixels (a word wider than that gets a line of its own)."""
    from . import _draw as draw

    lines, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and draw.text_width(candidate, size) > width:
            lines.append(current)
            candidate = word
        current = candidate
    return [*lines, current]


def caption_band(image: np.ndarray, captions_: Sequence[str], scale: int = 2) -> np.ndarray:
    """``image (H, W, 3)`` uint8 with a band below it holding ``captions_``, one per paragraph, wrapped to W."""
    from . import _draw as draw
    from ._labels import text_size

    size, margin = text_size(scale), 4
    height = draw.line_height(size)
    lines = [line for text in captions_ for line in _wrap(text, image.shape[1] - 2 * margin, size)]
    band = np.empty((len(lines) * height + 2 * margin, image.shape[1], 3), dtype=np.uint8)
    band[...] = draw.BACKGROUND
    for i, line in enumerate(lines):
        draw.draw_text(band, margin + i * height, margin, line, draw.TEXT, size)
    return np.concatenate([image, band], axis=0)
