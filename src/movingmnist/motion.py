"""Motion models: from per-sequence random latents to per-frame glyph positions.

Every function is pure: it takes the sequence indices, the seed and the bounds, draws what it needs from
:mod:`movingmnist.rng` streams keyed by (seed, index, object, frame), and returns integer top-left pixel positions
``(B, T, K, 2)`` as (x, y) (or, with ``subpixel=True``, the unrounded float positions). Positions are vectorised
over (B, K); a Python loop over frames appears only where a model is stepwise by definition (clamp-and-reverse,
random redraws at walls, exact collisions, flips).
"""

from __future__ import annotations

import numpy as np

from . import rng
from .spec import MotionSpec


def simulate(
    motion: MotionSpec,
    seed: int,
    index: np.ndarray,
    num_frames: int,
    lo: np.ndarray,
    hi: np.ndarray,
    glyph_hw: tuple[int, int],
    canvas_hw: tuple[int, int],
    subpixel: bool = False,
) -> np.ndarray:
    """Top-left pixel (x, y) of each glyph box in each frame.

    Args:
        motion: the motion section of the spec.
        seed: dataset seed.
        index: ``(B,)`` sequence indices.
        num_frames: T, the number of frames to produce.
        lo, hi: ``(B, K, 2)`` float64 smallest and largest allowed top-left (x, y): the walls. For ``bounce_on=box``
            ``lo = 0`` and ``hi = canvas - glyph``; for ``ink`` they let the empty margin of the glyph cross the wall.
            Walls may also be given per frame, ``(B, T, K, 2)`` (a transformed glyph's ink box changes with its
            angle and scale): ``flip`` checks each frame's walls, the other models use the envelope (the walls
            that hold the glyph in every frame).
        glyph_hw: (h, w) of the glyph box. canvas_hw: (H, W).
        subpixel: return the unrounded positions (float64) instead of the model's whole-pixel rounding.

    Returns:
        ``(B, T, K, 2)`` int64 top-left positions (x, y) (float64 with ``subpixel``).
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if motion.model == "flip":
        if lo.ndim == 3:
            lo = np.broadcast_to(lo[:, None], (lo.shape[0], num_frames, *lo.shape[1:]))
            hi = np.broadcast_to(hi[:, None], lo.shape)
    elif lo.ndim == 4:
        lo, hi = lo.max(axis=1), hi.min(axis=1)
        middle = (lo + hi) / 2
        lo, hi = np.minimum(lo, middle), np.maximum(hi, middle)
    model = _MODELS[motion.model]
    out = model(motion, seed, np.asarray(index, dtype=np.int64), num_frames, lo, hi, glyph_hw, canvas_hw, subpixel)
    return out if subpixel else out.astype(np.int64, copy=False)


def _polar_velocity(
    motion: MotionSpec, seed: int, index: np.ndarray, k: int, span: np.ndarray, unit: str
) -> np.ndarray:
    """``(B, K, 2)`` velocity (x, y) from a speed range and a direction range, in ``unit`` per frame.

    ``unit="free_range"``: units of the free range (the span of each axis; what the classic generators use);
    ``"px"``: pixels. The speed is drawn in ``motion.speed_unit`` and converted only when the units differ.
    """
    if motion.integer_speed:
        low, high = int(np.ceil(motion.speed[0])), int(np.floor(motion.speed[1]))
        speed = rng.integers(seed, "motion.speed", index, (k,), low, max(low, high)).astype(np.float64)
    else:
        speed = rng.uniform(seed, "motion.speed", index, (k,), *motion.speed)
    d0, d1 = motion.direction
    turns = rng.uniform(seed, "motion.direction", index, (k,), d0 / 360.0, d1 / 360.0)
    sin, cos = rng.sincos_turns(turns)
    velocity = np.stack([cos * speed, sin * speed], axis=-1)
    if motion.speed_unit == unit:
        return velocity
    if unit == "px":
        return velocity * span
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 0, velocity / span, 0.0)


def _srivastava(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """PROTOCOLS.md section 1: step, clamp-and-reverse, record, truncate."""
    b, k = lo.shape[:2]
    span = hi - lo
    p = rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "free_range")
    out = np.empty((b, num_frames, k, 2), dtype=np.float64 if subpixel else np.int64)
    for t in range(num_frames):
        p += v
        low = p <= 0.0
        p[low] = 0.0
        v[low] = -v[low]
        high = p >= 1.0
        p[high] = 1.0
        v[high] = -v[high]
        out[:, t] = lo + (span * p if subpixel else np.floor(span * p))
    return out


def _reflect(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """TFDS moving_sequence: start + t * velocity folded into [0, 1] (triangle wave), frame 0 at start, rounded."""
    k = lo.shape[1]
    span = hi - lo
    p0 = rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "free_range")
    t = np.arange(num_frames, dtype=np.float64).reshape(1, -1, 1, 1)
    p = p0[:, None] + v[:, None] * t
    p = np.mod(p, 2.0)
    p = np.minimum(p, 2.0 - p)
    if subpixel:
        return lo[:, None] + span[:, None] * p
    return (lo[:, None] + np.rint(span[:, None] * p)).astype(np.int64)


def _free(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """Straight lines from a start where the glyph is inside the walls; no walls. ``wrap``: once the glyph box is
    fully off one side it re-enters from the other (period canvas + glyph)."""
    k = lo.shape[1]
    span = hi - lo
    start = lo + span * rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "px")
    t = np.arange(num_frames, dtype=np.float64).reshape(1, -1, 1, 1)
    pos = start[:, None] + v[:, None] * t
    size = np.array([glyph_hw[1], glyph_hw[0]], dtype=np.float64)
    canvas = np.array([canvas_hw[1], canvas_hw[0]], dtype=np.float64)
    if motion.wrap:
        pos = np.mod(pos + size, canvas + size) - size
    if subpixel:
        return np.clip(pos, -size, canvas)
    pos = np.rint(pos)
    # Beyond one glyph off the canvas nothing is visible; clipping keeps the renderer's padding bounded.
    return np.clip(pos, -size, canvas).astype(np.int64)


def _stochastic(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """PROTOCOLS.md section 2 (SVG): check walls (y, then x), record, step. At a wall the coordinate is set to the
    wall (the far wall to hi - 1, as SVG does) and a new velocity is drawn pointing away from it (``deterministic``:
    the component is negated)."""
    b, k = lo.shape[:2]
    m = motion.max_step
    lo_i, hi_i = lo.astype(np.int64), hi.astype(np.int64)
    u = rng.uniform(seed, "motion.start", index, (k, 2))
    s = lo_i + np.floor(u * (hi_i - lo_i)).astype(np.int64)  # U{lo .. hi - 1}
    d = rng.integers(seed, "motion.velocity", index, (k, 2), -m, m)
    shape = (k, num_frames, 2)  # last axis: 0 = redraw at an x wall, 1 = at a y wall
    toward_plus = rng.integers(seed, "motion.redraw.away_low", index, shape, 1, m)
    toward_minus = rng.integers(seed, "motion.redraw.away_high", index, shape, -m, -1)
    other = rng.integers(seed, "motion.redraw.other", index, shape, -m, m)
    out = np.empty((b, num_frames, k, 2), dtype=np.int64)
    for t in range(num_frames):
        for axis in (1, 0):  # y first, as SVG
            cross = 1 - axis
            low = s[..., axis] < lo_i[..., axis]
            high = s[..., axis] >= hi_i[..., axis]
            s[..., axis] = np.where(low, lo_i[..., axis], np.where(high, hi_i[..., axis] - 1, s[..., axis]))
            hit = low | high
            if motion.deterministic:
                d[..., axis] = np.where(hit, -d[..., axis], d[..., axis])
            else:
                new = np.where(low, toward_plus[:, :, t, axis], toward_minus[:, :, t, axis])
                d[..., axis] = np.where(hit, new, d[..., axis])
                d[..., cross] = np.where(hit, other[:, :, t, axis], d[..., cross])
        out[:, t] = s
        s = s + d
    return out


_SRVP_EPS = 1e-8
_SRVP_MAX_BOUNCES = 8


def _srvp(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """PROTOCOLS.md section 2 (SRVP): integer start in lo..hi, integer velocity; after each step the crossing with
    a wall is found at its exact time, the velocity is reflected (stochastic: redrawn, then pointed away from the
    wall) and the rest of the step continues from the crossing point. Positions are rounded when drawn."""
    b, k = lo.shape[:2]
    m = motion.max_step
    start = rng.uniform(seed, "motion.start", index, (k, 2))
    s = lo + np.floor(start * (hi - lo + 1.0))  # U{lo .. hi}
    d = rng.integers(seed, "motion.velocity", index, (k, 2), -m, m).astype(np.float64)
    redraw = None
    if not motion.deterministic:
        redraw = rng.integers(seed, "motion.redraw", index, (k, num_frames * _SRVP_MAX_BOUNCES, 2), -m, m)
        redraw = redraw.reshape(b, k, num_frames, _SRVP_MAX_BOUNCES, 2).astype(np.float64)
    out = np.empty((b, num_frames, k, 2), dtype=np.float64 if subpixel else np.int64)
    for t in range(num_frames):
        s, d = _srvp_collide(s, d, lo, hi, None if redraw is None else redraw[:, :, t])
        out[:, t] = s if subpixel else np.rint(s)
        s = s + d
    return out


def _srvp_collide(s, d, lo, hi, redraw):
    """Vectorised port of SRVP's collision loop over (B, K) positions ``s`` and velocities ``d`` (x, y)."""
    eps = _SRVP_EPS
    sx, sy, dx, dy = s[..., 0].copy(), s[..., 1].copy(), d[..., 0].copy(), d[..., 1].copy()
    xmin, ymin, xmax, ymax = lo[..., 0], lo[..., 1], hi[..., 0], hi[..., 1]
    for bounce in range(_SRVP_MAX_BOUNCES):
        left, right = sx < xmin - eps, sx > xmax + eps
        up, down = sy < ymin - eps, sy > ymax + eps
        active = left | right | up | down
        if not active.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(dx != 0, dy / dx, 0.0)
            intercept = sy - a * sx
            cx, cy = sx.copy(), sy.copy()
            # General case: the first wall whose crossing lies within the other axis' range (SRVP tests the four
            # walls in this order and keeps the last one that matches).
            y_at_xmin, y_at_xmax = a * xmin + intercept, a * xmax + intercept
            x_at_ymin = np.where(a != 0, (ymin - intercept) / a, sx)
            x_at_ymax = np.where(a != 0, (ymax - intercept) / a, sx)
            general = (dx != 0) & (dy != 0)
            left = np.where(general, left & (y_at_xmin >= ymin - eps) & (y_at_xmin <= ymax + eps), left)
            right = np.where(general, right & (y_at_xmax >= ymin - eps) & (y_at_xmax <= ymax + eps), right)
            up = np.where(general, up & (x_at_ymin >= xmin - eps) & (x_at_ymin <= xmax + eps), up)
            down = np.where(general, down & (x_at_ymax >= xmin - eps) & (x_at_ymax <= xmax + eps), down)
            for flag, px, py in (
                (left, xmin, y_at_xmin),
                (right, xmax, y_at_xmax),
                (up, x_at_ymin, ymin),
                (down, x_at_ymax, ymax),
            ):
                cx = np.where(general & flag, px, cx)
                cy = np.where(general & flag, py, cy)
            # Axis-aligned motion: the crossing is on the wall along the moving axis.
            only_y = dx == 0
            only_x = (dx != 0) & (dy == 0)
            cy = np.where(only_y, np.where(up, ymin, ymax), cy)
            cx = np.where(only_x, np.where(left, xmin, xmax), cx)
            p = np.where(dx != 0, (sx - cx) / dx, np.where(dy != 0, (sy - cy) / dy, 0.0))
        if redraw is not None:
            dx = np.where(active, redraw[:, :, bounce, 0], dx)
            dy = np.where(active, redraw[:, :, bounce, 1], dy)
        dx = np.where(active & left, np.abs(dx), np.where(active & right, -np.abs(dx), dx))
        dy = np.where(active & up, np.abs(dy), np.where(active & down, -np.abs(dy), dy))
        sx = np.where(active, cx + dx * p, sx)
        sy = np.where(active, cy + dy * p, sy)
    # Guard against a pathological corner case running out of bounces: stay inside the walls.
    sx, sy = np.clip(sx, xmin, xmax), np.clip(sy, ymin, ymax)
    return np.stack([sx, sy], axis=-1), np.stack([dx, dy], axis=-1)


def _flip(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """PROTOCOLS.md section 3 (segmentation notebook): start uniform over [lo, hi) at frame 0; record the position
    (truncated toward zero, as ``astype(int)``); a velocity component flips when the next position would leave
    ``[lo - margin, hi + margin]`` of the next frame's walls; then step with the (flipped) velocity.

    ``lo``, ``hi``: ``(B, T, K, 2)`` walls per frame."""
    b, _, k = lo.shape[:3]
    margin = motion.margin
    span0 = hi[:, 0] - lo[:, 0]
    p = lo[:, 0] + span0 * rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span0, "px")
    out = np.empty((b, num_frames, k, 2), dtype=np.float64 if subpixel else np.int64)
    for t in range(num_frames):
        out[:, t] = p if subpixel else np.trunc(p)
        nxt = p + v
        t1 = min(t + 1, num_frames - 1)
        leave = (nxt < lo[:, t1] - margin) | (nxt > hi[:, t1] + margin)
        v = np.where(leave, -v, v)
        p = p + v
    return out


_MODELS = {
    "srivastava": _srivastava,
    "reflect": _reflect,
    "free": _free,
    "stochastic": _stochastic,
    "srvp": _srvp,
    "flip": _flip,
}
