"""Appearance latents and per-frame poses: rotation, scale, shear, brightness and colour schedules, and the 2x3
affine matrices that place each glyph in each frame.

Conventions (used by every renderer):

- Glyph pixel ``(u, v)`` and canvas pixel ``(x, y)`` are integer indices (column, row); a pixel's centre is at its
  index. A pose is a forward 2x3 matrix ``A`` with ``(x, y) = A @ (u, v, 1)``; the glyph centre is
  ``c = ((w - 1) / 2, (h - 1) / 2)``.
- Schedule poses (every motion model but ``affine``): ``A = T(p + c) L T(-c)`` where ``p`` is the top-left of the
  untransformed glyph box from the motion model and ``L = s R(angle) Sh(shear)``; ``R`` turns counter-clockwise
  on screen for positive angles (as PIL's ``Image.rotate``), ``Sh = [[1, -tan(shear)], [0, 1]]`` (torchvision's
  x-shear). With angle 0, scale 1 and shear 0, ``A`` is an exact integer translation and the renderer reproduces
  the translation-only output bit for bit.
- ``affine`` poses (torch_moving_mnist): ``A_t = M^t P0 T(c) L_t T(-c)`` with ``P0`` the start placement and ``M``
  one step about the canvas centre, built as ``torchvision.transforms.functional.affine`` builds it
  (``rule="compose"``); or ``A_t = S_t P0 T(c) L_t T(-c)`` with ``S_t`` the transform of frame t of the linear
  schedules (``rule="schedule"``).

Written once over the array namespace of the inputs (numpy, or torch on any device): sines and cosines come from
:func:`movingmnist.latents.rng.sincos_turns`, so every backend gets the same bits. Only :func:`decompose` (the
``affine`` model's reported angles and scales) uses the library's ``atan2`` and ``sqrt``: torch's CPU versions are
faithfully but not correctly rounded, so a float64 value may differ from numpy's in its last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..spec import Spec
from . import rng
from . import xp as _xp


@dataclass(frozen=True)
class Appearance:
    """Per-frame appearance of every object, ``(B, T1, K)`` float64 each (T1 frames: T, or T + 1 with tracks).

    Attributes:
        angle: degrees, counter-clockwise. scale: factor. shear: x-shear in degrees. brightness: factor.
        colour: ``(B, K, 3)`` float64 in [0, 1] (white for grey canvases).
    """

    angle: Any
    scale: Any
    shear: Any
    brightness: Any
    colour: Any


def _draw(seed: int, stream: str, index: Any, k: int, bounds: tuple[float, float], integer: bool = False) -> Any:
    """``(B, K)`` float64 draws in ``bounds`` (whole numbers with ``integer``; the constant when the bounds meet)."""
    xp = _xp.namespace(index)
    low, high = bounds
    if integer:
        low_i, high_i = int(math.ceil(low)), int(math.floor(high))
        return _xp.f64(xp, rng.integers(seed, stream, index, (k,), low_i, max(low_i, high_i)))
    if low == high:
        return xp.full((index.shape[0], k), float(low), dtype=xp.float64, device=_xp.device_of(index))
    return rng.uniform(seed, stream, index, (k,), low, high)


def _schedule(xp: Any, start: Any, num_frames: int) -> Any:
    """``(B, K)`` values held over ``num_frames`` frames: ``(B, T1, K)`` (a copy, writable)."""
    b, k = start.shape
    return _xp.broadcast_copy(xp, start[:, None], (b, num_frames, k))


def sample_appearance(spec: Spec, seed: int, index: Any, labels: Any, num_frames: int) -> Appearance:
    """Appearance schedules of sequences ``index (B,)`` with object labels ``(B, K)`` over ``num_frames`` frames."""
    xp = _xp.namespace(index)
    app = spec.appearance
    index = xp.astype(index, xp.int64)
    k = labels.shape[1]
    t = xp.reshape(xp.arange(num_frames, dtype=xp.float64, device=_xp.device_of(index)), (1, -1, 1))
    last = max(spec.frames - 1, 1)  # ramps reach their end value at the last frame

    rot = app.rotation
    angle0 = _draw(seed, "appearance.rotation.angle", index, k, rot.angle, rot.integer)
    if rot.hint:
        velocity = rot.hint_scale * _xp.f64(xp, xp.maximum(labels, xp.zeros_like(labels)))
    else:
        velocity = _draw(seed, "appearance.rotation.velocity", index, k, rot.velocity, rot.integer)
    angle = angle0[:, None] + velocity[:, None] * t
    if not rot.is_identity:
        angle = _xp.mod(xp, angle, 360.0)

    sc = app.scale
    s0 = _draw(seed, "appearance.scale.start", index, k, sc.start)
    if sc.mode == "constant":
        scale = _schedule(xp, s0, num_frames)
    else:
        s1 = _draw(seed, "appearance.scale.end", index, k, sc.end)
        if sc.mode == "ramp":
            scale = s0[:, None] + (s1 - s0)[:, None] * (t / last)
        else:
            period = _draw(seed, "appearance.scale.period", index, k, sc.period)
            if sc.random_phase:
                phase = rng.uniform(seed, "appearance.scale.phase", index, (k,))
            else:
                phase = xp.zeros_like(period)
            _, cos = rng.sincos_turns(t / period[:, None] + phase[:, None])
            scale = s0[:, None] + (s1 - s0)[:, None] * ((1.0 - cos) * 0.5)

    shear = _schedule(xp, _draw(seed, "appearance.shear", index, k, app.shear), num_frames)

    br = app.brightness
    b0 = _draw(seed, "appearance.brightness.start", index, k, br.start)
    if br.mode == "constant":
        brightness = _schedule(xp, b0, num_frames)
    else:
        b1 = _draw(seed, "appearance.brightness.end", index, k, br.end)
        if br.mode == "ramp":
            brightness = b0[:, None] + (b1 - b0)[:, None] * (t / last)
        else:
            rate = _draw(seed, "appearance.brightness.rate", index, k, br.rate)
            phase = rng.uniform(seed, "appearance.brightness.phase", index, (k,))
            turns = rate[:, None] * t + phase[:, None]
            if br.mode == "flicker":
                _, cos = rng.sincos_turns(turns)
                brightness = b0[:, None] + (b1 - b0)[:, None] * ((1.0 - cos) * 0.5)
            else:  # blink
                on = (turns - xp.floor(turns)) < br.duty
                brightness = xp.where(on, b0[:, None], b1[:, None])
    brightness = xp.maximum(brightness, xp.zeros_like(brightness))

    colour = sample_colours(spec, seed, index, k)
    return Appearance(angle=angle, scale=scale, shear=shear, brightness=brightness, colour=colour)


def sample_colours(spec: Spec, seed: int, index: Any, k: int) -> Any:
    """``(B, K, 3)`` float64 RGB in [0, 1] of each object."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    col = spec.appearance.colour
    if col.mode == "white":
        return xp.ones((index.shape[0], k, 3), dtype=xp.float64, device=dev)
    if col.mode == "palette":
        palette = xp.asarray(col.palette, dtype=xp.float64, device=dev) / 255.0
        choice = rng.integers(seed, "appearance.colour.palette", index, (k,), 0, len(col.palette) - 1)
        return palette[choice]
    hue = rng.uniform(seed, "appearance.colour.hue", index, (k,))
    sat = _draw(seed, "appearance.colour.saturation", index, k, col.saturation)
    val = _draw(seed, "appearance.colour.value", index, k, col.value)
    return hsv_to_rgb(hue, sat, val)


