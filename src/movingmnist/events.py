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

EVENT_KINDS = ("enter", "exit", "wall", "occlusion_start", "occlusion_end", "collision")
ENTER, EXIT, WALL, OCCLUSION_START, OCCLUSION_END, COLLISION = range(len(EVENT_KINDS))
WALLS = ("left", "top", "right", "bottom")
LEFT, TOP, RIGHT, BOTTOM = range(len(WALLS))
