"""Motion models: from per-sequence random latents to per-frame glyph positions.

Every function is pure: it takes the sequence indices, the seed and the walls, draws what it needs from
:mod:`movingmnist.latents.rng` streams keyed by (seed, index, object, frame), and returns top-left pixel positions
``(B, T, K, 2)`` as (x, y): whole pixels (int64) by each model's rounding rule, or with ``subpixel=True`` the
unrounded float64 positions. Written once over the array namespace of the inputs (numpy, or torch on any device:
the same bits). Positions are vectorised over (B, K); a Python loop over frames appears only where a model is
stepwise by definition (clamp-and-reverse, random redraws at walls, exact collisions, flips).

A model is one function registered in :data:`MODELS` under the name ``motion.model`` takes in the spec; see
docs/architecture.md for how to add one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..spec import MotionSpec
from . import collisions, paths, rng
from . import xp as _xp


@dataclass(frozen=True)
class Walls:
    """Where a glyph box's top-left may go, and the frame it moves in.

    Attributes:
        lo, hi: ``(B, K, 2)`` float64 smallest and largest allowed top-left (x, y); for ``bounce_on=box``
            ``lo = 0`` and ``hi = canvas - glyph``; for ``ink`` they let the empty margin of the glyph cross the
            wall. ``flip`` takes walls per frame, ``(B, T, K, 2)`` (a transformed glyph's ink box changes with its
            angle and scale).
        glyph_hw: (h, w) of the glyph box. canvas_hw: (H, W).
    """

    lo: Any
    hi: Any
    glyph_hw: tuple[int, int]
    canvas_hw: tuple[int, int]


def simulate(
    motion: MotionSpec,
    seed: int,
    index: Any,
    num_frames: int,
    walls: Walls,
    subpixel: bool = False,
    *,
    labels: Any | None = None,
    active: Any | None = None,
    ink_box: Any | None = None,
    events: dict[str, Any] | None = None,
):
    """Top-left pixel (x, y) of each glyph box in each frame.

    Args:
        motion: the motion section of the spec.
        seed: dataset seed.
        index: ``(B,)`` int64 sequence indices (numpy array or torch tensor: the result lives in its namespace).
        num_frames: T, the number of frames to produce.
        walls: :class:`Walls`; walls given per frame ``(B, T, K, 2)`` are used as they are by ``flip``; the other
            models take their envelope (the walls that hold the glyph in every frame).
        subpixel: return the unrounded positions (float64) instead of the model's whole-pixel rounding.
        labels: ``(B, K)`` class labels (-1 absent); ``motion.model="path"`` with ``path.choose="class"`` needs them.
        active: ``(B, K)`` or ``(B, T, K)`` bool, which objects take part in collisions (``None``: every slot;
            callers pass ``present``). Only ``motion.collisions="elastic"`` reads it.
        ink_box: ``(B, K, 4)`` ink boxes (x0, y0, x1, y1 exclusive) of the glyphs, for the collision discs
            (``None``: the whole glyph box).
        events: a dict to fill: ``events["collisions"]`` = ``(B, T, K, K)`` bool, pair (a, b) collided during the
            step ending at frame t (symmetric; all False without collisions); with collisions also
            ``events["velocities"]`` = ``(B, T, K, 2)`` float64, the velocities after that step's events.

    Returns:
        ``(B, T, K, 2)`` int64 top-left positions (x, y) (float64 with ``subpixel``, except ``stochastic``, whose
        positions are integers by definition).
    """
    xp = _xp.namespace(index)
    lo, hi = _xp.f64(xp, walls.lo), _xp.f64(xp, walls.hi)
    if motion.model == "flip":
        if lo.ndim == 3:
            lo = xp.broadcast_to(lo[:, None], (lo.shape[0], num_frames, *lo.shape[1:]))
            hi = xp.broadcast_to(hi[:, None], lo.shape)
    elif lo.ndim == 4:
        lo, hi = xp.max(lo, axis=1), xp.min(hi, axis=1)
        middle = (lo + hi) / 2
        lo, hi = xp.minimum(lo, middle), xp.maximum(hi, middle)
    frame = Walls(lo, hi, walls.glyph_hw, walls.canvas_hw)
    index = xp.astype(index, xp.int64)
    if motion.collisions == "elastic":
        out, velocities, hits = _elastic(motion, seed, index, num_frames, frame, subpixel, active, ink_box)
        if events is not None:
            events["collisions"] = hits
            events["velocities"] = velocities
    else:
        extra = {"labels": labels} if motion.model == "path" else {}
        out = MODELS[motion.model](motion, seed, index, num_frames, frame, subpixel, **extra)
        if events is not None:
            b, k = lo.shape[0], lo.shape[-2]
            events["collisions"] = xp.zeros((b, num_frames, k, k), dtype=xp.bool, device=_xp.device_of(index))
    return out if subpixel else xp.astype(out, xp.int64)


def _elastic(motion: MotionSpec, seed: int, index: Any, num_frames: int, walls: Walls, subpixel: bool,
             active: Any | None, ink_box: Any | None) -> tuple[Any, Any, Any]:
    """``motion.collisions="elastic"`` for the straight-line models (docs/scenes.md, "Collisions"): the model's
    own start and velocity draws, then :func:`collisions.simulate_elastic` (free: no walls; reflect, srvp: walls
    that reflect, or srvp's redraw when not ``deterministic``). Returns positions (rounded unless ``subpixel``),
    velocities and hits."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    lo, hi = walls.lo, walls.hi
    b, k = lo.shape[:2]
    span = hi - lo
    redraw = None
    if motion.model == "srvp":
        m = motion.max_step
        start = lo + xp.floor(rng.uniform(seed, "motion.start", index, (k, 2)) * (span + 1.0))
        velocity = _xp.f64(xp, rng.integers(seed, "motion.velocity", index, (k, 2), -m, m))
        if not motion.deterministic:
            redraw = rng.integers(seed, "motion.redraw", index, (k, num_frames * _SRVP_MAX_BOUNCES, 2), -m, m)
            redraw = _xp.f64(xp, xp.reshape(redraw, (b, k, num_frames, _SRVP_MAX_BOUNCES, 2)))
    else:
        start = lo + span * rng.uniform(seed, "motion.start", index, (k, 2))
        velocity = _polar_velocity(motion, seed, index, k, span, "px")
    if active is None:
        active = xp.ones((b, num_frames, k), dtype=xp.bool, device=dev)
    elif active.ndim == 2:
        active = xp.broadcast_to(active[:, None], (b, num_frames, k))
    geometry = collisions.discs(
        xp, ink_box, (b, k), walls.glyph_hw, motion.collision_radius, motion.collision_mass, dev
    )
    walled = motion.model != "free"
    pos, velocities, hits = collisions.simulate_elastic(
        xp, start, velocity, lo if walled else None, hi if walled else None, geometry, active, num_frames, redraw
    )
    if not subpixel:
        pos = xp.round(pos)
    if not walled:
        (h, w), (big_h, big_w) = walls.glyph_hw, walls.canvas_hw
        size = xp.asarray([float(w), float(h)], dtype=xp.float64, device=dev)
        canvas = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)
        pos = xp.minimum(xp.maximum(pos, -size), canvas)
    return pos, velocities, hits


