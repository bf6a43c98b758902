"""The ``path`` motion model: parametric curves about a drifting centre (docs/scenes.md, "Paths").

Each object follows ``centre(t) + offset(t)``. The centre starts inside the walls and moves with the drift velocity
(``motion.speed`` / ``motion.direction``); the offset is the curve of the object's family. The families and their
parameter ranges follow the detection generator ``detection-moving-mnist`` (its ``NonLinearTrajectory``), with the
curves written in closed form: frame t's position is a function of t, not a sum of the previous offsets.

Written once over the array namespace (numpy, or torch on any device: the same bits): every draw comes from
:mod:`movingmnist.latents.rng`, sines and cosines from :func:`rng.sincos_turns` (no libm), powers by repeated
multiplication, integers cast to float64 before they meet floats.
"""

from __future__ import annotations

from typing import Any

from ..spec import PATH_FAMILIES, MotionSpec
from . import rng
from . import xp as _xp

#: Fixed constants of the reference generator (docs/scenes.md lists them).
SPIRAL_GROWTH = 0.05  # radius A (1 + 0.05 t)
QUADRATIC = 0.15  # polynomial: q t^2 per axis, q uniform in +-0.15 px / frame^2
CUBIC_A, CUBIC_B, CUBIC_SCALE = 0.001, 0.05, (0.5, 2.0)  # a (s t)^3 + b (s t)^2
EXP_BASE, EXP_SCALE = (1.01, 1.1), (0.5, 2.0)  # scale (base^t - 1)
HYP_SCALE, HYP_SHIFT = (5.0, 15.0), (0.5, 5.0)  # +-scale (1 / shift - 1 / (t + shift))
DIAGONAL = 0.7071  # the reference's diagonal weight

#: Columns of the per-object uniform draw ``motion.path.params (K, 10)`` (each in [0, 1)).
_A, _R1, _R2, _FREQ, _PHASE, _ROT, _G1, _G2, _AXIS, _BRANCH = range(10)
_LIMIT = 1e9  # offsets are clipped here (exponential growth would overflow to inf over thousands of frames)


def family_codes(motion: MotionSpec, seed: int, index: Any, k: int, labels: Any | None) -> Any:
    """``(B, K)`` int64: each object's family as a position in :data:`PATH_FAMILIES`.

    ``choose="object"``: uniform among ``motion.path.families`` (stream ``motion.path.family``); ``"class"``: class
    c gets ``families[c % len(families)]`` (absent objects, label -1, get ``families[0]``).
    """
    xp = _xp.namespace(index)
    families = motion.path.families
    n = len(families)
    if motion.path.choose == "class":
        if labels is None:
            raise ValueError("motion.path.choose='class' needs the class labels (B, K): pass labels=")
        labels = xp.astype(labels, xp.int64)
        pick = xp.where(labels >= 0, labels, 0) % n
    else:
        pick = rng.integers(seed, "motion.path.family", index, (k,), 0, n - 1)
    code = xp.zeros_like(pick)
    for j, name in enumerate(families):
        code = xp.where(pick == j, PATH_FAMILIES.index(name), code)
    return code


def _lerp(u: Any, bounds: tuple[float, float]) -> Any:
    return bounds[0] + u * (bounds[1] - bounds[0])


def _fold(xp: Any, q: Any, span: Any) -> Any:
    """``q`` reflected into ``[0, span]`` (triangle wave of period 2 span); 0 where the span is 0."""
    with _xp.quiet(xp):
        m = _xp.mod(xp, q, 2.0 * span)
        return xp.where(span > 0, xp.minimum(m, 2.0 * span - m), 0.0)


