"""The appearance schedules and affine poses of :mod:`movingmnist.appearance` in torch ops on any device.

Every function mirrors its numpy twin operation for operation (same float64 operations in the same order, the same
streams from :mod:`movingmnist.rng_torch`, sines and cosines from its polynomials), so angles, scales, shears,
brightness, colours and the 2x3 pose matrices are equal to numpy's bit for bit. Data-dependent branches of the
numpy code (``if shear.any()``, ``if shift.any()``) become element-wise selections that give the same bits without
reading anything back from the device.

Only :func:`decompose` (angle and scale of the ``affine`` model's composed matrices, reported in ``angles`` and
``scales``) goes through torch's ``atan2`` and ``sqrt``; on CPU these are faithfully but not correctly rounded
(vectorised), so a float64 value may differ from numpy's in its last bit. The float32 outputs are equal unless that
bit decides a float32 rounding (about one value in 2**29).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import rng_torch as rng
from .errors import require
from .spec import Spec

torch = require("torch", "torch", "the torch backend")

F64 = torch.float64


@dataclass(frozen=True)
class TorchAppearance:
    """:class:`movingmnist.appearance.Appearance` as float64 tensors: angle, scale, shear, brightness
    ``(B, T1, K)``, colour ``(B, K, 3)``."""

    angle: torch.Tensor
    scale: torch.Tensor
    shear: torch.Tensor
    brightness: torch.Tensor
    colour: torch.Tensor


def _draw(seed: int, stream: str, index: torch.Tensor, k: int, bounds, integer: bool = False) -> torch.Tensor:
    low, high = bounds
    if integer:
        low_i, high_i = int(math.ceil(low)), int(math.floor(high))
        return rng.integers(seed, stream, index, (k,), low_i, max(low_i, high_i)).to(F64)
    if low == high:
        return torch.full((int(index.shape[0]), k), float(low), dtype=F64, device=index.device)
    return rng.uniform(seed, stream, index, (k,), low, high)


def sample_appearance(
    spec: Spec, seed: int, index: torch.Tensor, labels: torch.Tensor, num_frames: int
) -> TorchAppearance:
    """Port of :func:`movingmnist.appearance.sample_appearance` (``labels (B, K)`` int on the device)."""
    app = spec.appearance
    index = index.to(torch.int64)
    dev = index.device
    b, k = labels.shape
    t = torch.arange(num_frames, dtype=F64, device=dev).reshape(1, -1, 1)
    last = max(spec.frames - 1, 1)

    rot = app.rotation
    angle0 = _draw(seed, "appearance.rotation.angle", index, k, rot.angle, rot.integer)
    if rot.hint:
        velocity = rot.hint_scale * torch.clamp_min(labels, 0).to(F64)
    else:
        velocity = _draw(seed, "appearance.rotation.velocity", index, k, rot.velocity, rot.integer)
    angle = angle0[:, None] + velocity[:, None] * t
    if not rot.is_identity:
        angle = rng.fmod_floor(angle, 360.0)

    sc = app.scale
    s0 = _draw(seed, "appearance.scale.start", index, k, sc.start)
    if sc.mode == "constant":
        scale = s0[:, None].expand(b, num_frames, k).clone()
    else:
        s1 = _draw(seed, "appearance.scale.end", index, k, sc.end)
        if sc.mode == "ramp":
            scale = s0[:, None] + (s1 - s0)[:, None] * (t / last)
        else:
            period = _draw(seed, "appearance.scale.period", index, k, sc.period)
            if sc.random_phase:
                phase = rng.uniform(seed, "appearance.scale.phase", index, (k,))
            else:
                phase = torch.zeros((b, k), dtype=F64, device=dev)
            _, cos = rng.sincos_turns(t / period[:, None] + phase[:, None])
            scale = s0[:, None] + (s1 - s0)[:, None] * ((1.0 - cos) * 0.5)

    shear = _draw(seed, "appearance.shear", index, k, app.shear)[:, None].expand(b, num_frames, k).contiguous()

    br = app.brightness
    b0 = _draw(seed, "appearance.brightness.start", index, k, br.start)
    if br.mode == "constant":
        brightness = b0[:, None].expand(b, num_frames, k).clone()
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
                on = (turns - torch.floor(turns)) < br.duty
                brightness = torch.where(on, b0[:, None], b1[:, None])
    brightness = torch.clamp_min(brightness, 0.0)

    colour = sample_colours(spec, seed, index, k)
    return TorchAppearance(angle=angle, scale=scale, shear=shear, brightness=brightness, colour=colour)


def sample_colours(spec: Spec, seed: int, index: torch.Tensor, k: int) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.sample_colours`: ``(B, K, 3)`` float64."""
    col = spec.appearance.colour
    b = int(index.shape[0])
    dev = index.device
    if col.mode == "white":
        return torch.ones((b, k, 3), dtype=F64, device=dev)
    if col.mode == "palette":
        palette = torch.tensor(col.palette, dtype=F64, device=dev) / 255.0
        choice = rng.integers(seed, "appearance.colour.palette", index, (k,), 0, len(col.palette) - 1)
        return palette[choice]
    hue = rng.uniform(seed, "appearance.colour.hue", index, (k,))
    sat = _draw(seed, "appearance.colour.saturation", index, k, col.saturation)
    val = _draw(seed, "appearance.colour.value", index, k, col.value)
    return hsv_to_rgb(hue, sat, val)


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.hsv_to_rgb`, ``(..., 3)``."""
    h6 = h * 6.0
    i = torch.floor(h6)
    f = h6 - i
    p = v * (1.0 - s)
    q = v * (1.0 - s * f)
    t = v * (1.0 - s * (1.0 - f))
    i = rng.fmod_floor(i, 6.0).to(torch.int64).unsqueeze(-1)

    def choose(*options: torch.Tensor) -> torch.Tensor:
        return torch.gather(torch.stack(options, dim=-1), -1, i).squeeze(-1)

    return torch.stack([choose(v, q, p, p, t, v), choose(t, v, v, q, p, p), choose(p, p, t, v, v, q)], dim=-1)


# -- matrices ------------------------------------------------------------------------------------------------------
def linear_part(angle: torch.Tensor, scale: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.linear_part`, ``(..., 2, 2)``."""
    angle = angle.to(F64)
    shear = shear.to(F64)
    sin, cos = rng.sincos_turns(angle / 360.0)
    ssin, scos = rng.sincos_turns(shear / 360.0)
    # numpy computes tan only when some shear is nonzero, else zeros: the same bits without a host read.
    tan = torch.where((shear != 0.0).any(), ssin / scos, torch.zeros((), dtype=F64, device=shear.device))
    out = torch.empty((*cos.shape, 2, 2), dtype=F64, device=cos.device)
    out[..., 0, 0] = scale * cos
    out[..., 0, 1] = scale * (sin - cos * tan)
    out[..., 1, 0] = scale * -sin
    out[..., 1, 1] = scale * (cos + sin * tan)
    return out


def place(linear: torch.Tensor, topleft: torch.Tensor, glyph_hw: tuple[int, int]) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.place`, ``(..., 2, 3)``."""
    h, w = glyph_hw
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    out = torch.empty((*linear.shape[:-2], 2, 3), dtype=F64, device=linear.device)
    out[..., :, :2] = linear
    topleft = topleft.to(F64)
    out[..., 0, 2] = (topleft[..., 0] + cx) - (linear[..., 0, 0] * cx + linear[..., 0, 1] * cy)
    out[..., 1, 2] = (topleft[..., 1] + cy) - (linear[..., 1, 0] * cx + linear[..., 1, 1] * cy)
    return out