def _positions(xp: Any, index: Any, shape: tuple[int, ...], subpixel: bool) -> Any:
    return xp.empty(shape, dtype=xp.float64 if subpixel else xp.int64, device=_xp.device_of(index))


def _frames(xp: Any, index: Any, num_frames: int) -> Any:
    """``(1, T, 1, 1)`` float64 frame numbers."""
    return xp.reshape(xp.arange(num_frames, dtype=xp.float64, device=_xp.device_of(index)), (1, -1, 1, 1))


def _polar_velocity(motion: MotionSpec, seed: int, index: Any, k: int, span: Any, unit: str) -> Any:
    """``(B, K, 2)`` velocity (x, y) from a speed range and a direction range, in ``unit`` per frame.

    ``unit="free_range"``: units of the free range (the span of each axis; what the classic generators use);
    ``"px"``: pixels. The speed is drawn in ``motion.speed_unit`` and converted only when the units differ.
    """
    xp = _xp.namespace(index)
    if motion.integer_speed:
        low, high = int(math.ceil(motion.speed[0])), int(math.floor(motion.speed[1]))
        speed = _xp.f64(xp, rng.integers(seed, "motion.speed", index, (k,), low, max(low, high)))
    else:
        speed = rng.uniform(seed, "motion.speed", index, (k,), *motion.speed)
    if motion.directions is None:
        d0, d1 = motion.direction
        turns = rng.uniform(seed, "motion.direction", index, (k,), d0 / 360.0, d1 / 360.0)
    else:  # one of the listed angles (its own stream: the range's draws stay as they were)
        pick = rng.integers(seed, "motion.directions", index, (k,), 0, len(motion.directions) - 1)
        table = xp.asarray([d / 360.0 for d in motion.directions], dtype=xp.float64, device=_xp.device_of(index))
        turns = table[pick]
    sin, cos = rng.sincos_turns(turns)
    velocity = xp.stack([cos * speed, sin * speed], axis=-1)
    if motion.speed_unit == unit:
        return velocity
    if unit == "px":
        return velocity * span
    with _xp.quiet(xp):
        return xp.where(span > 0, velocity / span, 0.0)


