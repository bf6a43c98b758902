"""Lifetimes: when each object is in the scene (late appearance, births, exits), and the boxes that decide it.

Written once over the array namespace of the indices, like every latent stage. The rules (docs/scenes.md):

- **appear**: object k of the first ``count`` appears at frame ``a_k`` (uniform in ``objects.appear``); its motion
  starts there: frame ``t >= a_k`` shows what frame ``t - a_k`` would have shown.
- **births**: in each frame 1..T-1 a new object enters with chance ``objects.births`` (at most ``max_births``); the
  j-th birth takes slot ``count + j``. It starts wholly outside the canvas, touching a wall drawn uniformly, and moves
  in (``free`` motion: its velocity is drawn as the other objects', with the component across the wall pointing in).
- **alive** ``(B, T, K)``: from the appearance (or birth) frame on; with ``exit="leave"`` until the first frame its
  ink box is wholly off the canvas after it has been on it.
- **present** ``(B, T, K)``: alive and, unless ``exit="never"``, its ink box overlaps the canvas.

An object that is not alive is *parked*: moved wholly off the canvas so that no renderer draws it, whatever its
pose; every annotation of a frame where it is not present is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..spec import Spec
from . import rng
from . import xp as _xp


@dataclass(frozen=True)
class Schedule:
    """Who is in a sequence and from when.

    Attributes:
        occupied: ``(B, K)`` bool: the slot holds an object at some frame (the first ``count`` and the births).
        start: ``(B, K)`` int64: the frame the object appears or is born at (0 for unused slots).
        born: ``(B, K)`` bool: the slot holds a birth (it enters through ``wall``).
    """

    occupied: Any
    start: Any
    born: Any


def schedule(spec: Spec, seed: int, index: Any, count: Any) -> Schedule:
    """Appearance frames and births of sequences ``index (B,)`` with ``count (B,)`` initial objects."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    objects = spec.objects
    k = objects.slots
    slots = xp.reshape(xp.arange(k, device=dev), (1, k))
    initial = slots < count[:, None]
    low, high = objects.appear
    if high > 0:
        start = rng.integers(seed, "objects.appear", index, (k,), low, high)
    else:
        start = xp.zeros((index.shape[0], k), dtype=xp.int64, device=dev)
    born = xp.zeros(initial.shape, dtype=xp.bool, device=dev)
    if objects.max_births > 0:
        t = spec.frames
        fires = rng.uniform(seed, "objects.births", index, (t,)) < objects.births
        fires[:, 0] = False  # births enter during the sequence, not at its start
        births_by = xp.cumsum(xp.astype(fires, xp.int64), axis=1)  # (B, T): births so far at frame t
        nth = xp.reshape(xp.arange(objects.max_births, device=dev), (1, -1, 1))
        # frame of the j-th birth = frames before the running count reaches j + 1 (T when it never does)
        birth_frame = xp.sum(xp.astype(births_by[:, None, :] <= nth, xp.int64), axis=2)  # (B, max_births)
        j = slots - count[:, None]  # which birth a slot would hold
        valid_j = (j >= 0) & (j < objects.max_births)
        frame = xp.take_along_axis(birth_frame, xp.where(valid_j, j, 0), axis=1)
        born = valid_j & (frame < t)
        start = xp.where(born, frame, xp.where(initial, start, 0))
    else:
        start = xp.where(initial, start, 0)
    return Schedule(occupied=initial | born, start=start, born=born)


