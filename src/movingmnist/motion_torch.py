"""The motion models of :mod:`movingmnist.motion` in torch ops on any device, giving the same integer positions.

Each function mirrors its numpy twin operation for operation (same float64 operations in the same order, same
streams from :mod:`movingmnist.rng_torch`), so positions are equal bit for bit (also the unrounded ``subpixel``
positions). Positions are vectorised over (B, K); the loops over frames are those of the stepwise models, as in
numpy.
"""

from __future__ import annotations

import math

from . import rng_torch as rng
from .errors import require
from .motion import _SRVP_EPS, _SRVP_MAX_BOUNCES
from .spec import MotionSpec

torch = require("torch", "torch", "the torch backend")


def simulate(
    motion: MotionSpec,
    seed: int,
    index: torch.Tensor,
    num_frames: int,
    lo: torch.Tensor,
    hi: torch.Tensor,
    glyph_hw: tuple[int, int],
    canvas_hw: tuple[int, int],
    subpixel: bool = False,
) -> torch.Tensor:
    """Top-left pixel (x, y) of each glyph box in each frame, ``(B, T, K, 2)`` int64 on ``index.device``.

    Arguments as :func:`movingmnist.motion.simulate`, with ``index (B,)`` int64 and ``lo``, ``hi`` ``(B, K, 2)`` or
    per frame ``(B, T, K, 2)`` float64 tensors on the same device. With ``subpixel`` the result has numpy's dtype:
    float64, except ``stochastic`` (int64).
    """
    lo, hi = lo.to(torch.float64), hi.to(torch.float64)
    if motion.model == "flip":
        if lo.dim() == 3:
            lo = lo[:, None].expand(lo.shape[0], num_frames, *lo.shape[1:])
            hi = hi[:, None].expand(lo.shape)
    elif lo.dim() == 4:
        lo, hi = lo.amax(dim=1), hi.amin(dim=1)
        middle = (lo + hi) / 2
        lo, hi = torch.minimum(lo, middle), torch.maximum(hi, middle)
    model = _MODELS[motion.model]
    out = model(motion, seed, index.to(torch.int64), num_frames, lo, hi, glyph_hw, canvas_hw, subpixel)
    return out if subpixel else out.to(torch.int64)


def _polar_velocity(
    motion: MotionSpec, seed: int, index: torch.Tensor, k: int, span: torch.Tensor, unit: str
) -> torch.Tensor:
    """Port of :func:`movingmnist.motion._polar_velocity`."""
    if motion.integer_speed:
        low, high = int(math.ceil(motion.speed[0])), int(math.floor(motion.speed[1]))
        speed = rng.integers(seed, "motion.speed", index, (k,), low, max(low, high)).to(torch.float64)
    else:
        speed = rng.uniform(seed, "motion.speed", index, (k,), *motion.speed)
    d0, d1 = motion.direction
    turns = rng.uniform(seed, "motion.direction", index, (k,), d0 / 360.0, d1 / 360.0)
    sin, cos = rng.sincos_turns(turns)
    velocity = torch.stack([cos * speed, sin * speed], dim=-1)
    if motion.speed_unit == unit:
        return velocity
    if unit == "px":
        return velocity * span
    return torch.where(span > 0, velocity / span, torch.zeros((), dtype=velocity.dtype, device=span.device))


def _srivastava(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    b, k = lo.shape[:2]
    span = hi - lo
    p = rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "free_range")
    out = torch.empty((b, num_frames, k, 2), dtype=torch.float64 if subpixel else torch.int64, device=index.device)
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    one = torch.ones((), dtype=p.dtype, device=p.device)
    for t in range(num_frames):
        p = p + v
        low = p <= 0.0
        p = torch.where(low, zero, p)
        v = torch.where(low, -v, v)
        high = p >= 1.0
        p = torch.where(high, one, p)
        v = torch.where(high, -v, v)
        out[:, t] = lo + (span * p if subpixel else torch.floor(span * p))
    return out


