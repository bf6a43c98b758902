"""Elastic collisions between glyphs, exact in time (``motion.collisions="elastic"``; docs/scenes.md, "Collisions").

Glyphs are discs (centre and radius from the ink box) moving in straight lines between events. Within each frame
step the earliest event of every sequence, a wall crossing or a pair contact (the smaller root of the disc contact
quadratic), is found; everything advances to it; the event is resolved (the velocity component is reflected at a
wall, an elastic impulse along the line of centres for a pair); and the search repeats until the step is done, at
most :data:`MAX_EVENTS` times per step. Vectorised over the batch; loops over frames and event iterations only;
written once over the array namespace (numpy and torch give the same bits: +, -, * and / are correctly rounded,
the one square root is Newton's iteration on them (:func:`sqrt`; torch's vectorised CPU sqrt is not correctly
rounded), reductions are over one-hot masks, so their order does not matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import xp as _xp

#: Event iterations per frame step before the fallback (straight-line motion for the rest of the step; positions
#: are clamped to the walls at the end of every step).
MAX_EVENTS = 32
_INF = float("inf")


@dataclass(frozen=True)
class Discs:
    """The collision geometry of each object.

    Attributes:
        offset: ``(B, K, 2)`` float64 disc centre relative to the glyph box's top-left (x, y).
        radius: ``(B, K)`` float64 radius in pixels.
        mass: ``(B, K)`` float64 mass (> 0).
    """

    offset: Any
    radius: Any
    mass: Any


def discs(xp: Any, ink_box: Any | None, shape: tuple[int, int], glyph_hw: tuple[int, int], radius: float | None,
          mass: str, device: Any) -> Discs:
    """The discs of ``motion.collision_radius`` / ``collision_mass`` from the ink boxes ``(B, K, 4)`` (x0, y0, x1,
    y1 exclusive; ``None``: the whole glyph box). Radius: half the larger side of the ink box unless given; mass:
    1 (``equal``) or the ink box's area in pixels (at least 1)."""
    h, w = glyph_hw
    if ink_box is None:
        box = xp.asarray([0.0, 0.0, float(w), float(h)], dtype=xp.float64, device=device)
        box = xp.broadcast_to(box, (*shape, 4))
    else:
        box = _xp.f64(xp, ink_box)
    size = box[..., 2:4] - box[..., 0:2]
    offset = (box[..., 0:2] + box[..., 2:4]) / 2.0
    if radius is None:
        r = xp.maximum(size[..., 0], size[..., 1]) / 2.0
    else:
        r = xp.full(shape, float(radius), dtype=xp.float64, device=device)
    if mass == "area":
        m = xp.maximum(size[..., 0] * size[..., 1], 1.0)
    else:
        m = xp.ones(shape, dtype=xp.float64, device=device)
    return Discs(offset=offset, radius=r, mass=m)