def _srivastava(motion, seed, index, num_frames, walls: Walls, subpixel=False):
    """The 2015 generator: step, clamp-and-reverse, record, truncate (docs/presets.md)."""
    xp = _xp.namespace(index)
    lo, hi = walls.lo, walls.hi
    b, k = lo.shape[:2]
    span = hi - lo
    p = rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "free_range")
    out = _positions(xp, index, (b, num_frames, k, 2), subpixel)
    for t in range(num_frames):
        p = p + v
        low = p <= 0.0
        p = xp.where(low, 0.0, p)
        v = xp.where(low, -v, v)
        high = p >= 1.0
        p = xp.where(high, 1.0, p)
        v = xp.where(high, -v, v)
        out[:, t, ...] = lo + (span * p if subpixel else xp.floor(span * p))
    return out


def _reflect(motion, seed, index, num_frames, walls: Walls, subpixel=False):
    """TFDS moving_sequence: start + t * velocity folded into [0, 1] (triangle wave), frame 0 at start, rounded."""
    xp = _xp.namespace(index)
    lo, hi = walls.lo, walls.hi
    k = lo.shape[1]
    span = hi - lo
    p0 = rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "free_range")
    p = p0[:, None] + v[:, None] * _frames(xp, index, num_frames)
    p = _xp.mod(xp, p, 2.0)
    p = xp.minimum(p, 2.0 - p)
    if subpixel:
        return lo[:, None] + span[:, None] * p
    return xp.astype(lo[:, None] + xp.round(span[:, None] * p), xp.int64)


def _free(motion, seed, index, num_frames, walls: Walls, subpixel=False):
    """Straight lines from a start where the glyph is inside the walls; no walls. ``wrap``: once the glyph box is
    fully off one side it re-enters from the other (period canvas + glyph)."""
    xp = _xp.namespace(index)
    lo, hi = walls.lo, walls.hi
    k = lo.shape[1]
    span = hi - lo
    if motion.start_overhang:
        lo, span = lo - motion.start_overhang, span + 2.0 * motion.start_overhang
    start = lo + span * rng.uniform(seed, "motion.start", index, (k, 2))
    v = free_velocity(motion, seed, index, walls)
    pos = start[:, None] + v[:, None] * _frames(xp, index, num_frames)
    dev = _xp.device_of(index)
    (h, w), (big_h, big_w) = walls.glyph_hw, walls.canvas_hw
    size = xp.asarray([float(w), float(h)], dtype=xp.float64, device=dev)
    canvas = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)
    if motion.wrap:
        pos = _xp.mod(xp, pos + size, canvas + size) - size
    if subpixel:
        return xp.minimum(xp.maximum(pos, -size), canvas)
    pos = xp.round(pos)
    # Beyond one glyph off the canvas nothing is visible; clipping keeps the renderer's padding bounded.
    return xp.astype(xp.minimum(xp.maximum(pos, -size), canvas), xp.int64)


def free_velocity(motion: MotionSpec, seed: int, index: Any, walls: Walls) -> Any:
    """``(B, K, 2)`` float64 pixels per frame of the ``free`` model: polar (speed, direction), or with
    ``velocity="integer"`` integer components uniform in -max_step..max_step with 0 replaced by 1 (the detection
    generator's translations)."""
    xp = _xp.namespace(index)
    k = walls.lo.shape[1]
    if motion.velocity == "integer":
        m = motion.max_step
        d = rng.integers(seed, "motion.velocity", index, (k, 2), -m, m)
        return _xp.f64(xp, xp.where(d == 0, 1, d))
    return _polar_velocity(motion, seed, index, k, walls.hi - walls.lo, "px")


