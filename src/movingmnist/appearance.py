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
  one step about the canvas centre, built as ``torchvision.transforms.functional.affine`` builds it.

Sines and cosines come from :func:`movingmnist.rng.sincos_turns` so that any backend gets the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rng
from .spec import Spec


@dataclass(frozen=True)
class Appearance:
    """Per-frame appearance of every object, ``(B, T1, K)`` float64 each (T1 frames: T, or T + 1 with tracks).

    Attributes:
        angle: degrees, counter-clockwise. scale: factor. shear: x-shear in degrees. brightness: factor.
        colour: ``(B, K, 3)`` float64 in [0, 1] (white for grey canvases).
    """

    angle: np.ndarray
    scale: np.ndarray
    shear: np.ndarray
    brightness: np.ndarray
    colour: np.ndarray


def _draw(seed: int, stream: str, index: np.ndarray, k: int, bounds: tuple[float, float], integer: bool = False):
    low, high = bounds
    if integer:
        low_i, high_i = int(np.ceil(low)), int(np.floor(high))
        return rng.integers(seed, stream, index, (k,), low_i, max(low_i, high_i)).astype(np.float64)
    if low == high:
        return np.full((len(index), k), float(low))
    return rng.uniform(seed, stream, index, (k,), low, high)


def sample_appearance(spec: Spec, seed: int, index: np.ndarray, labels: np.ndarray, num_frames: int) -> Appearance:
    """Appearance schedules of sequences ``index (B,)`` with object labels ``(B, K)`` over ``num_frames`` frames."""
    app = spec.appearance
    index = np.asarray(index, dtype=np.int64)
    b, k = labels.shape
    t = np.arange(num_frames, dtype=np.float64).reshape(1, -1, 1)
    last = max(spec.frames - 1, 1)  # ramps reach their end value at the last frame

    rot = app.rotation
    angle0 = _draw(seed, "appearance.rotation.angle", index, k, rot.angle, rot.integer)
    if rot.hint:
        velocity = rot.hint_scale * np.maximum(labels, 0).astype(np.float64)
    else:
        velocity = _draw(seed, "appearance.rotation.velocity", index, k, rot.velocity, rot.integer)
    angle = angle0[:, None] + velocity[:, None] * t
    if not rot.is_identity:
        angle = np.mod(angle, 360.0)

    sc = app.scale
    s0 = _draw(seed, "appearance.scale.start", index, k, sc.start)
    if sc.mode == "constant":
        scale = np.broadcast_to(s0[:, None], (b, num_frames, k)).copy()
    else:
        s1 = _draw(seed, "appearance.scale.end", index, k, sc.end)
        if sc.mode == "ramp":
            scale = s0[:, None] + (s1 - s0)[:, None] * (t / last)
        else:
            period = _draw(seed, "appearance.scale.period", index, k, sc.period)
            phase = (
                rng.uniform(seed, "appearance.scale.phase", index, (k,)) if sc.random_phase else np.zeros((b, k))
            )
            _, cos = rng.sincos_turns(t / period[:, None] + phase[:, None])
            scale = s0[:, None] + (s1 - s0)[:, None] * ((1.0 - cos) * 0.5)

    shear = np.broadcast_to(_draw(seed, "appearance.shear", index, k, app.shear)[:, None], (b, num_frames, k))

    br = app.brightness
    b0 = _draw(seed, "appearance.brightness.start", index, k, br.start)
    if br.mode == "constant":
        brightness = np.broadcast_to(b0[:, None], (b, num_frames, k)).copy()
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
                on = (turns - np.floor(turns)) < br.duty
                brightness = np.where(on, b0[:, None], b1[:, None])
    brightness = np.maximum(brightness, 0.0)

    colour = sample_colours(spec, seed, index, k)
    return Appearance(angle=angle, scale=scale, shear=np.ascontiguousarray(shear), brightness=brightness, colour=colour)