def simulate_elastic(
    xp: Any,
    start: Any,
    velocity: Any,
    lo: Any | None,
    hi: Any | None,
    geometry: Discs,
    active: Any,
    num_frames: int,
    redraw: Any | None = None,
    on_event: Any | None = None,
) -> tuple[Any, Any, Any]:
    """Positions of elastic discs over ``num_frames`` frames, frame 0 at ``start``.

    Args:
        start, velocity: ``(B, K, 2)`` float64 top-left positions and velocities (pixels, pixels per frame).
        lo, hi: ``(B, K, 2)`` reflecting walls of the top-left, or ``None`` (no walls).
        geometry: the :class:`Discs`.
        active: ``(B, T, K)`` bool; an object takes part in collisions during the step from frame t - 1 to t when
            it is active at both frames (it moves, and meets the walls, either way).
        redraw: ``(B, K, T, R, 2)`` float64 velocities drawn for wall events (srvp's stochastic walls: the r-th
            wall event of an object within the step ending at frame t takes ``redraw[:, :, t, min(r, R - 1)]``,
            then the component across the wall is pointed away from it), or ``None`` (reflection).
        on_event: optional ``callback(t, positions, velocities)`` called after every event iteration (tests).

    Returns:
        ``positions (B, T, K, 2)`` float64, ``velocities (B, T, K, 2)`` float64 (after the events of the step
        ending at each frame), ``hits (B, T, K, K)`` bool (pair a, b collided in the step ending at frame t;
        symmetric; frame 0 all False).
    """
    b, k = start.shape[:2]
    dev = _xp.device_of(start)
    p, v = start, velocity
    positions = xp.empty((b, num_frames, k, 2), dtype=xp.float64, device=dev)
    velocities = xp.empty((b, num_frames, k, 2), dtype=xp.float64, device=dev)
    hits = xp.zeros((b, num_frames, k, k), dtype=xp.bool, device=dev)
    positions[:, 0, ...] = p
    velocities[:, 0, ...] = v
    slot = xp.arange(k, device=dev)
    upper = xp.reshape(slot, (1, -1, 1)) < xp.reshape(slot, (1, 1, -1))  # pairs a < b
    reach = geometry.radius[:, :, None] + geometry.radius[:, None, :]  # (B, K, K)
    wall_slot = xp.reshape(xp.arange(2 * k, device=dev), (1, k, 2))
    for t in range(1, num_frames):
        both = active[:, t - 1] & active[:, t]
        pair_ok = upper & both[:, :, None] & both[:, None, :]
        remaining = xp.ones((b,), dtype=xp.float64, device=dev)
        hit = xp.zeros((b, k, k), dtype=xp.bool, device=dev)
        walls_hit = xp.zeros((b, k), dtype=xp.int64, device=dev)
        done = xp.zeros((b,), dtype=xp.bool, device=dev)
        for _ in range(MAX_EVENTS):
            times = [_pair_times(xp, p + geometry.offset, v, reach, pair_ok)]
            if lo is not None:
                times.insert(0, _wall_times(xp, p, v, lo, hi))
            candidates = xp.concat(times, axis=1)  # (B, 2K + K K) or (B, K K)
            first = xp.min(candidates, axis=1)
            which = xp.argmin(candidates, axis=1)
            # An event at the very end of the step belongs to it; a row without an event is done with the step
            # (whatever the other rows of the batch still need), so its result never depends on them.
            event = (first <= remaining) & ~done
            done = done | ~event
            step = xp.where(event, first, remaining)
            # Rows already done stay bit for bit (p + v * 0 would turn -0.0 into 0.0): a row's result must not
            # depend on how many iterations the other rows of its batch need.
            p = xp.where(step[:, None, None] > 0, p + v * step[:, None, None], p)
            remaining = remaining - step
            if lo is not None:
                on_wall = event & (which < 2 * k)
                mask = (wall_slot == which[:, None, None]) & on_wall[:, None, None]  # (B, K, 2)
                # On the wall exactly (p + v s may round a hair past it).
                p = xp.where(mask, xp.where(v > 0, hi, lo), p)
                v = _reflect(xp, v, p, lo, hi, mask, redraw, t, walls_hit)
                walls_hit = walls_hit + xp.astype(xp.any(mask, axis=-1), xp.int64)
                pair = xp.where(event & ~on_wall, which - 2 * k, -1)
            else:
                pair = xp.where(event, which, -1)
            v, touched = _impulse(xp, p + geometry.offset, v, geometry.mass, pair, k)
            hit = hit | touched
            if on_event is not None:
                on_event(t, p, v)
            # One scalar read per iteration (a device sync on GPU); skipping idle iterations changes nothing.
            if not bool(xp.any(event)):
                break
        else:
            # Fallback: the rest of the step in straight lines.
            p = xp.where(remaining[:, None, None] > 0, p + v * remaining[:, None, None], p)
        if lo is not None:
            # The walls hold the glyphs (a hair past them by rounding, or after the fallback). Selected, not
            # min/max: numpy and torch break the tie between 0.0 and -0.0 differently.
            p = xp.where(p < lo, lo, xp.where(p > hi, hi, p))
        positions[:, t, ...] = p
        velocities[:, t, ...] = v
        hits[:, t, ...] = hit
    return positions, velocities, hits


def sqrt(xp: Any, x: Any) -> Any:
    """Square root of float64 ``x >= 0`` from +, *, / only, so every backend gives the same bits (within an ulp or
    two of the correctly rounded root): a first guess from halving the exponent bits (relative error < 0.1), then
    five Newton steps (the error squares each time). 0 (and negative input) gives 0."""
    positive = x > 0
    safe = xp.where(positive, x, 1.0)
    if _xp.is_torch(xp):
        import torch

        guess = ((safe.view(torch.int64) >> 1) + (1023 << 51)).view(torch.float64)
    else:
        guess = ((safe.view(np.int64) >> np.int64(1)) + np.int64(1023 << 51)).view(np.float64)
    y = guess
    for _ in range(5):
        y = 0.5 * (y + safe / y)
    return xp.where(positive, y, 0.0)


def _wall_times(xp: Any, p: Any, v: Any, lo: Any, hi: Any) -> Any:
    """``(B, 2 K)``: time until each object's top-left reaches the wall it moves toward, per axis (inf: none)."""
    with _xp.quiet(xp):
        to_hi = (hi - p) / v
        to_lo = (lo - p) / v
    s = xp.where(v > 0, to_hi, xp.where(v < 0, to_lo, _INF))
    s = xp.where(s < 0, 0.0, s)  # already past the wall and moving on: reflect now
    return xp.reshape(s, (s.shape[0], -1))