def _curves(xp: Any, motion: MotionSpec, code: Any, u: Any, t: Any, num_frames: int) -> tuple[Any, Any, Any, Any]:
    """Offsets ``ox, oy (B, T, K)`` of every object and the extents ``ex, ey (B, 1, K)`` of the bounded curves (the
    largest |offset| per axis at any time; 0 for the unbounded ones, which the bounce folds instead).

    ``u (B, 1, K, 10)``: the object's uniform draws; ``t (1, T, 1)`` float64 frames.
    """
    p = motion.path

    def col(i: int) -> Any:
        return u[..., i]

    amp, r1, r2 = _lerp(col(_A), p.amplitude), _lerp(col(_R1), p.radius), _lerp(col(_R2), p.radius)
    freq = _lerp(col(_FREQ), (1.0 / p.period[1], 1.0 / p.period[0]))  # turns per frame
    theta = freq * t + col(_PHASE)  # turns
    sin, cos = rng.sincos_turns(theta)
    sin2, _ = rng.sincos_turns(2.0 * theta)
    rs, rc = rng.sincos_turns(0.25 * col(_ROT))  # rotation in [0, 1/4) turn: rs, rc >= 0
    zero = xp.zeros_like(theta)
    none = xp.zeros_like(amp)
    zig = 4.0 * xp.abs(_xp.mod(xp, theta, 1.0) - 0.5) - 1.0  # triangle wave in [-1, 1], period 1 turn
    axis3 = xp.floor(col(_AXIS) * 3.0)  # zigzag / cubic: 0 x, 1 y, 2 diagonal
    axis4 = xp.floor(col(_AXIS) * 4.0)  # exponential: 0 right, 1 left, 2 up, 3 down
    # Array operands, not two Python floats: torch.where of two scalars is float32.
    diagonal, one = xp.full_like(amp, DIAGONAL), xp.ones_like(amp)
    along_x = xp.where(axis3 == 0, one, xp.where(axis3 == 1, 0.0, diagonal))
    along_y = xp.where(axis3 == 0, 0.0, xp.where(axis3 == 1, one, diagonal))
    sign = xp.where(col(_BRANCH) < 0.5, one, -one)

    spiral = amp * (1.0 + SPIRAL_GROWTH * t)
    fx, fy = r1 * sin, r2 * sin2  # figure-8 before rotation
    lx, ly = r1 * cos, r2 * sin  # ellipse before rotation
    ext_rot_x, ext_rot_y = rc * r1 + rs * r2, rs * r1 + rc * r2
    q_x, q_y = _lerp(col(_G1), (-QUADRATIC, QUADRATIC)), _lerp(col(_G2), (-QUADRATIC, QUADRATIC))
    st = _lerp(col(_ROT), CUBIC_SCALE) * t
    cubic = _lerp(col(_G1), (-CUBIC_A, CUBIC_A)) * st * st * st + _lerp(col(_G2), (-CUBIC_B, CUBIC_B)) * st * st
    # base^t by repeated multiplication (no pow): the same bits on every backend.
    base = _lerp(col(_G1), EXP_BASE)
    powers = [xp.ones_like(base)]
    for _ in range(1, num_frames):
        powers.append(powers[-1] * base)
    exp = _lerp(col(_G2), EXP_SCALE) * (xp.concat(powers, axis=1) - 1.0)
    exp = xp.where((axis4 == 1) | (axis4 == 2), -exp, exp)
    exp_on_x = axis4 <= 1
    hyp_s, hyp_shift = _lerp(col(_G1), HYP_SCALE), _lerp(col(_G2), HYP_SHIFT)
    hyp = sign * hyp_s * (1.0 / hyp_shift - 1.0 / (t + hyp_shift))
    hyp_ext = hyp_s / hyp_shift
    hyp_on_x = axis3 == 0

    # family name -> (ox, oy, ex, ey)
    table = {
        "sine": (zero, amp * sin, none, amp),
        "polynomial": (q_x * t * t, q_y * t * t, none, none),
        "circle": (r1 * cos, r1 * sin, r1, r1),
        "spiral": (spiral * cos, spiral * sin, none, none),
        "figure8": (rc * fx - rs * fy, rs * fx + rc * fy, ext_rot_x, ext_rot_y),
        "ellipse": (rc * lx - rs * ly, rs * lx + rc * ly, ext_rot_x, ext_rot_y),
        "cubic": (along_x * cubic, along_y * cubic, none, none),
        "zigzag": (along_y * amp * zig, along_x * amp * zig, along_y * amp, along_x * amp),
        "exponential": (xp.where(exp_on_x, exp, 0.0), xp.where(exp_on_x, 0.0, exp), none, none),
        "hyperbolic": (
            xp.where(hyp_on_x, hyp, 0.0),
            xp.where(hyp_on_x, 0.0, hyp),
            xp.where(hyp_on_x, hyp_ext, 0.0),
            xp.where(hyp_on_x, 0.0, hyp_ext),
        ),
        "linear": (zero, zero, none, none),
    }
    ox, oy, ex, ey = zero, zero, none, none
    for name, (fx_, fy_, ex_, ey_) in table.items():
        mine = code == PATH_FAMILIES.index(name)
        ox, oy = xp.where(mine, fx_, ox), xp.where(mine, fy_, oy)
        ex, ey = xp.where(mine, ex_, ex), xp.where(mine, ey_, ey)
    ox = xp.where(ox > _LIMIT, _LIMIT, xp.where(ox < -_LIMIT, -_LIMIT, ox))
    oy = xp.where(oy > _LIMIT, _LIMIT, xp.where(oy < -_LIMIT, -_LIMIT, oy))
    return ox, oy, ex, ey