def _stochastic(motion, seed, index, num_frames, walls: Walls, subpixel=False):
    """SVG's stochastic bounce (docs/presets.md): check walls (y, then x), record, step. At a wall the coordinate is
    set to the wall (the far wall to hi - 1, as SVG does) and a new velocity is drawn pointing away from it
    (``deterministic``: the component is negated). Positions are integers."""
    xp = _xp.namespace(index)
    b, k = walls.lo.shape[:2]
    m = motion.max_step
    lo_i, hi_i = xp.astype(walls.lo, xp.int64), xp.astype(walls.hi, xp.int64)
    u = rng.uniform(seed, "motion.start", index, (k, 2))
    s = lo_i + xp.astype(xp.floor(u * _xp.f64(xp, hi_i - lo_i)), xp.int64)  # U{lo .. hi - 1}
    d = rng.integers(seed, "motion.velocity", index, (k, 2), -m, m)
    shape = (k, num_frames, 2)  # last axis: 0 = redraw at an x wall, 1 = at a y wall
    toward_plus = rng.integers(seed, "motion.redraw.away_low", index, shape, 1, m)
    toward_minus = rng.integers(seed, "motion.redraw.away_high", index, shape, -m, -1)
    other = rng.integers(seed, "motion.redraw.other", index, shape, -m, m)
    out = _positions(xp, index, (b, num_frames, k, 2), False)
    for t in range(num_frames):
        sx, sy = s[..., 0], s[..., 1]
        dx, dy = d[..., 0], d[..., 1]
        pos, vel = [sx, sy], [dx, dy]
        for axis in (1, 0):  # y first, as SVG
            cross = 1 - axis
            low = pos[axis] < lo_i[..., axis]
            high = pos[axis] >= hi_i[..., axis]
            pos[axis] = xp.where(low, lo_i[..., axis], xp.where(high, hi_i[..., axis] - 1, pos[axis]))
            hit = low | high
            if motion.deterministic:
                vel[axis] = xp.where(hit, -vel[axis], vel[axis])
            else:
                new = xp.where(low, toward_plus[:, :, t, axis], toward_minus[:, :, t, axis])
                vel[axis] = xp.where(hit, new, vel[axis])
                vel[cross] = xp.where(hit, other[:, :, t, axis], vel[cross])
        s = xp.stack(pos, axis=-1)
        d = xp.stack(vel, axis=-1)
        out[:, t, ...] = s
        s = s + d
    return out


_SRVP_EPS = 1e-8
_SRVP_MAX_BOUNCES = 8


def _srvp(motion, seed, index, num_frames, walls: Walls, subpixel=False):
    """SRVP (docs/presets.md): integer start in lo..hi, integer velocity; after each step the crossing with a wall
    is found at its exact time, the velocity is reflected (stochastic: redrawn, then pointed away from the wall) and
    the rest of the step continues from the crossing point. Positions are rounded when drawn."""
    xp = _xp.namespace(index)
    lo, hi = walls.lo, walls.hi
    b, k = lo.shape[:2]
    m = motion.max_step
    start = rng.uniform(seed, "motion.start", index, (k, 2))
    s = lo + xp.floor(start * (hi - lo + 1.0))  # U{lo .. hi}
    d = _xp.f64(xp, rng.integers(seed, "motion.velocity", index, (k, 2), -m, m))
    redraw = None
    if not motion.deterministic:
        redraw = rng.integers(seed, "motion.redraw", index, (k, num_frames * _SRVP_MAX_BOUNCES, 2), -m, m)
        redraw = _xp.f64(xp, xp.reshape(redraw, (b, k, num_frames, _SRVP_MAX_BOUNCES, 2)))
    out = _positions(xp, index, (b, num_frames, k, 2), subpixel)
    for t in range(num_frames):
        s, d = _srvp_collide(xp, s, d, walls, None if redraw is None else redraw[:, :, t])
        out[:, t, ...] = s if subpixel else xp.astype(xp.round(s), xp.int64)
        s = s + d
    return out