def birth_positions(spec: Spec, seed: int, index: Any, born: Any, start: Any, num_frames: int,
                    glyph_hw: tuple[int, int], velocity: Any) -> Any:
    """Top-left ``(B, T1, K, 2)`` float64 of born objects: wholly outside the wall they enter through at their birth
    frame, then straight in with ``velocity (B, K, 2)`` (pixels per frame; its component across the wall is made to
    point in). Rows of other slots are unspecified."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    k = born.shape[1]
    (h, w), (big_h, big_w) = glyph_hw, (spec.canvas.height, spec.canvas.width)
    wall = rng.integers(seed, "objects.birth.wall", index, (k,), 0, 3)  # left, top, right, bottom
    along = rng.uniform(seed, "objects.birth.along", index, (k,))
    x_along = along * float(big_w - w)
    y_along = along * float(big_h - h)
    x = xp.where(wall == 0, float(-w), xp.where(wall == 2, float(big_w), x_along))
    y = xp.where(wall == 1, float(-h), xp.where(wall == 3, float(big_h), y_along))
    vx, vy = velocity[..., 0], velocity[..., 1]
    vx = xp.where(wall == 0, xp.abs(vx), xp.where(wall == 2, -xp.abs(vx), vx))
    vy = xp.where(wall == 1, xp.abs(vy), xp.where(wall == 3, -xp.abs(vy), vy))
    frames = xp.reshape(xp.arange(num_frames, dtype=xp.float64, device=dev), (1, -1, 1))
    since = frames - _xp.f64(xp, start)[:, None, :]  # (B, T1, K)
    pos = xp.stack([x[:, None] + vx[:, None] * since, y[:, None] + vy[:, None] * since], axis=-1)
    size = xp.asarray([float(w), float(h)], dtype=xp.float64, device=dev)
    canvas = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)
    return xp.minimum(xp.maximum(xp.round(pos), -size), canvas)


def delay(values: Any, start: Any) -> Any:
    """``values (B, T1, K, ...)`` with each object's frames shifted later by ``start (B, K)``: frame t holds frame
    ``t - start`` (frame 0 before the start; those frames are parked anyway)."""
    xp = _xp.namespace(values)
    b, t1, k = values.shape[:3]
    frames = xp.reshape(xp.arange(t1, device=_xp.device_of(values)), (1, t1, 1))
    source = xp.maximum(frames - start[:, None, :], 0)  # (B, T1, K)
    extra = values.ndim - 3
    source = xp.reshape(source, (b, t1, k) + (1,) * extra)
    source = xp.broadcast_to(source, values.shape)
    return xp.take_along_axis(values, source, axis=1)


def ink_boxes_translation(topleft: Any, ink_box: Any) -> Any:
    """``(B, T1, K, 4)`` float64 ink boxes x0, y0, x1, y1 (exclusive ends) of glyphs at ``topleft (B, T1, K, 2)``
    with ``ink_box (B, K, 4)`` in glyph coordinates."""
    xp = _xp.namespace(topleft)
    corner = _xp.f64(xp, topleft)
    return xp.concat([corner, corner], axis=-1) + _xp.f64(xp, ink_box)[:, None]


def on_canvas(boxes: Any, ink_box: Any, canvas_hw: tuple[int, int]) -> Any:
    """``(B, T1, K)`` bool: the ink box overlaps the canvas (glyphs without ink are never on it)."""
    big_h, big_w = canvas_hw
    has_ink = (ink_box[..., 2] > ink_box[..., 0])[:, None]
    return (
        has_ink & (boxes[..., 0] < big_w) & (boxes[..., 2] > 0) & (boxes[..., 1] < big_h) & (boxes[..., 3] > 0)
    )


def alive_and_present(spec: Spec, sched: Schedule, boxes: Any, ink_box: Any) -> tuple[Any, Any]:
    """``alive`` and ``present``, both ``(B, T1, K)`` bool, from the schedule and the ink boxes ``(B, T1, K, 4)``
    (computed from the unparked poses)."""
    xp = _xp.namespace(boxes)
    t1 = boxes.shape[1]
    frames = xp.reshape(xp.arange(t1, device=_xp.device_of(boxes)), (1, t1, 1))
    alive = sched.occupied[:, None, :] & (frames >= sched.start[:, None, :])
    on = on_canvas(boxes, ink_box, (spec.canvas.height, spec.canvas.width)) & alive
    if spec.objects.exit == "leave":
        been_on = xp.cumsum(xp.astype(on, xp.int64), axis=1) > 0
        seen_before = xp.concat([xp.zeros_like(been_on[:, :1]), been_on[:, :-1]], axis=1)
        gone = xp.cumsum(xp.astype(seen_before & ~on, xp.int64), axis=1) > 0
        alive = alive & ~gone
    present = alive if spec.objects.exit == "never" else alive & on
    return alive, present


def park_topleft(topleft: Any, alive: Any, glyph_hw: tuple[int, int]) -> Any:
    """Whole-pixel ``topleft (B, T1, K, 2)`` with objects that are not alive moved to (-w, -h): the untransformed
    glyph box lies wholly left of and above the canvas (inside the translation renderers' padding)."""
    xp = _xp.namespace(topleft)
    h, w = glyph_hw
    park = xp.asarray([-w, -h], dtype=topleft.dtype, device=_xp.device_of(topleft))
    return xp.where(alive[..., None], topleft, park)


def park_matrix(matrix: Any, alive: Any, glyph_hw: tuple[int, int]) -> Any:
    """Forward poses ``(B, T1, K, 2, 3)`` with objects that are not alive translated wholly off the canvas (up and
    left by more than the transformed glyph can reach)."""
    xp = _xp.namespace(matrix)
    size = float(max(glyph_hw))
    reach = (xp.abs(matrix[..., 0, 0]) + xp.abs(matrix[..., 0, 1]) + xp.abs(matrix[..., 1, 0])
             + xp.abs(matrix[..., 1, 1]) + 1.0) * size + 2.0
    parked = xp.stack([-reach, -reach], axis=-1)  # (B, T1, K, 2)
    out = matrix.clone() if _xp.is_torch(xp) else matrix.copy()
    out[..., :, 2] = xp.where(alive[..., None], matrix[..., :, 2], parked)
    return out