def path_positions(
    motion: MotionSpec,
    seed: int,
    index: Any,
    num_frames: int,
    walls: Any,
    subpixel: bool = False,
    *,
    labels: Any | None = None,
    polar_velocity: Any = None,
) -> Any:
    """Top-left positions ``(B, T, K, 2)`` (x, y) of ``motion.model="path"``.

    Args:
        walls: :class:`~movingmnist.latents.motion.Walls` with ``lo, hi (B, K, 2)``.
        labels: ``(B, K)`` class labels (-1 absent); needed by ``motion.path.choose="class"``.
        polar_velocity: the motion module's ``(motion, seed, index, k, span, unit) -> (B, K, 2)`` velocity draw.

    Returns:
        int64 whole pixels (rounded), or float64 with ``subpixel``.
    """
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    lo, hi = walls.lo, walls.hi
    k = lo.shape[1]
    span = hi - lo
    code = family_codes(motion, seed, index, k, labels)[:, None, :]  # (B, 1, K)
    params = rng.uniform(seed, "motion.path.params", index, (k, 10))[:, None]  # (B, 1, K, 10)
    t = xp.reshape(xp.arange(num_frames, dtype=xp.float64, device=dev), (1, -1, 1))
    ox, oy, ex, ey = _curves(xp, motion, code, params, t, num_frames)
    offset = xp.stack([ox, oy], axis=-1)  # (B, T, K, 2)
    extent = xp.stack([ex, ey], axis=-1)[:, 0]  # (B, K, 2)
    v = polar_velocity(motion, seed, index, k, span, "px")[:, None]  # (B, 1, K, 2)
    u = rng.uniform(seed, "motion.start", index, (k, 2))
    tt = t[..., None]  # (1, T, 1, 1)
    if motion.path.walls == "none":
        pos = (lo + span * u)[:, None] + v * tt + offset
        (h, w), (big_h, big_w) = walls.glyph_hw, walls.canvas_hw
        size = xp.asarray([float(w), float(h)], dtype=xp.float64, device=dev)
        canvas = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)
        if not subpixel:
            pos = xp.round(pos)
        # Beyond one glyph off the canvas nothing is visible; clipping keeps the renderer's padding bounded.
        return xp.minimum(xp.maximum(pos, -size), canvas)
    # bounce: the centre moves between the walls moved in by the curve's extent (met in the middle when the curve
    # is wider than the room), then anything still outside the walls is folded back in.
    middle = (lo + hi) / 2.0
    lo_c, hi_c = xp.minimum(lo + extent, middle), xp.maximum(hi - extent, middle)
    room = hi_c - lo_c
    centre = lo_c[:, None] + _fold(xp, (room * u)[:, None] + v * tt, room[:, None])
    pos = centre + offset
    lo4, span4 = lo[:, None], span[:, None]
    outside = (pos < lo4) | (pos > hi[:, None])
    pos = xp.where(outside, lo4 + _fold(xp, pos - lo4, span4), pos)
    if subpixel:
        return pos
    # Rounding cannot leave the walls: lo and hi are whole pixels for bounce_on=box; for ink they are too.
    return xp.astype(xp.round(pos), xp.int64)
