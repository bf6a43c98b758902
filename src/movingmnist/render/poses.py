"""What every general renderer draws from: poses in fixed point, integer gains and each object's pixel region.

Written once over the array namespace of the poses (numpy, or torch on any device); the only floating-point steps
of the general renderer are these IEEE operations, in this order, so the integer pixel arithmetic that follows
(:mod:`movingmnist.render.general`, the numba kernel, :mod:`movingmnist.render.torch_general`) gives the same bytes
on every backend.
"""

from __future__ import annotations

from typing import Any

from ..latents import xp as _xp

FRAC_BITS = 16  # fixed-point fraction bits of the inverse poses
_ONE = float(1 << FRAC_BITS)
_POSE_LIMIT = float(1 << 40)  # larger fixed-point coefficients (degenerate poses) draw nothing
_GAIN_LIMIT = float(1 << 15)  # brightness beyond this saturates anyway


def fixed_poses(inv: Any) -> tuple[Any, Any]:
    """Inverse poses ``(..., 6)`` float64 in 16.16 fixed point (int64, ``floor(x * 2**16 + 0.5)``), and where they
    are usable (finite, coefficients within 2**40); unusable poses are zeros and their objects are not drawn."""
    xp = _xp.namespace(inv)
    finite = xp.all(xp.isfinite(inv), axis=-1)
    scaled = xp.floor(xp.where(finite[..., None], inv, 0.0) * _ONE + 0.5)
    ok = finite & xp.all(xp.abs(scaled) <= _POSE_LIMIT, axis=-1)
    return xp.astype(xp.where(ok[..., None], scaled, 0.0), xp.int64), ok


def fixed_gains(bright: Any, colour: Any, channels: int) -> tuple[Any, Any]:
    """Grey gains ``(B, T, K)`` and channel gains ``(B, T, K, C)`` int64 (units of 2**-16) from brightness
    ``(B, T, K)`` and colour ``(B, K, 3)``."""
    xp = _xp.namespace(bright)
    grey = xp.astype(xp.floor(xp.clip(bright, 0.0, _GAIN_LIMIT) * _ONE + 0.5), xp.int64)
    per = bright[..., None] * colour[:, None, :, :channels]
    col = xp.astype(xp.floor(xp.clip(per, 0.0, _GAIN_LIMIT) * _ONE + 0.5), xp.int64)
    return grey, col


def support_rect(nzbox: Any, nearest: bool) -> Any:
    """Rectangle ``(..., 4)`` in glyph index coordinates outside which samples are zero."""
    xp = _xp.namespace(nzbox)
    box = _xp.f64(xp, nzbox)
    if nearest:
        return box - 0.5
    return box + xp.asarray([-1.0, -1.0, 0.0, 0.0], dtype=xp.float64, device=_xp.device_of(box))


def regions(matrix: Any, nzbox: Any, present: Any, nearest: bool, canvas_hw: tuple[int, int]) -> Any:
    """Integer pixel box ``(B, T, K, 4)`` (x0, y0, x1, y1 exclusive) holding every pixel whose sample lies in the
    support, one pixel of margin, capped to one canvas around the canvas. Empty (all 0) for absent or blank glyphs.

    The support rectangle's corners map to ``(a u + b v) + c``; rounding is monotonic, so the smallest (largest) of
    the four is ``(min(a u) + min(b v)) + c`` (max), which is what is computed (the same bits as mapping the corners,
    :func:`movingmnist.latents.appearance.transformed_box`, with far fewer operations)."""
    xp = _xp.namespace(matrix)
    big_h, big_w = canvas_hw
    rect = support_rect(nzbox, nearest)[:, None]  # (B, 1, K, 4)
    cols: list[Any] = [None] * 4
    with _xp.quiet(xp):
        for axis, size in ((0, big_w), (1, big_h)):
            pu0 = matrix[..., axis, 0] * rect[..., 0]
            pu1 = matrix[..., axis, 0] * rect[..., 2]
            pv0 = matrix[..., axis, 1] * rect[..., 1]
            pv1 = matrix[..., axis, 1] * rect[..., 3]
            shift = matrix[..., axis, 2]
            low = xp.floor((xp.minimum(pu0, pu1) + xp.minimum(pv0, pv1)) + shift) - 1
            high = xp.floor((xp.maximum(pu0, pu1) + xp.maximum(pv0, pv1)) + shift) + 2
            for col, value in ((axis, low), (axis + 2, high)):
                value = xp.clip(value, float(-size), float(2 * size))
                cols[col] = xp.where(xp.isnan(value), 0.0, value)
    out = xp.astype(xp.stack(cols, axis=-1), xp.int64)
    blank = (~present | (nzbox[..., 2] <= nzbox[..., 0]) | (nzbox[..., 3] <= nzbox[..., 1]))[:, None]
    empty = blank | (out[..., 2] <= out[..., 0]) | (out[..., 3] <= out[..., 1])
    return xp.where(empty[..., None], 0, out)
