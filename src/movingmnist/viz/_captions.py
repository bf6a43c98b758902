"""Text captions of shown sequences (``preview --captions``), from whatever annotations a Batch carries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import captions
from ..batch import Batch


def caption_text(batch: Batch, i: int, style: str = "template", *, class_names: Sequence[str] | None = None) -> str:
    """The caption (:mod:`movingmnist.captions`, style "template" or "events") of sequence ``i`` of ``batch``.

    Tolerant of what the batch holds: its ``events (B, E, 4)`` when it has them, else an empty table (walls of
    entries and exits, contacts, occlusions and collisions are then not told); ``present (B, K)`` (one flag per
    slot) is taken as present in every frame. Centres and velocities are needed.
    """
    if batch.centers is None or batch.velocities is None:
        raise ValueError("captions need the centers and velocities annotations, which this data does not have")
    sequence = {name: getattr(batch, name)[i] for name in ("labels", "centers", "velocities", "present")}
    events = getattr(batch, "events", None)
    sequence["events"] = np.full((0, 4), -1, np.int32) if events is None else np.asarray(events[i])
    return captions.caption(style, sequence, canvas_hw=tuple(batch.frames.shape[-2:]), class_names=class_names)