def _srvp_collide(xp, s, d, walls: Walls, redraw):
    """Vectorised port of SRVP's collision loop over (B, K) positions ``s`` and velocities ``d`` (x, y)."""
    eps = _SRVP_EPS
    sx, sy, dx, dy = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    xmin, ymin, xmax, ymax = walls.lo[..., 0], walls.lo[..., 1], walls.hi[..., 0], walls.hi[..., 1]
    for bounce in range(_SRVP_MAX_BOUNCES):
        left, right = sx < xmin - eps, sx > xmax + eps
        up, down = sy < ymin - eps, sy > ymax + eps
        active = left | right | up | down
        # One scalar read per bounce (a device sync on GPU): most frames need one iteration, and running all
        # eight would cost more than the syncs. Skipping iterations never changes the result.
        if not bool(xp.any(active)):
            break
        with _xp.quiet(xp):
            a = xp.where(dx != 0, dy / dx, 0.0)
            intercept = sy - a * sx
            cx, cy = sx, sy
            # General case: the first wall whose crossing lies within the other axis' range (SRVP tests the four
            # walls in this order and keeps the last one that matches).
            y_at_xmin, y_at_xmax = a * xmin + intercept, a * xmax + intercept
            x_at_ymin = xp.where(a != 0, (ymin - intercept) / a, sx)
            x_at_ymax = xp.where(a != 0, (ymax - intercept) / a, sx)
            general = (dx != 0) & (dy != 0)
            left = xp.where(general, left & (y_at_xmin >= ymin - eps) & (y_at_xmin <= ymax + eps), left)
            right = xp.where(general, right & (y_at_xmax >= ymin - eps) & (y_at_xmax <= ymax + eps), right)
            up = xp.where(general, up & (x_at_ymin >= xmin - eps) & (x_at_ymin <= xmax + eps), up)
            down = xp.where(general, down & (x_at_ymax >= xmin - eps) & (x_at_ymax <= xmax + eps), down)
            for flag, px, py in (
                (left, xmin, y_at_xmin),
                (right, xmax, y_at_xmax),
                (up, x_at_ymin, ymin),
                (down, x_at_ymax, ymax),
            ):
                cx = xp.where(general & flag, px, cx)
                cy = xp.where(general & flag, py, cy)
            # Axis-aligned motion: the crossing is on the wall along the moving axis.
            only_y = dx == 0
            only_x = (dx != 0) & (dy == 0)
            cy = xp.where(only_y, xp.where(up, ymin, ymax), cy)
            cx = xp.where(only_x, xp.where(left, xmin, xmax), cx)
            p = xp.where(dx != 0, (sx - cx) / dx, xp.where(dy != 0, (sy - cy) / dy, 0.0))
        if redraw is not None:
            dx = xp.where(active, redraw[:, :, bounce, 0], dx)
            dy = xp.where(active, redraw[:, :, bounce, 1], dy)
        dx = xp.where(active & left, xp.abs(dx), xp.where(active & right, -xp.abs(dx), dx))
        dy = xp.where(active & up, xp.abs(dy), xp.where(active & down, -xp.abs(dy), dy))
        sx = xp.where(active, cx + dx * p, sx)
        sy = xp.where(active, cy + dy * p, sy)
    # Guard against a pathological corner case running out of bounces: stay inside the walls. Selected, not
    # min/max: numpy and torch break the tie between 0.0 and -0.0 differently.
    sx = xp.where(sx < xmin, xmin, xp.where(sx > xmax, xmax, sx))
    sy = xp.where(sy < ymin, ymin, xp.where(sy > ymax, ymax, sy))
    return xp.stack([sx, sy], axis=-1), xp.stack([dx, dy], axis=-1)


def _flip(motion, seed, index, num_frames, walls: Walls, subpixel=False):
    """The segmentation notebook (docs/presets.md): start uniform over [lo, hi) at frame 0; record the position
    (truncated toward zero, as ``astype(int)``); a velocity component flips when the next position would leave
    ``[lo - margin, hi + margin]`` of the next frame's walls; then step with the (flipped) velocity. Walls per
    frame, ``(B, T, K, 2)``."""
    xp = _xp.namespace(index)
    lo, hi = walls.lo, walls.hi
    b, _, k = lo.shape[:3]
    margin = motion.margin
    span0 = hi[:, 0] - lo[:, 0]
    p = lo[:, 0] + span0 * rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span0, "px")
    out = _positions(xp, index, (b, num_frames, k, 2), subpixel)
    for t in range(num_frames):
        out[:, t, ...] = p if subpixel else xp.trunc(p)
        nxt = p + v
        t1 = min(t + 1, num_frames - 1)
        leave = (nxt < lo[:, t1] - margin) | (nxt > hi[:, t1] + margin)
        v = xp.where(leave, -v, v)
        p = p + v
    return out


def _path(motion, seed, index, num_frames, walls: Walls, subpixel=False, *, labels=None):
    """Parametric paths about a drifting centre (:mod:`movingmnist.latents.paths`; docs/scenes.md)."""
    return paths.path_positions(
        motion, seed, index, num_frames, walls, subpixel, labels=labels, polar_velocity=_polar_velocity
    )


MODELS = {
    "srivastava": _srivastava,
    "reflect": _reflect,
    "free": _free,
    "stochastic": _stochastic,
    "srvp": _srvp,
    "flip": _flip,
    "path": _path,
}
"""Motion models by ``motion.model`` name (``affine`` poses are built in :mod:`movingmnist.latents.appearance`;
``path`` lives in :mod:`movingmnist.latents.paths` and takes ``labels``; ``motion.collisions="elastic"`` runs
:mod:`movingmnist.latents.collisions` instead of the model's own rule)."""