def _reflect(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    k = lo.shape[1]
    span = hi - lo
    p0 = rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "free_range")
    t = torch.arange(num_frames, dtype=torch.float64, device=index.device).reshape(1, -1, 1, 1)
    p = p0[:, None] + v[:, None] * t
    p = rng.fmod_floor(p, 2.0)
    p = torch.minimum(p, 2.0 - p)
    if subpixel:
        return lo[:, None] + span[:, None] * p
    return (lo[:, None] + torch.round(span[:, None] * p)).to(torch.int64)


def _free(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    k = lo.shape[1]
    span = hi - lo
    start = lo + span * rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span, "px")
    t = torch.arange(num_frames, dtype=torch.float64, device=index.device).reshape(1, -1, 1, 1)
    pos = start[:, None] + v[:, None] * t
    size = torch.tensor([glyph_hw[1], glyph_hw[0]], dtype=torch.float64, device=index.device)
    canvas = torch.tensor([canvas_hw[1], canvas_hw[0]], dtype=torch.float64, device=index.device)
    if motion.wrap:
        pos = rng.fmod_floor(pos + size, canvas + size) - size
    if subpixel:
        return torch.minimum(torch.maximum(pos, -size), canvas)
    pos = torch.round(pos)
    return torch.minimum(torch.maximum(pos, -size), canvas).to(torch.int64)


