"""The objects of the numba kernel: glyph tables, sampling, and each object drawn straight into the frame
(:func:`_draw_object`, the general case, and :func:`_draw_words`, the presets' word-wise compositing); the same bytes
as ``general.render_objects_numpy``.

Rows are visited over the exact span where the fixed-point sample point lies in the glyph's support, in explicit
vector code: eight bilinear samples per step (:func:`~movingmnist.render.fused.gathers._levels8`), sixteen
nearest ones in the presets' path (:func:`~movingmnist.render.fused.gathers._nearest16`).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from .gathers import _levels8, _nearest16
from .memory import _load8, _store8
from .rows import _ROW, _WIDE_ROWS, _composite_row_max, _composite_row_over
from .words import (
    _ALL,
    _B01,
    _FF,
    _HALF32,
    _LO32,
    _M8,
    _S3,
    _S16,
    _S32,
    _S48,
    _U255,
    _U256,
    _ZERO,
    _byte_sum,
    _ge_bytes,
    _nonzero_bytes,
    _span,
    _u,
)


@njit(inline="always")
def _glyph_table(sampler, objects, b, k):
    """Cell (j, i) of the padded glyph of slot k of sequence b (over its ink box: rows ``ny0 .. ny1``, columns
    ``nx0 .. nx1``) packs its 2x2 neighbourhood as ``g00 | g01 << 16 | g10 << 32 | g11 << 48`` at
    ``sampler.tabs[toff + j wp + i]``, ``toff = k tsize`` (one load per bilinear sample)."""
    tabs_f = sampler.tabs
    glyph_f = sampler.glyphs
    wp = sampler.wp
    toff = k * sampler.tsize
    goff = objects.gidx[b, k] * sampler.tsize
    nzbox = objects.nzbox
    nx0, ny0, nx1, ny1 = nzbox[b, k, 0], nzbox[b, k, 1], nzbox[b, k, 2], nzbox[b, k, 3]
    for j in range(ny0, ny1 + 1):
        r0 = goff + j * wp
        r1 = r0 + wp
        for i in range(nx0, nx1 + 1):
            tabs_f[toff + j * wp + i] = (
                np.uint64(glyph_f[r0 + i])
                | (np.uint64(glyph_f[r0 + i + 1]) << _S16)
                | (np.uint64(glyph_f[r1 + i]) << _S32)
                | (np.uint64(glyph_f[r1 + i + 1]) << _S48)
            )


@njit(inline="always")
def _sample(tabs_f, toff, wp, uu, vv, nearest):
    """S at the fixed-point point (uu, vv) given in padded-glyph units (the cell is ``(vv >> 16, uu >> 16)``), read
    from the slot's packed table (nearest: the low byte of the nearest cell, the glyph's own value)."""
    if nearest:
        half = np.int64(1) << 15
        return (tabs_f[_u(toff + ((vv + half) >> 16) * wp + ((uu + half) >> 16))] & _FF) << _S16
    quad = tabs_f[_u(toff + (vv >> 16) * wp + (uu >> 16))]
    fx = np.uint64((uu >> 8) & 255)
    fy = np.uint64((vv >> 8) & 255)
    pair = (_U256 - fx) * (quad & _M8) + fx * ((quad >> _S16) & _M8)
    return (_U256 - fy) * (pair & _LO32) + fy * (pair >> _S32)


@njit(inline="always")
def _level(s, gn):
    """``min(255, (S G + 2**31) >> 32)`` as int64."""
    qq = (s * gn + _HALF32) >> _S32
    return np.int64(255) if qq > _U255 else np.int64(qq)


@njit(inline="always")
def _support(nx0, ny0, nx1, ny1, nearest):
    """Open bounds ``(lo_u, hi_u, lo_v, hi_v)`` of the 16.16 sample points (before the one-cell shift into the
    padded glyph) whose sample can be nonzero, for the ink box ``(nx0, ny0, nx1, ny1)``."""
    if nearest:
        half = np.int64(1) << 15
        return (nx0 << 16) - half - 1, (nx1 << 16) - half, (ny0 << 16) - half - 1, (ny1 << 16) - half
    return (nx0 - 1) << 16, nx1 << 16, (ny0 - 1) << 16, ny1 << 16


_NEAREST, _NEED_TOTAL, _COLOUR, _OWNER, _SEMANTIC, _AMODAL = 1, 2, 4, 8, 16, 32


@njit(inline="always")
def _draw_object(sampler, objects, at, canvas, abox, flags, mode, threshold):
    """Object k of sequence b in frame t (``at = (b, t, k)``), straight into the canvas (and the max layer): sample,
    composite, take ownership; the box of its pixels above the threshold goes to ``abox[b, t, k]``. Returns the total
    ink.

    Rows are visited over the exact span where the fixed-point sample point lies in the glyph's support (integer
    bounds, no per-pixel test), 8 pixels at a time (bilinear: :func:`_levels8`), composited pixel by pixel (the
    general case; see :func:`_draw_words` for the presets'). ``flags``, ``mode`` and ``threshold`` may be constants
    at a call site, so that the branches on them fold away."""
    nearest = (flags & _NEAREST) != 0
    need_total = (flags & _NEED_TOTAL) != 0
    colour_on = (flags & _COLOUR) != 0
    track_owner = (flags & _OWNER) != 0
    sem_on = (flags & _SEMANTIC) != 0
    amask_on = (flags & _AMODAL) != 0
    b, t, k = at
    tabs_f, wp = sampler.tabs, sampler.wp
    toff = k * sampler.tsize
    fix, nzbox, gain, gain_c, region = objects.fix, objects.nzbox, objects.gain, objects.gain_c, objects.region
    label = objects.labels[b, k]
    frame_f, layer, ownq = canvas.frame, canvas.layer, canvas.ownq
    inst_f, sem_f, amask_f = canvas.inst, canvas.sem, canvas.amask
    h = canvas.h
    w = canvas.w
    hw = h * w
    c_n = frame_f.size // hw
    code = np.uint8(k + 1)
    fa, fb, fc = fix[b, t, k, 0], fix[b, t, k, 1], fix[b, t, k, 2]
    fd, fe, ff = fix[b, t, k, 3], fix[b, t, k, 4], fix[b, t, k, 5]
    one = np.int64(1) << 16
    lo_u, hi_u, lo_v, hi_v = _support(nzbox[b, k, 0], nzbox[b, k, 1], nzbox[b, k, 2], nzbox[b, k, 3], nearest)
    x0, y0, x1, y1 = region[b, t, k, 0], region[b, t, k, 1], region[b, t, k, 2], region[b, t, k, 3]
    gn = np.uint64(gain[b, t, k])
    if need_total:
        ry0, ry1, rx0, rx1 = y0, y1, x0, x1
    else:
        ry0, ry1, rx0, rx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    tot = 0
    bx0 = 1 << 40
    by0 = 1 << 40
    bx1 = -(1 << 40)
    by1 = -(1 << 40)
    for y in range(ry0, ry1):
        cu = fb * y + fc
        cv = fe * y + ff
        xa, xb = _span(fa, cu, lo_u, hi_u, rx0, rx1)
        xa, xb = _span(fd, cv, lo_v, hi_v, xa, xb)
        if xb <= xa:
            continue
        cu += one  # sample points in padded-glyph units from here on
        cv += one
        # Pixels off the canvas only count towards the total and the amodal box: segments 0 and 2.
        if 0 <= y < h:
            ca = min(max(xa, 0), xb)
            cb = max(min(xb, w), ca)
        else:
            ca = xb
            cb = xb
        row_base = y * w
        row_lo = 1 << 40
        row_hi = -(1 << 40)
        for seg in range(3):
            if seg == 0:
                sa, sb = xa, ca
            elif seg == 1:
                sa, sb = ca, cb
            else:
                sa, sb = cb, xb
            on = seg == 1
            for xc in range(sa, sb, 8):
                n = min(8, sb - xc)
                q8 = _ZERO
                if not nearest:
                    q8 = _levels8(tabs_f, toff, wp, (fa * xc + cu, fd * xc + cv), (fa, fd), gn, n)
                    if q8 == _ZERO:
                        continue
                p = _u(row_base + xc)
                for j in range(n):
                    x = xc + j
                    s = _ZERO
                    if nearest or (on and colour_on):
                        s = _sample(tabs_f, toff, wp, fa * x + cu, fd * x + cv, nearest)
                    if nearest:
                        q = _level(s, gn)
                    else:
                        q = np.int64((q8 >> _u(8 * j)) & _FF)
                    if q == 0:
                        continue
                    if q > threshold:
                        tot += q
                        row_lo = min(row_lo, x)
                        row_hi = x
                    if not on:
                        continue
                    pj = p + _u(j)
                    if mode == 0:
                        cur = np.int64(layer[pj])
                        owned = q >= cur and q > threshold
                        if q > cur:
                            layer[pj] = q
                    else:
                        owned = q > threshold
                    if colour_on:
                        for ch in range(c_n):
                            qc = _level(s, np.uint64(gain_c[b, t, k, ch]))
                            pc = pj + _u(ch * hw)
                            below = np.int64(frame_f[pc])
                            if mode == 0:
                                frame_f[pc] = qc if qc > below else below
                            elif mode == 1:
                                frame_f[pc] = min(below + qc, 255)
                            else:
                                frame_f[pc] = qc
                    elif mode == 0:
                        below = np.int64(frame_f[pj])
                        frame_f[pj] = q if q > below else below
                    elif mode == 1:
                        frame_f[pj] = min(np.int64(frame_f[pj]) + q, 255)
                    else:
                        frame_f[pj] = q
                    if track_owner and owned:
                        inst_f[pj] = code
                        ownq[pj] = q
                        if sem_on:
                            sem_f[pj] = label
                    if amask_on and q > threshold:
                        amask_f[pj + _u(k * hw)] = True
        if row_hi >= row_lo:
            bx0 = min(bx0, row_lo)
            bx1 = max(bx1, row_hi + 1)
            by0 = min(by0, y)
            by1 = y + 1
    if bx1 > bx0:
        abox[b, t, k, 0] = bx0
        abox[b, t, k, 1] = by0
        abox[b, t, k, 2] = bx1
        abox[b, t, k, 3] = by1
    return tot


@njit(inline="always")
def _draw_words(sampler, objects, at, canvas, abox, need_total, mode, nearest):
    """:func:`_draw_object` on a grey canvas with instance and semantic masks, threshold 0, under ``over`` (mode 2)
    or ``max`` (mode 0), bilinear or ``nearest``: the segmentation and affine presets.

    Three passes, each a short loop with few live values (one pass doing everything spilled registers and ran three
    times slower): every chunk of 8 pixels of every row's span is sampled into ``qbuf`` (the row's y, first x and
    first chunk go to ``pbuf``); the total is the byte sum of all chunks; then, row by row, the first and last ink
    give the amodal box, and the row's inked pixels on the canvas are composited, 32 at a time with AVX-512 masked
    vectors (:func:`~movingmnist.render.fused.rows._composite_row_max`, ``_over``), or else with word
    operations (byte masks over 8-byte loads and stores); owned where q > 0, under max also where q >= the layer."""
    b, t, k = at
    tabs_f, wp = sampler.tabs, sampler.wp
    toff = k * sampler.tsize
    fix, nzbox, gain, region = objects.fix, objects.nzbox, objects.gain, objects.region
    label = objects.labels[b, k]
    frame_f, layer, ownq, inst_f, sem_f = canvas.frame, canvas.layer, canvas.ownq, canvas.inst, canvas.sem
    qbuf, pbuf = canvas.qbuf, canvas.pbuf
    h = canvas.h
    w = canvas.w
    hw = h * w
    code = np.uint8(k + 1)
    code8 = _B01 * np.uint64(k + 1)
    label8 = _B01 * np.uint64(label)
    fa, fb, fc = fix[b, t, k, 0], fix[b, t, k, 1], fix[b, t, k, 2]
    fd, fe, ff = fix[b, t, k, 3], fix[b, t, k, 4], fix[b, t, k, 5]
    one = np.int64(1) << 16
    lo_u, hi_u, lo_v, hi_v = _support(nzbox[b, k, 0], nzbox[b, k, 1], nzbox[b, k, 2], nzbox[b, k, 3], nearest)
    x0, y0, x1, y1 = region[b, t, k, 0], region[b, t, k, 1], region[b, t, k, 2], region[b, t, k, 3]
    gn = np.uint64(gain[b, t, k])
    if need_total:
        ry0, ry1, rx0, rx1 = y0, y1, x0, x1
    else:
        ry0, ry1, rx0, rx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    # Pass 1: sample.
    nq = 0
    nr = 0
    step = (fa * 8, fd * 8)
    step16 = (fa * 16, fd * 16)
    goff = objects.gidx[b, k] * sampler.tsize
    for y in range(ry0, ry1):
        cu = fb * y + fc
        cv = fe * y + ff
        xa, xb = _span(fa, cu, lo_u, hi_u, rx0, rx1)
        xa, xb = _span(fd, cv, lo_v, hi_v, xa, xb)
        if xb <= xa:
            continue
        pbuf[3 * nr] = y
        pbuf[3 * nr + 1] = xa
        pbuf[3 * nr + 2] = nq
        nr += 1
        pu = fa * xa + cu + one  # sample points in padded-glyph units
        pv = fd * xa + cv + one
        if nearest:  # 16 pixels per step, from the glyph's bytes (the row may end with a chunk of zeros)
            for xc in range(xa, xb, 16):
                _nearest16(qbuf, _u(nq), sampler.glyphs, goff, wp, (pu, pv), (fa, fd), gn, xb - xc)
                nq += 2
                pu += step16[0]
                pv += step16[1]
            continue
        for xc in range(xa, xb, 8):
            qbuf[nq] = _levels8(tabs_f, toff, wp, (pu, pv), (fa, fd), gn, xb - xc)
            nq += 1
            pu += step[0]
            pv += step[1]
    pbuf[3 * nr + 2] = nq
    # Pass 2: the total ink (a reduction LLVM vectorises).
    tot = 0
    for i in range(nq):
        tot += _byte_sum(qbuf[i])
    # Pass 3: box and compositing, row by row.
    bx0 = 1 << 40
    by0 = 1 << 40
    bx1 = -(1 << 40)
    by1 = -(1 << 40)
    for r in range(nr):
        y = pbuf[3 * r]
        xa = pbuf[3 * r + 1]
        i_first = pbuf[3 * r + 2]
        i_end = pbuf[3 * r + 5]
        i_lo = i_first
        while i_lo < i_end and qbuf[i_lo] == _ZERO:
            i_lo += 1
        if i_lo == i_end:
            continue
        i_hi = i_end - 1
        while qbuf[i_hi] == _ZERO:
            i_hi -= 1
        x_lo = xa + 8 * (i_lo - i_first) + np.int64(trailing_zeros(_nonzero_bytes(qbuf[i_lo])) >> _S3)
        x_hi = xa + 8 * (i_hi - i_first) + 7 - np.int64(leading_zeros(_nonzero_bytes(qbuf[i_hi])) >> _S3)
        bx0 = min(bx0, x_lo)
        bx1 = max(bx1, x_hi + 1)
        by0 = min(by0, y)
        by1 = y + 1
        if y < 0 or y >= h:
            continue
        if _WIDE_ROWS:  # the row's inked chunks on the canvas, 32 pixels at a time (masked vectors)
            x_from = max(xa + 8 * (i_lo - i_first), 0)
            x_to = min(xa + 8 * (i_hi - i_first) + 8, w)
            for xs in range(x_from, x_to, _ROW):
                n = min(_ROW, x_to - xs)
                at_canvas = _u(y * w + xs)
                at_levels = _u(8 * i_first + xs - xa)
                if mode == 0:
                    _composite_row_max(frame_f, layer, ownq, inst_f, sem_f, at_canvas, qbuf, at_levels, n, code, label)
                else:
                    _composite_row_over(frame_f, layer, ownq, inst_f, sem_f, at_canvas, qbuf, at_levels, n, code,
                                        label)
            continue
        for i in range(i_lo, i_hi + 1):
            q8 = qbuf[i]
            xc = xa + 8 * (i - i_first)
            # Off-canvas pixels of the chunk count towards the total and the box, not the frame.
            if xc < 0 or xc + 8 > w:
                lo_x = max(0, -xc)
                hi_x = min(8, w - xc)
                if hi_x <= lo_x:
                    continue
                q8 &= (_ALL >> _u(64 - 8 * (hi_x - lo_x))) << _u(8 * lo_x)
            if q8 == _ZERO:
                continue
            p = _u(y * w + xc)
            if p + _u(8) <= _u(hw):
                nz = _nonzero_bytes(q8)
                below = _load8(frame_f, p)
                own8 = _load8(ownq, p)
                inst8 = _load8(inst_f, p)
                sem8 = _load8(sem_f, p)
                if mode == 0:
                    cur = _load8(layer, p)
                    ge = _ge_bytes(q8, cur)
                    ge_f = _ge_bytes(q8, below)
                    owned = nz & ge
                    _store8(layer, p, (q8 & ge) | (cur & ~ge))
                    _store8(frame_f, p, (q8 & ge_f) | (below & ~ge_f))
                else:
                    owned = nz
                    _store8(frame_f, p, (below & ~nz) | q8)
                keep = ~owned
                _store8(ownq, p, (own8 & keep) | (q8 & owned))
                _store8(inst_f, p, (inst8 & keep) | (code8 & owned))
                _store8(sem_f, p, (sem8 & keep) | (label8 & owned))
                continue
            for j in range(8):
                q = np.int64((q8 >> _u(8 * j)) & _FF)
                if q == 0:
                    continue
                pj = p + _u(j)
                if mode == 0:
                    cur_j = np.int64(layer[pj])
                    if q < cur_j:
                        continue
                    layer[pj] = q
                    frame_f[pj] = max(np.int64(frame_f[pj]), q)
                else:
                    frame_f[pj] = q
                inst_f[pj] = code
                ownq[pj] = q
                sem_f[pj] = label
    if bx1 > bx0:
        abox[b, t, k, 0] = bx0
        abox[b, t, k, 1] = by0
        abox[b, t, k, 2] = bx1
        abox[b, t, k, 3] = by1
    return tot