def hsv_to_rgb(h: Any, s: Any, v: Any) -> Any:
    """HSV in [0, 1] to RGB in [0, 1] (the usual sextant formula), ``(..., 3)``."""
    xp = _xp.namespace(h)
    h6 = h * 6.0
    i = xp.floor(h6)
    f = h6 - i
    p = v * (1.0 - s)
    q = v * (1.0 - s * f)
    t = v * (1.0 - s * (1.0 - f))
    sextant = _xp.mod(xp, i, 6.0)

    def choose(*options: Any) -> Any:
        out = options[-1]
        for n in range(len(options) - 2, -1, -1):
            out = xp.where(sextant == n, options[n], out)
        return out

    return xp.stack([choose(v, q, p, p, t, v), choose(t, v, v, q, p, p), choose(p, p, t, v, v, q)], axis=-1)


# -- matrices ------------------------------------------------------------------------------------------------------
def linear_part(angle: Any, scale: Any, shear: Any) -> Any:
    """``L = s R(angle) Sh(shear)``, ``(..., 2, 2)``: R counter-clockwise on screen (y down), Sh torchvision's
    x-shear ``[[1, -tan(shear)], [0, 1]]``."""
    xp = _xp.namespace(angle)
    angle, shear = _xp.f64(xp, angle), _xp.f64(xp, shear)
    sin, cos = rng.sincos_turns(angle / 360.0)
    ssin, scos = rng.sincos_turns(shear / 360.0)
    # tan only where some shear is nonzero (an exact 0.0 otherwise), selected rather than branched on: no host read.
    tan = xp.where(xp.any(shear != 0.0), ssin / scos, 0.0)
    # R = [[cos, sin], [-sin, cos]]; R @ [[1, -tan], [0, 1]] = [[cos, sin - cos tan], [-sin, cos + sin tan]]
    out = xp.empty((*cos.shape, 2, 2), dtype=xp.float64, device=_xp.device_of(cos))
    out[..., 0, 0] = scale * cos
    out[..., 0, 1] = scale * (sin - cos * tan)
    out[..., 1, 0] = scale * -sin
    out[..., 1, 1] = scale * (cos + sin * tan)
    return out