def sample_colours(spec: Spec, seed: int, index: np.ndarray, k: int) -> np.ndarray:
    """``(B, K, 3)`` float64 RGB in [0, 1] of each object."""
    col = spec.appearance.colour
    b = len(index)
    if col.mode == "white":
        return np.ones((b, k, 3))
    if col.mode == "palette":
        palette = np.asarray(col.palette, dtype=np.float64) / 255.0
        choice = rng.integers(seed, "appearance.colour.palette", index, (k,), 0, len(palette) - 1)
        return palette[choice]
    hue = rng.uniform(seed, "appearance.colour.hue", index, (k,))
    sat = _draw(seed, "appearance.colour.saturation", index, k, col.saturation)
    val = _draw(seed, "appearance.colour.value", index, k, col.value)
    return hsv_to_rgb(hue, sat, val)


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV in [0, 1] to RGB in [0, 1] (the usual sextant formula), ``(..., 3)``."""
    h6 = h * 6.0
    i = np.floor(h6)
    f = h6 - i
    p = v * (1.0 - s)
    q = v * (1.0 - s * f)
    t = v * (1.0 - s * (1.0 - f))
    i = np.mod(i, 6).astype(np.int64)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    bl = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, bl], axis=-1)


# -- matrices ------------------------------------------------------------------------------------------------------
def linear_part(angle: np.ndarray, scale: np.ndarray, shear: np.ndarray) -> np.ndarray:
    """``L = s R(angle) Sh(shear)``, ``(..., 2, 2)``: R counter-clockwise on screen (y down), Sh torchvision's
    x-shear ``[[1, -tan(shear)], [0, 1]]``."""
    sin, cos = rng.sincos_turns(np.asarray(angle, dtype=np.float64) / 360.0)
    shear = np.asarray(shear, dtype=np.float64)
    if np.any(shear != 0.0):
        ssin, scos = rng.sincos_turns(shear / 360.0)
        tan = ssin / scos
    else:
        tan = np.zeros_like(shear)
    # R = [[cos, sin], [-sin, cos]]; R @ [[1, -tan], [0, 1]] = [[cos, sin - cos tan], [-sin, cos + sin tan]]
    out = np.empty((*np.shape(cos), 2, 2))
    out[..., 0, 0] = scale * cos
    out[..., 0, 1] = scale * (sin - cos * tan)
    out[..., 1, 0] = scale * -sin
    out[..., 1, 1] = scale * (cos + sin * tan)
    return out


def is_identity_linear(linear: np.ndarray) -> bool:
    return bool(
        (linear[..., 0, 0] == 1.0).all()
        and (linear[..., 1, 1] == 1.0).all()
        and (linear[..., 0, 1] == 0.0).all()
        and (linear[..., 1, 0] == 0.0).all()
    )


def place(linear: np.ndarray, topleft: np.ndarray, glyph_hw: tuple[int, int]) -> np.ndarray:
    """Forward matrices ``(..., 2, 3)`` of glyphs turned by ``linear (..., 2, 2)`` about their centre and placed
    with their untransformed box's top-left at ``topleft (..., 2)`` (x, y)."""
    h, w = glyph_hw
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    out = np.empty((*linear.shape[:-2], 2, 3))
    out[..., :, :2] = linear
    topleft = np.asarray(topleft, dtype=np.float64)
    out[..., 0, 2] = (topleft[..., 0] + cx) - (linear[..., 0, 0] * cx + linear[..., 0, 1] * cy)
    out[..., 1, 2] = (topleft[..., 1] + cy) - (linear[..., 1, 0] * cx + linear[..., 1, 1] * cy)
    return out


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer @ inner`` of 2x3 affine matrices ``(..., 2, 3)`` (broadcast)."""
    out = np.empty(np.broadcast_shapes(outer.shape, inner.shape))
    for i in range(2):
        for j in range(3):
            value = outer[..., i, 0] * inner[..., 0, j] + outer[..., i, 1] * inner[..., 1, j]
            out[..., i, j] = value + outer[..., i, 2] if j == 2 else value
    return out


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of forward 2x3 matrices ``(..., 2, 3)`` (canvas index -> glyph index), ``(..., 6)`` flattened as
    ``a, b, c, d, e, f`` with ``u = a x + b y + c``, ``v = d x + e y + f``."""
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * d - b * c
    with np.errstate(divide="ignore", invalid="ignore"):
        ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    out = np.empty((*matrix.shape[:-2], 6))
    out[..., 0] = ia
    out[..., 1] = ib
    out[..., 2] = -(ia * tx + ib * ty)
    out[..., 3] = ic
    out[..., 4] = id_
    out[..., 5] = -(ic * tx + id_ * ty)
    return out