def compose(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.compose`: ``outer @ inner`` of 2x3 matrices (broadcast)."""
    shape = torch.broadcast_shapes(outer.shape, inner.shape)
    out = torch.empty(shape, dtype=F64, device=outer.device)
    for i in range(2):
        for j in range(3):
            value = outer[..., i, 0] * inner[..., 0, j] + outer[..., i, 1] * inner[..., 1, j]
            out[..., i, j] = value + outer[..., i, 2] if j == 2 else value
    return out


def invert(matrix: torch.Tensor) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.invert`: ``(..., 6)`` = a, b, c, d, e, f."""
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    out = torch.empty((*matrix.shape[:-2], 6), dtype=F64, device=matrix.device)
    out[..., 0] = ia
    out[..., 1] = ib
    out[..., 2] = -(ia * tx + ib * ty)
    out[..., 3] = ic
    out[..., 4] = id_
    out[..., 5] = -(ic * tx + id_ * ty)
    return out


def transformed_box(matrix: torch.Tensor, rect: torch.Tensor) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.transformed_box`, ``(..., 4)``."""
    us = torch.stack([rect[..., 0], rect[..., 2], rect[..., 0], rect[..., 2]], dim=-1)
    vs = torch.stack([rect[..., 1], rect[..., 1], rect[..., 3], rect[..., 3]], dim=-1)
    m = matrix[..., None, :, :]
    xs = m[..., 0, 0] * us + m[..., 0, 1] * vs + m[..., 0, 2]
    ys = m[..., 1, 0] * us + m[..., 1, 1] * vs + m[..., 1, 2]
    return torch.stack([xs.amin(-1), ys.amin(-1), xs.amax(-1), ys.amax(-1)], dim=-1)


def ink_extents(linear: torch.Tensor, ink_box: torch.Tensor, glyph_hw: tuple[int, int]) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.ink_extents`, ``(..., 4)``."""
    rect = ink_box.to(F64) - 0.5
    matrix = place(linear, torch.zeros((*linear.shape[:-2], 2), dtype=F64, device=linear.device), glyph_hw)
    box = transformed_box(matrix, rect.expand(*linear.shape[:-2], 4))
    return box + 0.5


def is_identity_linear(linear: torch.Tensor) -> torch.Tensor:
    """0-dim bool tensor: whether every linear part is the identity (stays on the device)."""
    return (
        (linear[..., 0, 0] == 1.0).all()
        & (linear[..., 1, 1] == 1.0).all()
        & (linear[..., 0, 1] == 0.0).all()
        & (linear[..., 1, 0] == 0.0).all()
    )


# -- the affine motion model ---------------------------------------------------------------------------------------
def affine_step_params(spec: Spec, seed: int, index: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Port of :func:`movingmnist.appearance.affine_step_params`."""
    aff = spec.motion.affine
    index = index.to(torch.int64)
    return {
        "angle": _draw(seed, "motion.affine.angle", index, k, aff.angle),
        "tx": _draw(seed, "motion.affine.translate.x", index, k, aff.translate[0]),
        "ty": _draw(seed, "motion.affine.translate.y", index, k, aff.translate[1]),
        "scale": _draw(seed, "motion.affine.scale", index, k, aff.scale),
        "shear": _draw(seed, "motion.affine.shear", index, k, aff.shear),
        "place": rng.uniform(seed, "motion.affine.place", index, (k, 2)),
    }


def affine_poses(
    spec: Spec,
    seed: int,
    index: torch.Tensor,
    local: torch.Tensor,
    num_frames: int,
    glyph_hw: tuple[int, int],
    canvas_hw: tuple[int, int],
    ink_box: torch.Tensor,
) -> torch.Tensor:
    """Port of :func:`movingmnist.appearance.affine_poses`: forward matrices ``(B, T1, K, 2, 3)``."""
    h, w = glyph_hw
    big_h, big_w = canvas_hw
    b, _, k = local.shape[:3]
    dev = local.device
    index = index.to(torch.int64)
    params = affine_step_params(spec, seed, index, k)
    pad = torch.tensor([(big_w - w) // 2, (big_h - h) // 2], dtype=F64, device=dev)
    offset = (2.0 * params["place"] - 1.0) * pad
    start = (torch.tensor([big_w - w, big_h - h], dtype=F64, device=dev) / 2.0) + offset
    linear = linear_part(-params["angle"], params["scale"], params["shear"])
    translate = torch.stack([params["tx"], params["ty"]], dim=-1)
    centre = ((big_w - 1) / 2.0, (big_h - 1) / 2.0)

    def step_matrix(trans: torch.Tensor) -> torch.Tensor:
        m = torch.empty((b, k, 2, 3), dtype=F64, device=dev)
        m[..., :2] = linear
        m[..., 0, 2] = centre[0] + trans[..., 0] - (linear[..., 0, 0] * centre[0] + linear[..., 0, 1] * centre[1])
        m[..., 1, 2] = centre[1] + trans[..., 1] - (linear[..., 1, 0] * centre[0] + linear[..., 1, 1] * centre[1])
        return m

    step = step_matrix(translate)
    eye = torch.eye(2, dtype=F64, device=dev).expand(b, k, 2, 2)
    glob = place(eye, start, glyph_hw)
    local_m = place(local, torch.zeros((*local.shape[:-2], 2), dtype=F64, device=dev), glyph_hw)
    rect = ink_box.to(F64) - 0.5
    bounce = spec.motion.boundary == "bounce"
    out = torch.empty((b, num_frames, k, 2, 3), dtype=F64, device=dev)
    zero = torch.zeros((), dtype=F64, device=dev)
    for t in range(num_frames):
        if t:
            glob = compose(step, glob)
        full = compose(glob, local_m[:, t])
        if bounce:
            box = transformed_box(full, rect) + 0.5
            shift = torch.zeros((b, k, 2), dtype=F64, device=dev)
            flip = torch.zeros((b, k, 2), dtype=torch.bool, device=dev)
            for axis, size in ((0, big_w), (1, big_h)):
                lo, hi = box[..., axis], box[..., axis + 2]
                too_big = hi - lo > size
                s = torch.where(lo < 0, -lo, torch.where(hi > size, size - hi, zero))
                s = torch.where(too_big, size / 2.0 - (lo + hi) / 2.0, s)
                shift[..., axis] = s
                flip[..., axis] = (s != 0.0) & ~too_big
            # numpy shifts (and recomposes) only when some shift is nonzero; a zero shift leaves every bit as it
            # was, so select per element instead of branching on a host read.
            moved = shift != 0.0  # (B, K, 2)
            glob = glob.clone()
            glob[..., :, 2] = torch.where(moved, glob[..., :, 2] + shift, glob[..., :, 2])
            full = torch.where(moved.any(dim=-1)[..., None, None], compose(glob, local_m[:, t]), full)
            translate = torch.where(flip, -translate, translate)
            step = step_matrix(translate)
        out[:, t] = full
    return out


def decompose(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Port of :func:`movingmnist.appearance.decompose` (see the module notes on ``atan2`` and ``sqrt``)."""
    a, c = matrix[..., 0, 0], matrix[..., 1, 0]
    det = a * matrix[..., 1, 1] - matrix[..., 0, 1] * c
    angle = rng.fmod_floor(torch.rad2deg(torch.atan2(-c, a)), 360.0)
    return angle, torch.sqrt(torch.abs(det))