def place(linear: Any, topleft: Any, glyph_hw: tuple[int, int]) -> Any:
    """Forward matrices ``(..., 2, 3)`` of glyphs turned by ``linear (..., 2, 2)`` about their centre and placed
    with their untransformed box's top-left at ``topleft (..., 2)`` (x, y)."""
    xp = _xp.namespace(linear)
    h, w = glyph_hw
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    out = xp.empty((*linear.shape[:-2], 2, 3), dtype=xp.float64, device=_xp.device_of(linear))
    out[..., :, :2] = linear
    topleft = _xp.f64(xp, topleft)
    out[..., 0, 2] = (topleft[..., 0] + cx) - (linear[..., 0, 0] * cx + linear[..., 0, 1] * cy)
    out[..., 1, 2] = (topleft[..., 1] + cy) - (linear[..., 1, 0] * cx + linear[..., 1, 1] * cy)
    return out


def compose(outer: Any, inner: Any) -> Any:
    """``outer @ inner`` of 2x3 affine matrices ``(..., 2, 3)`` (broadcast)."""
    xp = _xp.namespace(outer, inner)
    shape = xp.broadcast_shapes(outer.shape, inner.shape)
    out = xp.empty(shape, dtype=xp.float64, device=_xp.device_of(outer))
    for i in range(2):
        for j in range(3):
            value = outer[..., i, 0] * inner[..., 0, j] + outer[..., i, 1] * inner[..., 1, j]
            out[..., i, j] = value + outer[..., i, 2] if j == 2 else value
    return out


def invert(matrix: Any) -> Any:
    """Inverse of forward 2x3 matrices ``(..., 2, 3)`` (canvas index -> glyph index), ``(..., 6)`` flattened as
    ``a, b, c, d, e, f`` with ``u = a x + b y + c``, ``v = d x + e y + f``."""
    xp = _xp.namespace(matrix)
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * d - b * c
    with _xp.quiet(xp):
        ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
        out = xp.empty((*matrix.shape[:-2], 6), dtype=xp.float64, device=_xp.device_of(matrix))
        out[..., 0] = ia
        out[..., 1] = ib
        out[..., 2] = -(ia * tx + ib * ty)
        out[..., 3] = ic
        out[..., 4] = id_
        out[..., 5] = -(ic * tx + id_ * ty)
    return out