def transformed_box(matrix: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """Bounding box ``(..., 4)`` (xmin, ymin, xmax, ymax) of the rectangle ``rect (..., 4)`` (u0, v0, u1, v1 in glyph
    index coordinates) mapped by ``matrix (..., 2, 3)``."""
    us = np.stack([rect[..., 0], rect[..., 2], rect[..., 0], rect[..., 2]], axis=-1)
    vs = np.stack([rect[..., 1], rect[..., 1], rect[..., 3], rect[..., 3]], axis=-1)
    m = matrix[..., None, :, :]
    xs = m[..., 0, 0] * us + m[..., 0, 1] * vs + m[..., 0, 2]
    ys = m[..., 1, 0] * us + m[..., 1, 1] * vs + m[..., 1, 2]
    return np.stack([xs.min(-1), ys.min(-1), xs.max(-1), ys.max(-1)], axis=-1)


def ink_extents(linear: np.ndarray, ink_box: np.ndarray, glyph_hw: tuple[int, int]) -> np.ndarray:
    """Pixel-edge box ``(..., 4)`` of the transformed ink rectangle relative to the glyph box's top-left:
    for ``linear`` = identity it is ``ink_box`` itself (x0, y0, x1, y1 with exclusive ends)."""
    rect = ink_box.astype(np.float64) - 0.5  # pixel edges in index coordinates: [x0 - 0.5, x1 - 0.5]
    matrix = place(linear, np.zeros(linear.shape[:-2] + (2,)), glyph_hw)
    box = transformed_box(matrix, np.broadcast_to(rect, linear.shape[:-2] + (4,)))
    return box + 0.5


# -- the affine motion model (torch_moving_mnist) ----------------------------------------------------------------
def affine_step_params(spec: Spec, seed: int, index: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The drawn step of each object, ``(B, K)`` each: angle (degrees, clockwise as torchvision), tx, ty (pixels),
    scale, shear (degrees); and ``offset`` ``(B, K, 2)``, the start placement relative to the centred glyph."""
    aff = spec.motion.affine
    index = np.asarray(index, dtype=np.int64)
    return {
        "angle": _draw(seed, "motion.affine.angle", index, k, aff.angle),
        "tx": _draw(seed, "motion.affine.translate.x", index, k, aff.translate[0]),
        "ty": _draw(seed, "motion.affine.translate.y", index, k, aff.translate[1]),
        "scale": _draw(seed, "motion.affine.scale", index, k, aff.scale),
        "shear": _draw(seed, "motion.affine.shear", index, k, aff.shear),
        "place": rng.uniform(seed, "motion.affine.place", index, (k, 2)),
    }


def affine_step(spec: Spec, seed: int, index: np.ndarray, k: int, canvas_hw: tuple[int, int]):
    """One step per object: ``(linear (B, K, 2, 2), translate (B, K, 2))`` with the step about the canvas centre
    ``x -> c + t + L (x - c)``, ``L`` built as torchvision's affine (angle clockwise, x-shear)."""
    p = affine_step_params(spec, seed, index, k)
    # torchvision: clockwise angle = our counter-clockwise -angle.
    linear = linear_part(-p["angle"], p["scale"], p["shear"])
    return linear, np.stack([p["tx"], p["ty"]], axis=-1)


def affine_poses(
    spec: Spec,
    seed: int,
    index: np.ndarray,
    local: np.ndarray,
    num_frames: int,
    glyph_hw: tuple[int, int],
    canvas_hw: tuple[int, int],
    ink_box: np.ndarray,
) -> np.ndarray:
    """Forward matrices ``(B, T1, K, 2, 3)`` of the ``affine`` motion model.

    Args:
        local: ``(B, T1, K, 2, 2)`` per-frame linear part from the appearance schedules (turns about the glyph centre
            before the global motion; identity for the preset).
        ink_box: ``(B, K, 4)`` ink box of each glyph (for ``boundary="bounce"``).
    """
    h, w = glyph_hw
    big_h, big_w = canvas_hw
    b, _, k = local.shape[:3]
    index = np.asarray(index, dtype=np.int64)
    pad = np.array([(big_w - w) // 2, (big_h - h) // 2], dtype=np.float64)
    offset = (2.0 * affine_step_params(spec, seed, index, k)["place"] - 1.0) * pad  # U(-pad, pad)
    start = (np.array([big_w - w, big_h - h], dtype=np.float64) / 2.0) + offset  # top-left of the glyph box
    linear, translate = affine_step(spec, seed, index, k, canvas_hw)
    centre = np.array([(big_w - 1) / 2.0, (big_h - 1) / 2.0])

    def step_matrix(trans: np.ndarray) -> np.ndarray:
        m = np.empty((b, k, 2, 3))
        m[..., :2] = linear
        m[..., 0, 2] = centre[0] + trans[..., 0] - (linear[..., 0, 0] * centre[0] + linear[..., 0, 1] * centre[1])
        m[..., 1, 2] = centre[1] + trans[..., 1] - (linear[..., 1, 0] * centre[0] + linear[..., 1, 1] * centre[1])
        return m

    step = step_matrix(translate)
    glob = place(np.broadcast_to(np.eye(2), (b, k, 2, 2)), start, glyph_hw)  # P0
    local_m = place(local, np.zeros(local.shape[:-2] + (2,)), glyph_hw)  # T(c) L T(-c)
    rect = ink_box.astype(np.float64) - 0.5
    bounce = spec.motion.boundary == "bounce"
    out = np.empty((b, num_frames, k, 2, 3))
    for t in range(num_frames):
        if t:
            glob = compose(step, glob)
        full = compose(glob, local_m[:, t])
        if bounce:
            box = transformed_box(full, rect) + np.array([0.5, 0.5, 0.5, 0.5])  # pixel edges
            shift = np.zeros((b, k, 2))
            flip = np.zeros((b, k, 2), dtype=bool)
            for axis, size in ((0, big_w), (1, big_h)):
                lo, hi = box[..., axis], box[..., axis + 2]
                too_big = hi - lo > size
                s = np.where(lo < 0, -lo, np.where(hi > size, size - hi, 0.0))
                s = np.where(too_big, size / 2.0 - (lo + hi) / 2.0, s)
                shift[..., axis] = s
                flip[..., axis] = (s != 0.0) & ~too_big
            if shift.any():
                glob = glob.copy()
                glob[..., :, 2] += shift
                full = compose(glob, local_m[:, t])
                translate = np.where(flip, -translate, translate)
                step = step_matrix(translate)
        out[:, t] = full
    return out


def decompose(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle (degrees, counter-clockwise, in [0, 360)) and scale (sqrt |det|) of the linear part of ``matrix``."""
    a, c = matrix[..., 0, 0], matrix[..., 1, 0]
    det = a * matrix[..., 1, 1] - matrix[..., 0, 1] * c
    angle = np.mod(np.degrees(np.arctan2(-c, a)), 360.0)
    return angle, np.sqrt(np.abs(det))