def _stochastic(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    b, k = lo.shape[:2]
    m = motion.max_step
    lo_i, hi_i = lo.to(torch.int64), hi.to(torch.int64)
    u = rng.uniform(seed, "motion.start", index, (k, 2))
    s = lo_i + torch.floor(u * (hi_i - lo_i)).to(torch.int64)
    d = rng.integers(seed, "motion.velocity", index, (k, 2), -m, m)
    shape = (k, num_frames, 2)
    toward_plus = rng.integers(seed, "motion.redraw.away_low", index, shape, 1, m)
    toward_minus = rng.integers(seed, "motion.redraw.away_high", index, shape, -m, -1)
    other = rng.integers(seed, "motion.redraw.other", index, shape, -m, m)
    out = torch.empty((b, num_frames, k, 2), dtype=torch.int64, device=index.device)
    for t in range(num_frames):
        s = s.clone()
        d = d.clone()
        for axis in (1, 0):
            cross = 1 - axis
            low = s[..., axis] < lo_i[..., axis]
            high = s[..., axis] >= hi_i[..., axis]
            s[..., axis] = torch.where(low, lo_i[..., axis], torch.where(high, hi_i[..., axis] - 1, s[..., axis]))
            hit = low | high
            if motion.deterministic:
                d[..., axis] = torch.where(hit, -d[..., axis], d[..., axis])
            else:
                new = torch.where(low, toward_plus[:, :, t, axis], toward_minus[:, :, t, axis])
                d[..., axis] = torch.where(hit, new, d[..., axis])
                d[..., cross] = torch.where(hit, other[:, :, t, axis], d[..., cross])
        out[:, t] = s
        s = s + d
    return out


def _srvp(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    b, k = lo.shape[:2]
    m = motion.max_step
    start = rng.uniform(seed, "motion.start", index, (k, 2))
    s = lo + torch.floor(start * (hi - lo + 1.0))
    d = rng.integers(seed, "motion.velocity", index, (k, 2), -m, m).to(torch.float64)
    redraw = None
    if not motion.deterministic:
        redraw = rng.integers(seed, "motion.redraw", index, (k, num_frames * _SRVP_MAX_BOUNCES, 2), -m, m)
        redraw = redraw.reshape(b, k, num_frames, _SRVP_MAX_BOUNCES, 2).to(torch.float64)
    out = torch.empty((b, num_frames, k, 2), dtype=torch.float64 if subpixel else torch.int64, device=index.device)
    for t in range(num_frames):
        s, d = _srvp_collide(s, d, lo, hi, None if redraw is None else redraw[:, :, t])
        out[:, t] = s if subpixel else torch.round(s).to(torch.int64)
        s = s + d
    return out


def _srvp_collide(s, d, lo, hi, redraw):
    """Port of :func:`movingmnist.motion._srvp_collide` (same operations, same order)."""
    eps = _SRVP_EPS
    sx, sy, dx, dy = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    xmin, ymin, xmax, ymax = lo[..., 0], lo[..., 1], hi[..., 0], hi[..., 1]
    zero = torch.zeros((), dtype=torch.float64, device=s.device)
    for bounce in range(_SRVP_MAX_BOUNCES):
        left, right = sx < xmin - eps, sx > xmax + eps
        up, down = sy < ymin - eps, sy > ymax + eps
        active = left | right | up | down
        # One scalar read per bounce iteration (a device sync on GPU): most frames need one iteration, and
        # running all eight would cost more than the syncs. Skipping iterations never changes the result.
        if not bool(active.any()):
            break
        a = torch.where(dx != 0, dy / dx, zero)
        intercept = sy - a * sx
        cx, cy = sx, sy
        y_at_xmin, y_at_xmax = a * xmin + intercept, a * xmax + intercept
        x_at_ymin = torch.where(a != 0, (ymin - intercept) / a, sx)
        x_at_ymax = torch.where(a != 0, (ymax - intercept) / a, sx)
        general = (dx != 0) & (dy != 0)
        left = torch.where(general, left & (y_at_xmin >= ymin - eps) & (y_at_xmin <= ymax + eps), left)
        right = torch.where(general, right & (y_at_xmax >= ymin - eps) & (y_at_xmax <= ymax + eps), right)
        up = torch.where(general, up & (x_at_ymin >= xmin - eps) & (x_at_ymin <= xmax + eps), up)
        down = torch.where(general, down & (x_at_ymax >= xmin - eps) & (x_at_ymax <= xmax + eps), down)
        for flag, px, py in (
            (left, xmin, y_at_xmin),
            (right, xmax, y_at_xmax),
            (up, x_at_ymin, ymin),
            (down, x_at_ymax, ymax),
        ):
            cx = torch.where(general & flag, px, cx)
            cy = torch.where(general & flag, py, cy)
        only_y = dx == 0
        only_x = (dx != 0) & (dy == 0)
        cy = torch.where(only_y, torch.where(up, ymin, ymax), cy)
        cx = torch.where(only_x, torch.where(left, xmin, xmax), cx)
        p = torch.where(dx != 0, (sx - cx) / dx, torch.where(dy != 0, (sy - cy) / dy, zero))
        if redraw is not None:
            dx = torch.where(active, redraw[:, :, bounce, 0], dx)
            dy = torch.where(active, redraw[:, :, bounce, 1], dy)
        dx = torch.where(active & left, dx.abs(), torch.where(active & right, -dx.abs(), dx))
        dy = torch.where(active & up, dy.abs(), torch.where(active & down, -dy.abs(), dy))
        sx = torch.where(active, cx + dx * p, sx)
        sy = torch.where(active, cy + dy * p, sy)
    sx = torch.minimum(torch.maximum(sx, xmin), xmax)
    sy = torch.minimum(torch.maximum(sy, ymin), ymax)
    return torch.stack([sx, sy], dim=-1), torch.stack([dx, dy], dim=-1)


def _flip(motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=False):
    """Port of :func:`movingmnist.motion._flip` (walls ``lo``, ``hi`` per frame, ``(B, T, K, 2)``)."""
    b, _, k = lo.shape[:3]
    margin = motion.margin
    span0 = hi[:, 0] - lo[:, 0]
    p = lo[:, 0] + span0 * rng.uniform(seed, "motion.start", index, (k, 2))
    v = _polar_velocity(motion, seed, index, k, span0, "px")
    out = torch.empty((b, num_frames, k, 2), dtype=torch.float64 if subpixel else torch.int64, device=index.device)
    for t in range(num_frames):
        out[:, t] = p if subpixel else torch.trunc(p)
        nxt = p + v
        t1 = min(t + 1, num_frames - 1)
        leave = (nxt < lo[:, t1] - margin) | (nxt > hi[:, t1] + margin)
        v = torch.where(leave, -v, v)
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