def transformed_box(matrix: Any, rect: Any) -> Any:
    """Bounding box ``(..., 4)`` (xmin, ymin, xmax, ymax) of the rectangle ``rect (..., 4)`` (u0, v0, u1, v1 in glyph
    index coordinates) mapped by ``matrix (..., 2, 3)``."""
    xp = _xp.namespace(matrix, rect)
    us = xp.stack([rect[..., 0], rect[..., 2], rect[..., 0], rect[..., 2]], axis=-1)
    vs = xp.stack([rect[..., 1], rect[..., 1], rect[..., 3], rect[..., 3]], axis=-1)
    m = matrix[..., None, :, :]
    xs = m[..., 0, 0] * us + m[..., 0, 1] * vs + m[..., 0, 2]
    ys = m[..., 1, 0] * us + m[..., 1, 1] * vs + m[..., 1, 2]
    return xp.stack([xp.min(xs, axis=-1), xp.min(ys, axis=-1), xp.max(xs, axis=-1), xp.max(ys, axis=-1)], axis=-1)


def ink_extents(linear: Any, ink_box: Any, glyph_hw: tuple[int, int]) -> Any:
    """Pixel-edge box ``(..., 4)`` of the transformed ink rectangle relative to the glyph box's top-left:
    for ``linear`` = identity it is ``ink_box`` itself (x0, y0, x1, y1 with exclusive ends)."""
    xp = _xp.namespace(linear)
    rect = _xp.f64(xp, ink_box) - 0.5  # pixel edges in index coordinates: [x0 - 0.5, x1 - 0.5]
    batch = linear.shape[:-2]
    matrix = place(linear, xp.zeros((*batch, 2), dtype=xp.float64, device=_xp.device_of(linear)), glyph_hw)
    box = transformed_box(matrix, xp.broadcast_to(rect, (*batch, 4)))
    return box + 0.5


# -- the affine motion model (torch_moving_mnist) ----------------------------------------------------------------
def affine_step_params(spec: Spec, seed: int, index: Any, k: int, end: bool = False) -> dict[str, Any]:
    """The drawn step of each object, ``(B, K)`` each: angle (degrees, clockwise as torchvision), tx, ty (pixels),
    scale, shear (degrees); and ``place`` ``(B, K, 2)`` in [0, 1), the start placement. ``end``: the second draw
    of each parameter (where the schedules of ``rule="schedule"`` end), from streams of its own."""
    aff = spec.motion.affine
    tail = ".end" if end else ""
    return {
        "angle": _draw(seed, "motion.affine.angle" + tail, index, k, aff.angle),
        "tx": _draw(seed, "motion.affine.translate.x" + tail, index, k, aff.translate[0]),
        "ty": _draw(seed, "motion.affine.translate.y" + tail, index, k, aff.translate[1]),
        "scale": _draw(seed, "motion.affine.scale" + tail, index, k, aff.scale),
        "shear": _draw(seed, "motion.affine.shear" + tail, index, k, aff.shear),
        "place": rng.uniform(seed, "motion.affine.place", index, (k, 2)),
    }


def affine_step(spec: Spec, seed: int, index: Any, k: int) -> tuple[Any, Any]:
    """One step per object: ``(linear (B, K, 2, 2), translate (B, K, 2))`` with the step about the canvas centre
    ``x -> c + t + L (x - c)``, ``L`` built as torchvision's affine (angle clockwise, x-shear)."""
    xp = _xp.namespace(index)
    return _affine_step(xp, affine_step_params(spec, seed, index, k))