def _pair_times(xp: Any, c: Any, v: Any, reach: Any, pair_ok: Any) -> Any:
    """``(B, K K)``: time until discs a < b touch while approaching (0 when they overlap and approach; inf: never).

    Solves ``|d + w s| = r_a + r_b`` for the smaller root s >= 0, with ``d = c_b - c_a`` and ``w = v_b - v_a``;
    the root is taken as ``C / (-B + sqrt(B^2 - A C))``, which does not cancel when B < 0.
    """
    dx = c[:, None, :, 0] - c[:, :, None, 0]
    dy = c[:, None, :, 1] - c[:, :, None, 1]
    wx = v[:, None, :, 0] - v[:, :, None, 0]
    wy = v[:, None, :, 1] - v[:, :, None, 1]
    a = wx * wx + wy * wy
    bq = dx * wx + dy * wy
    cq = dx * dx + dy * dy - reach * reach
    disc = bq * bq - a * cq
    ok = pair_ok & (bq < 0) & (disc >= 0)
    with _xp.quiet(xp):
        root = cq / (sqrt(xp, disc) - bq)
    s = xp.where(cq <= 0, 0.0, root)
    s = xp.where(ok, s, _INF)
    return xp.reshape(s, (s.shape[0], -1))


def _reflect(xp: Any, v: Any, p: Any, lo: Any, hi: Any, mask: Any, redraw: Any | None, t: int, count: Any) -> Any:
    """Velocities after the wall events of ``mask (B, K, 2)``: the component across the wall reversed, or (with
    ``redraw``) both components redrawn and the one across the wall pointed away from it."""
    toward_hi = v > 0
    if redraw is not None:
        r = redraw.shape[3]
        new = redraw[:, :, t, r - 1]
        for j in range(r - 1, -1, -1):
            new = xp.where((count == j)[..., None], redraw[:, :, t, j], new)
        row = xp.any(mask, axis=-1)[..., None]
        away = xp.where(toward_hi, -xp.abs(new), xp.abs(new))
        return xp.where(mask, away, xp.where(row, new, v))
    return xp.where(mask, -v, v)


def _impulse(xp: Any, c: Any, v: Any, mass: Any, pair: Any, k: int) -> tuple[Any, Any]:
    """Velocities after the elastic collision of pair ``pair (B,)`` (a * K + b; -1: none), and the ``(B, K, K)``
    symmetric mask of the pair. Along the line of centres d = c_b - c_a: with ``q = (v_a - v_b) . d / (d . d)``,
    ``v_a -= 2 m_b / (m_a + m_b) q d`` and ``v_b += 2 m_a / (m_a + m_b) q d``."""
    dev = _xp.device_of(v)
    slot = xp.reshape(xp.arange(k, device=dev), (1, -1))
    has = pair >= 0
    ia = xp.where(has, pair // k, -1)
    ib = xp.where(has, pair % k, -1)
    one_a, one_b = slot == ia[:, None], slot == ib[:, None]  # (B, K)

    def pick(x: Any, one: Any) -> Any:
        # exactly one nonzero term (or none): the sum is exact in any order
        if x.ndim == 3:
            return xp.sum(xp.where(one[..., None], x, 0.0), axis=1)
        return xp.sum(xp.where(one, x, 0.0), axis=1)

    ca, cb, va, vb = pick(c, one_a), pick(c, one_b), pick(v, one_a), pick(v, one_b)
    ma, mb = pick(mass, one_a), pick(mass, one_b)
    d = cb - ca
    # n n^T = d d^T / |d|^2: no square root needed. Coincident centres: push along x.
    far = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] > 0
    d = xp.where(far[:, None], d, xp.stack([xp.ones_like(ma), xp.zeros_like(ma)], axis=-1))
    with _xp.quiet(xp):
        total = xp.where(has, ma + mb, 1.0)
        rel = ((va[:, 0] - vb[:, 0]) * d[:, 0] + (va[:, 1] - vb[:, 1]) * d[:, 1]) / (
            d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
        )
        fa = 2.0 * mb / total * rel
        fb = 2.0 * ma / total * rel
    new_a = va - fa[:, None] * d
    new_b = vb + fb[:, None] * d
    v = xp.where(one_a[..., None], new_a[:, None], xp.where(one_b[..., None], new_b[:, None], v))
    touched = (one_a[:, :, None] & one_b[:, None, :]) | (one_b[:, :, None] & one_a[:, None, :])
    return v, touched
