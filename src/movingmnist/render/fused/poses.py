"""Each object's inverse pose, its pose in fixed point and its pixel region, in one pass over ``(B, T, K)``: the same
bits as ``latents.appearance.invert``, ``render.poses.fixed_poses`` and ``render.poses.regions`` (with the regions of
unusable poses emptied), which numpy computes in some forty whole-array steps over small arrays.

The same IEEE operations in the same order (numba neither reassociates nor fuses multiply-adds without ``fastmath``;
``error_model="numpy"`` makes a zero determinant give infinities, as numpy does, instead of raising).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ONE = float(1 << 16)
_POSE_LIMIT = float(1 << 40)


@njit(inline="always")
def _min(a, b):
    """``np.minimum`` of two floats (a NaN wins; which zero wins does not matter here: sums with it are floored)."""
    if a != a or b != b:
        return a + b
    return a if a < b else b


@njit(inline="always")
def _max(a, b):
    """``np.maximum`` of two floats, as :func:`_min`."""
    if a != a or b != b:
        return a + b
    return a if a > b else b


@njit(inline="always")
def _scaled(coef):
    """A coefficient in 16.16 fixed point, still a float (``floor(x * 2**16 + 0.5)``): NaN or infinite for a
    coefficient that is not finite, so the limit test fails for it."""
    return np.floor(coef * _ONE + 0.5)


@njit(inline="always")
def _edge(value, size):
    """A region edge as ``regions`` makes it: clipped to ``[-size, 2 size]``, NaN to 0, as an integer."""
    if value != value:
        return np.int64(0)
    return np.int64(min(max(value, float(-size)), float(2 * size)))


@njit(inline="always")
def _extent(m0, m1, shift, r0, r1, r2, r3):
    """The low and high pixel edges along one canvas axis (row ``(m0, m1, shift)`` of the forward pose) of the
    support rectangle ``(r0, r1, r2, r3)``: rounding is monotonic, so the corners' extremes are the sums of the
    products' extremes."""
    pu0, pu1, pv0, pv1 = m0 * r0, m0 * r2, m1 * r1, m1 * r3
    low = np.floor((_min(pu0, pu1) + _min(pv0, pv1)) + shift) - 1
    high = np.floor((_max(pu0, pu1) + _max(pv0, pv1)) + shift) + 2
    return low, high


@njit(cache=True, nogil=True, error_model="numpy")
def poses(fwd, nzbox, present, nearest, big_h, big_w, inv, fix, region):
    """From forward poses ``fwd (B, T, K, 2, 3)`` float64, the glyphs' nonzero boxes ``nzbox (B, K, 4)`` and
    ``present (B, K)``: ``inv (B, T, K, 6)`` float64 (the inverse poses), ``fix (B, T, K, 6)`` int64 (16.16 fixed
    point; zeros where unusable: not finite, or a coefficient beyond 2**40) and ``region (B, T, K, 4)`` int64
    (x0, y0, x1, y1; zeros where empty, blank or unusable)."""
    b_n, t_n, k_n = fwd.shape[:3]
    for b in range(b_n):
        for k in range(k_n):
            x0, y0, x1, y1 = nzbox[b, k, 0], nzbox[b, k, 1], nzbox[b, k, 2], nzbox[b, k, 3]
            blank = not present[b, k] or x1 <= x0 or y1 <= y0
            if nearest:  # the support rectangle (render.poses.support_rect)
                r0, r1, r2, r3 = float(x0) - 0.5, float(y0) - 0.5, float(x1) - 0.5, float(y1) - 0.5
            else:
                r0, r1, r2, r3 = float(x0) + -1.0, float(y0) + -1.0, float(x1) + 0.0, float(y1) + 0.0
            for t in range(t_n):
                a, bb, tx = fwd[b, t, k, 0, 0], fwd[b, t, k, 0, 1], fwd[b, t, k, 0, 2]
                c, d, ty = fwd[b, t, k, 1, 0], fwd[b, t, k, 1, 1], fwd[b, t, k, 1, 2]
                det = a * d - bb * c
                ia, ib, ic, id_ = d / det, -bb / det, -c / det, a / det
                ic_, if_ = -(ia * tx + ib * ty), -(ic * tx + id_ * ty)
                inv[b, t, k, 0] = ia
                inv[b, t, k, 1] = ib
                inv[b, t, k, 2] = ic_
                inv[b, t, k, 3] = ic
                inv[b, t, k, 4] = id_
                inv[b, t, k, 5] = if_
                s0, s1, s2 = _scaled(ia), _scaled(ib), _scaled(ic_)
                s3, s4, s5 = _scaled(ic), _scaled(id_), _scaled(if_)
                # Usable: every coefficient finite (their scaled values then are) and within the limit.
                ok = (abs(s0) <= _POSE_LIMIT and abs(s1) <= _POSE_LIMIT and abs(s2) <= _POSE_LIMIT
                      and abs(s3) <= _POSE_LIMIT and abs(s4) <= _POSE_LIMIT and abs(s5) <= _POSE_LIMIT)
                fix[b, t, k, 0] = np.int64(s0) if ok else 0
                fix[b, t, k, 1] = np.int64(s1) if ok else 0
                fix[b, t, k, 2] = np.int64(s2) if ok else 0
                fix[b, t, k, 3] = np.int64(s3) if ok else 0
                fix[b, t, k, 4] = np.int64(s4) if ok else 0
                fix[b, t, k, 5] = np.int64(s5) if ok else 0
                lx, hx = _extent(a, bb, tx, r0, r1, r2, r3)
                ly, hy = _extent(c, d, ty, r0, r1, r2, r3)
                ex0, ey0, ex1, ey1 = _edge(lx, big_w), _edge(ly, big_h), _edge(hx, big_w), _edge(hy, big_h)
                empty = blank or not ok or ex1 <= ex0 or ey1 <= ey0
                region[b, t, k, 0] = 0 if empty else ex0
                region[b, t, k, 1] = 0 if empty else ey0
                region[b, t, k, 2] = 0 if empty else ex1
                region[b, t, k, 3] = 0 if empty else ey1