def _affine_step(xp: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    # torchvision: clockwise angle = our counter-clockwise -angle.
    linear = linear_part(-params["angle"], params["scale"], params["shear"])
    return linear, xp.stack([params["tx"], params["ty"]], axis=-1)


@dataclass(frozen=True)
class AffineFrame:
    """Sizes the ``affine`` model works in: glyph box (h, w), canvas (H, W), and each glyph's ink box ``(B, K, 4)``
    (for ``boundary="bounce"``)."""

    glyph_hw: tuple[int, int]
    canvas_hw: tuple[int, int]
    ink_box: Any


def affine_poses(spec: Spec, seed: int, index: Any, local: Any, num_frames: int, frame: AffineFrame) -> Any:
    """Forward matrices ``(B, T1, K, 2, 3)`` of the ``affine`` motion model: ``A_t = M^t P0 T(c) L_t T(-c)``.

    Args:
        local: ``(B, T1, K, 2, 2)`` per-frame linear part from the appearance schedules (turns about the glyph centre
            before the global motion; identity for the preset).
    """
    xp = _xp.namespace(local)
    dev = _xp.device_of(local)
    (h, w), (big_h, big_w) = frame.glyph_hw, frame.canvas_hw
    b, _, k = local.shape[:3]
    index = xp.astype(index, xp.int64)
    params = affine_step_params(spec, seed, index, k)
    pad = xp.asarray([float((big_w - w) // 2), float((big_h - h) // 2)], dtype=xp.float64, device=dev)
    if spec.motion.affine.placement == "centre":
        start = xp.broadcast_to(pad, (b, k, 2))  # the glyph padded to the canvas: its box's top-left
    else:
        offset = (2.0 * params["place"] - 1.0) * pad  # U(-pad, pad)
        room = xp.asarray([float(big_w - w), float(big_h - h)], dtype=xp.float64, device=dev)
        start = room / 2.0 + offset  # top-left of the glyph box
    centre = ((big_w - 1) / 2.0, (big_h - 1) / 2.0)
    eye = xp.broadcast_to(xp.eye(2, dtype=xp.float64, device=dev), (b, k, 2, 2))
    glob = place(eye, start, frame.glyph_hw)  # P0
    local_m = place(local, xp.zeros((*local.shape[:-2], 2), dtype=xp.float64, device=dev), frame.glyph_hw)
    rect = _xp.f64(xp, frame.ink_box) - 0.5
    if spec.motion.affine.rule == "schedule":
        end = affine_step_params(spec, seed, index, k, end=True)
        return _scheduled_poses(xp, spec, params, end, glob, local_m, num_frames, centre, frame.canvas_hw, rect)
    linear, translate = _affine_step(xp, params)  # the step is about the canvas centre

    def step_matrix(trans: Any) -> Any:
        return _about_centre(xp, linear, trans, centre)

    step = step_matrix(translate)
    bounce = spec.motion.boundary == "bounce"
    out = xp.empty((b, num_frames, k, 2, 3), dtype=xp.float64, device=dev)
    for t in range(num_frames):
        if t:
            glob = compose(step, glob)
        full = compose(glob, local_m[:, t])
        if bounce:
            glob, full, translate = _bounce_affine(xp, glob, full, local_m[:, t], translate, frame.canvas_hw, rect)
            step = step_matrix(translate)
        out[:, t, ...] = full
    return out


def _about_centre(xp: Any, linear: Any, trans: Any, centre: tuple[float, float]) -> Any:
    """Matrices ``(..., 2, 3)`` of ``x -> c + t + L (x - c)`` for ``linear (..., 2, 2)`` and ``trans (..., 2)``."""
    m = xp.empty((*linear.shape[:-2], 2, 3), dtype=xp.float64, device=_xp.device_of(linear))
    m[..., :2] = linear
    m[..., 0, 2] = centre[0] + trans[..., 0] - (linear[..., 0, 0] * centre[0] + linear[..., 0, 1] * centre[1])
    m[..., 1, 2] = centre[1] + trans[..., 1] - (linear[..., 1, 0] * centre[0] + linear[..., 1, 1] * centre[1])
    return m


def _scheduled_poses(
    xp: Any,
    spec: Spec,
    start: dict[str, Any],
    end: dict[str, Any],
    glob: Any,
    local_m: Any,
    num_frames: int,
    centre: tuple[float, float],
    canvas_hw: tuple[int, int],
    rect: Any,
) -> Any:
    """``rule="schedule"``: ``A_t = S_t P0 T(c) L_t T(-c)``, ``(B, T1, K, 2, 3)``, each parameter of ``S_t`` at
    ``a + t (b - a) / (T - 1)`` between its two draws (frames past T, with tracks, continue the line; a single
    frame holds ``a``). With ``boundary="bounce"`` each frame's ink box is shifted back onto the canvas."""
    span = max(spec.frames - 1, 1)
    ts = xp.asarray([float(t) for t in range(num_frames)], dtype=xp.float64, device=_xp.device_of(glob))
    ts = ts[None, :, None]

    def line(name: str) -> Any:  # (B, T1, K), in the origin's order of operations
        a, b = start[name][:, None, :], end[name][:, None, :]
        return ts * (b - a) / span + a

    params = {name: line(name) for name in ("angle", "tx", "ty", "scale", "shear")}
    linear, translate = _affine_step(xp, params)  # (B, T1, K, 2, 2), (B, T1, K, 2)
    full = compose(compose(_about_centre(xp, linear, translate, centre), glob[:, None]), local_m)
    if spec.motion.boundary != "bounce":
        return full
    big_h, big_w = canvas_hw
    box = transformed_box(full, rect[:, None]) + 0.5  # pixel edges
    full = xp.asarray(full, copy=True)
    for axis, size in ((0, big_w), (1, big_h)):
        lo, hi = box[..., axis], box[..., axis + 2]
        shift = xp.where(lo < 0, -lo, xp.where(hi > size, size - hi, 0.0))
        shift = xp.where(hi - lo > size, size / 2.0 - (lo + hi) / 2.0, shift)
        full[..., axis, 2] = xp.where(shift != 0.0, full[..., axis, 2] + shift, full[..., axis, 2])
    return full


def _bounce_affine(xp: Any, glob: Any, full: Any, local_t: Any, translate: Any, canvas_hw: tuple[int, int], rect):
    """``boundary="bounce"``: a glyph whose ink box leaves the canvas is shifted back inside and its translation
    reversed on that axis (a glyph larger than the canvas is centred). Shifts and recompositions are selected per
    element (a zero shift leaves every bit as it was), so there is no host read."""
    big_h, big_w = canvas_hw
    box = transformed_box(full, rect) + 0.5  # pixel edges
    shifts, flips = [], []
    for axis, size in ((0, big_w), (1, big_h)):
        lo, hi = box[..., axis], box[..., axis + 2]
        too_big = hi - lo > size
        s = xp.where(lo < 0, -lo, xp.where(hi > size, size - hi, 0.0))
        s = xp.where(too_big, size / 2.0 - (lo + hi) / 2.0, s)
        shifts.append(s)
        flips.append((s != 0.0) & ~too_big)
    shift, flip = xp.stack(shifts, axis=-1), xp.stack(flips, axis=-1)  # (B, K, 2)
    moved = shift != 0.0
    glob = xp.asarray(glob, copy=True)
    glob[..., :, 2] = xp.where(moved, glob[..., :, 2] + shift, glob[..., :, 2])
    full = xp.where(xp.any(moved, axis=-1)[..., None, None], compose(glob, local_t), full)
    return glob, full, xp.where(flip, -translate, translate)


def decompose(matrix: Any) -> tuple[Any, Any]:
    """Angle (degrees, counter-clockwise, in [0, 360)) and scale (sqrt |det|) of the linear part of ``matrix``."""
    xp = _xp.namespace(matrix)
    a, c = matrix[..., 0, 0], matrix[..., 1, 0]
    det = a * matrix[..., 1, 1] - matrix[..., 0, 1] * c
    angle = _xp.mod(xp, xp.atan2(-c, a) * (180.0 / math.pi), 360.0)
    return angle, xp.sqrt(xp.abs(det))
