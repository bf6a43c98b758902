"""Events of a sequence, computed exactly from the latents (never from pixels).

A sequence's events are a table ``events (E, 4)`` int32, one row per event, ``(frame, kind, a, b)``, sorted by
frame, then kind, then a, then b; unused rows are all -1. ``E`` is ``annotations.max_events``.

Kinds (:data:`EVENT_KINDS`, the code is the position in the tuple):

- ``enter`` (0): object ``a`` is present from ``frame`` on and was not at ``frame - 1`` (or ``frame`` is 0);
  ``b`` is the wall it came through (:data:`WALLS`), or -1 when it appeared in place.
- ``exit`` (1): object ``a`` is present at ``frame - 1`` and not at ``frame``; ``b`` is the wall it left through,
  or -1 when it vanished in place.
- ``wall`` (2): object ``a``'s box touches wall ``b`` at ``frame`` and did not at ``frame - 1``.
- ``occlusion_start`` (3) / ``occlusion_end`` (4): the amodal ink boxes of ``a`` (in front) and ``b`` (behind)
  start (end) overlapping at ``frame``.
- ``collision`` (5): objects ``a < b`` collided (motion ``collisions``) in the step from ``frame - 1`` to ``frame``.
"""

from __future__ import annotations

import numpy as np

EVENT_KINDS = ("enter", "exit", "wall", "occlusion_start", "occlusion_end", "collision")
ENTER, EXIT, WALL, OCCLUSION_START, OCCLUSION_END, COLLISION = range(len(EVENT_KINDS))
WALLS = ("left", "top", "right", "bottom")
LEFT, TOP, RIGHT, BOTTOM = range(len(WALLS))


def _outside_wall(boxes: np.ndarray, canvas_hw: tuple[int, int]) -> np.ndarray:
    """``(...)`` int64: the wall a box lies wholly beyond (left, top, right, bottom, checked in that order), or -1."""
    big_h, big_w = canvas_hw
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    return np.select([x1 <= 0, y1 <= 0, x0 >= big_w, y0 >= big_h], [LEFT, TOP, RIGHT, BOTTOM], -1).astype(np.int64)


def _previous(flags: np.ndarray) -> np.ndarray:
    """``flags (B, T, ...)`` one frame later: frame t holds frame t - 1 (False at frame 0)."""
    before = np.zeros_like(flags)
    before[:, 1:] = flags[:, :-1]
    return before


def _starts(flags: np.ndarray) -> np.ndarray:
    """``flags (B, T, ...)`` -> where a run of True starts (frame 0 counts as a start)."""
    return flags & ~_previous(flags)


def _ends(flags: np.ndarray) -> np.ndarray:
    """``flags (B, T, ...)`` -> frames right after a run of True (never frame 0)."""
    out = np.zeros_like(flags)
    out[:, 1:] = flags[:, :-1] & ~flags[:, 1:]
    return out


def event_table(
    present: np.ndarray,
    boxes: np.ndarray,
    touch: np.ndarray,
    canvas_hw: tuple[int, int],
    max_events: int,
    *,
    alive: np.ndarray | None = None,
    collisions: np.ndarray | None = None,
) -> np.ndarray:
    """The events of each sequence, exactly from the latents.

    Args:
        present: ``(B, T, K)`` bool, the object is in the scene. alive: ``(B, T, K)`` bool, it exists (None: as
            present); an object alive but not present before it enters came in through a wall.
        boxes: ``(B, T, K, 4)`` float64 ink boxes x0, y0, x1, y1 of the unparked poses.
        touch: ``(B, T, K, 4)`` bool wall contacts (left, top, right, bottom).
        collisions: ``(B, T, K, K)`` bool pair collisions in the step ending at each frame (None: no collisions).
        max_events: E, the rows of the table.

    Returns:
        ``(B, E, 4)`` int32 rows ``(frame, kind, a, b)`` sorted by frame, kind, a, b; unused rows are -1. A sequence
        with more than E events keeps its first E.
    """
    b_, t_, k_ = present.shape
    alive = present if alive is None else alive
    rows: list[np.ndarray] = []

    def add(kind: int, mask: np.ndarray, other: np.ndarray | None = None) -> None:
        where = np.nonzero(mask)
        seq, frame, a = where[0], where[1], where[2]
        if other is None:
            second = where[3] if len(where) > 3 else np.full(seq.shape, -1)
        else:
            second = other[where]
        rows.append(np.stack([seq, frame, np.full(seq.shape, kind), a, second], axis=1).astype(np.int64))

    # enter: the wall it lay beyond the frame before (alive then) or at this frame (a birth), else -1
    enter = _starts(present)
    before = np.concatenate([boxes[:, :1], boxes[:, :-1]], axis=1)
    was_alive = _previous(alive)
    beyond = _outside_wall(boxes, canvas_hw)
    came_from = np.where(was_alive, _outside_wall(before, canvas_hw), beyond)
    add(ENTER, enter, came_from)
    add(EXIT, _ends(present), beyond)
    add(WALL, _starts(touch) & present[..., None])
    # occlusion: the parts of the ink boxes on the canvas overlap; a (higher slot, drawn later) is in front of b
    big_h, big_w = canvas_hw
    clipped = np.clip(boxes, 0, [big_w, big_h, big_w, big_h])
    x0, y0, x1, y1 = (clipped[..., i] for i in range(4))
    overlap = (
        (x0[..., :, None] < x1[..., None, :]) & (x0[..., None, :] < x1[..., :, None])
        & (y0[..., :, None] < y1[..., None, :]) & (y0[..., None, :] < y1[..., :, None])
        & present[..., :, None] & present[..., None, :]
    )
    overlap &= np.tril(np.ones((k_, k_), dtype=bool), -1)  # a > b
    add(OCCLUSION_START, _starts(overlap))
    add(OCCLUSION_END, _ends(overlap))
    if collisions is not None:
        add(COLLISION, collisions & np.triu(np.ones((k_, k_), dtype=bool), 1))
    table = np.full((b_, max_events, 4), -1, dtype=np.int32)
    every = np.concatenate(rows) if rows else np.zeros((0, 5), np.int64)
    if every.size:
        order = np.lexsort((every[:, 4], every[:, 3], every[:, 2], every[:, 1], every[:, 0]))
        every = every[order]
        first = np.searchsorted(every[:, 0], every[:, 0], side="left")
        rank = np.arange(len(every)) - first
        keep = rank < max_events
        table[every[keep, 0], rank[keep]] = every[keep, 1:]
    return table


def events_of(table: np.ndarray) -> list[tuple[int, str, int, int]]:
    """The used rows of one sequence's ``table (E, 4)`` as ``(frame, kind name, a, b)`` tuples."""
    return [(int(f), EVENT_KINDS[int(k)], int(a), int(b)) for f, k, a, b in table if k >= 0]


__all__ = ["EVENT_KINDS", "WALLS", "event_table", "events_of"]
