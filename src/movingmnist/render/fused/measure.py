"""Measurements of the numba kernel: what each object owns once a frame is final (:func:`_measure`), and the forward
flow between frames (:func:`flow`, an entry of its own); the same numbers as ``general.render_objects_numpy`` and
``general.flow_numpy``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from .rows import _ROW, _WIDE_ROWS, _match_row
from .words import _LO32, _S32, _ZERO, _u


@njit(inline="always")
def _measure(canvas, outputs, at):
    """Sum of ``canvas.ownq`` and box of the pixels of ``canvas.inst`` owned by object k (code k + 1) of sequence b
    in frame t, ``at = (b, t, k)``, looked for inside its amodal box on the canvas, into ``outputs.seen[b, t, k]``
    and ``outputs.mbox[b, t, k]`` (left alone when there are none)."""
    b, t, k = at
    abox = outputs.abox
    seen = outputs.seen
    mbox = outputs.mbox
    inst_f = canvas.inst
    ownq = canvas.ownq
    w = canvas.w
    code = np.uint8(k + 1)
    xa = max(abox[b, t, k, 0], 0)
    xb = min(abox[b, t, k, 2], w)
    ya = max(abox[b, t, k, 1], 0)
    yb = min(abox[b, t, k, 3], canvas.h)
    n = xb - xa
    sx = 0
    bx0 = xb
    by0 = yb
    bx1 = -1
    by1 = -1
    for y in range(ya, yb):
        rb = _u(y * w + xa)
        lo = n
        hi = -1
        acc = 0
        if _WIDE_ROWS:  # a global: numba compiles one branch (see rows._WIDE_ROWS)
            # 32 pixels per step in masked vectors: rows are shorter than LLVM's vector loop, which never ran.
            # Owned pixels have ownq > 0 (owned means q > threshold >= 0), so summing those above 0 sums all.
            for c in range(0, n, _ROW):
                hit = _match_row(inst_f, rb + _u(c), ownq, rb + _u(c), min(_ROW, n - c), np.int64(k + 1),
                                 np.int64(0))
                bits = hit & _LO32
                acc += np.int64(hit >> _S32)
                if bits != _ZERO:
                    lo = min(lo, c + np.int64(trailing_zeros(bits)))
                    hi = max(hi, c + 63 - np.int64(leading_zeros(bits)))
        else:
            for i in range(n):  # branch-free: vectorised
                mine = inst_f[rb + _u(i)] == code
                acc += np.int64(ownq[rb + _u(i)]) if mine else 0
                lo = min(lo, i if mine else n)
                hi = max(hi, i if mine else -1)
        sx += acc
        if hi >= 0:
            bx0 = min(bx0, lo + xa)
            bx1 = max(bx1, hi + xa + 1)
            by0 = min(by0, y)
            by1 = y + 1
    seen[b, t, k] = sx
    if bx1 > 0:
        mbox[b, t, k, 0] = bx0
        mbox[b, t, k, 1] = by0
        mbox[b, t, k, 2] = bx1
        mbox[b, t, k, 3] = by1


@njit(cache=True, nogil=True)
def flow(inst, dmap, dmap_on, inv, fwd, d_pos, pan, out):
    """Forward flow into ``out (B, T - 1, H, W, 2)`` float32; see ``flow_numpy``."""
    b_n, tm1, h, w = out.shape[:4]
    for b in range(b_n):
        for t in range(tm1):
            pdx = -float(pan[b, t + 1, 0] - pan[b, t, 0])
            pdy = -float(pan[b, t + 1, 1] - pan[b, t, 1])
            for y in range(h):
                yf = float(y)
                for x in range(w):
                    xf = float(x)
                    o = inst[b, t, y, x]
                    if o > 0:
                        k = o - 1
                        u = inv[b, t, k, 0] * xf + inv[b, t, k, 1] * yf + inv[b, t, k, 2]
                        v = inv[b, t, k, 3] * xf + inv[b, t, k, 4] * yf + inv[b, t, k, 5]
                        nx = fwd[b, t + 1, k, 0, 0] * u + fwd[b, t + 1, k, 0, 1] * v + fwd[b, t + 1, k, 0, 2]
                        ny = fwd[b, t + 1, k, 1, 0] * u + fwd[b, t + 1, k, 1, 1] * v + fwd[b, t + 1, k, 1, 2]
                        out[b, t, y, x, 0] = nx - xf
                        out[b, t, y, x, 1] = ny - yf
                    elif dmap_on and dmap[b, t, y, x] >= 0:
                        n = dmap[b, t, y, x]
                        out[b, t, y, x, 0] = float(d_pos[b, t + 1, n, 0] - d_pos[b, t, n, 0])
                        out[b, t, y, x, 1] = float(d_pos[b, t + 1, n, 1] - d_pos[b, t, n, 1])
                    else:
                        out[b, t, y, x, 0] = pdx
                        out[b, t, y, x, 1] = pdy
