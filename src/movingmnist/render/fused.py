"""Accelerated kernels of the general renderer (numba): the same bytes as :mod:`movingmnist.render.general`.

Each kernel is a loop nest over (sequence, frame, object, row, pixel) that performs exactly the floating-point
operations of the numpy reference in the same order (numba does not reassociate or fuse multiply-adds without
``fastmath``), so that the output does not depend on whether numba is installed; tests compare the two bit for
bit. Where the reference evaluates every pixel of a fixed-size patch, these kernels visit only the pixels of each
row whose sample can fall in the glyph's support (a conservative span, then the exact test), and they composite,
measure and combine with the background in one pass over the object's pixels.

Import this module only through :func:`kernels`, which returns None when numba is unavailable.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S8 = np.uint64(8)
_S20 = np.uint64(20)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S40 = np.uint64(40)
_ONE = np.uint64(1)
_FF = np.uint64(0xFF)


@njit(inline="always")
def _mix(x):
    x ^= x >> _S30
    x *= _MUL1
    x ^= x >> _S27
    x *= _MUL2
    x ^= x >> _S31
    return x


@njit(inline="always")
def _covers(kind, sw, sh, apex, rx, ry):
    if rx < 0 or rx >= sw or ry < 0 or ry >= sh:
        return False
    if kind == 0:
        return True
    if kind == 1:
        dx = (2.0 * rx + 1.0 - sw) / sw
        dy = (2.0 * ry + 1.0 - sh) / sh
        return dx * dx + dy * dy <= 1.0
    px = rx + 0.5
    py = ry + 0.5
    ax = apex * sw
    e1 = (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax)
    e2 = (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw)
    return e1 <= 0.0 and e2 <= 0.0


@njit(inline="always")
def _fill_u8(a, value):
    """Fill a contiguous 1-d uint8 array, eight bytes at a time (numba's ``a[:] = v`` stores byte by byte)."""
    n = a.size
    n8 = n // 8
    if n8:
        words = a[: n8 * 8].view(np.uint64)
        pattern = np.uint64(value) * np.uint64(0x0101010101010101)
        for i in range(n8):
            words[i] = pattern
    for i in range(n8 * 8, n):
        a[i] = value


@njit(cache=True, nogil=True)
def paint_shapes(val, cov, present, kind, size, apex, topleft, value):
    """Static shapes over the background canvas; see ``backgrounds.paint_shapes_numpy``."""
    b_n, c_n, hb, wb = val.shape
    n_slots = present.shape[1]
    for b in range(b_n):
        for j in range(n_slots):
            if not present[b, j]:
                continue
            sw = size[b, j, 0]
            sh = size[b, j, 1]
            x0 = topleft[b, j, 0]
            y0 = topleft[b, j, 1]
            for ry in range(sh):
                y = y0 + ry
                if y >= hb:
                    break
                for rx in range(sw):
                    x = x0 + rx
                    if x >= wb:
                        break
                    if _covers(kind[b, j], sw, sh, apex[b, j], rx, ry):
                        cov[b, y, x] = 1
                        for ch in range(c_n):
                            val[b, ch, y, x] = value[b, j, ch]


@njit(cache=True, nogil=True)
def background(
    frames, static_val, static_cov, has_static, pan, dynamic, key, index, lut,
    d_on, d_present, d_mask, d_value, d_pos, dmap, dmap_on,
):
    """Background of every frame, and the distractors that do not occlude; see ``render_background_numpy``."""
    b_n, t_n, c_n, h, w = frames.shape
    n_words = (w + 7) // 8
    n_dist = d_present.shape[1]
    noise = np.zeros(n_words * 8, dtype=np.uint8)
    noise_words = noise.view(np.uint64)  # little-endian: byte j of word i is pixel 8 i + j, as the reference
    for b in range(b_n):
        base = _mix(np.uint64(index[b]) * _GOLDEN + key)
        for t in range(t_n):
            ox = pan[b, t, 0]
            oy = pan[b, t, 1]
            frame_t = np.uint64(t) << _S40
            for c in range(c_n):
                for y in range(h):
                    out_row = frames[b, t, c, y]
                    if dynamic:
                        r = (frame_t | (np.uint64(c * h + y) << _S20)) + _ONE
                        for wi in range(n_words):
                            noise_words[wi] = _mix(base ^ ((r + np.uint64(wi)) * _GOLDEN))
                        if has_static:
                            cov_row = static_cov[b, oy + y, ox : ox + w]
                            val_row = static_val[b, c, oy + y, ox : ox + w]
                            for x in range(w):
                                out_row[x] = val_row[x] if cov_row[x] != 0 else lut[noise[x]]
                        else:
                            for x in range(w):
                                out_row[x] = lut[noise[x]]
                    elif has_static:
                        cov_row = static_cov[b, oy + y, ox : ox + w]
                        val_row = static_val[b, c, oy + y, ox : ox + w]
                        for x in range(w):
                            out_row[x] = val_row[x] if cov_row[x] != 0 else 0
                    else:
                        _fill_u8(out_row, 0)
            if dmap_on:
                _fill_u8(dmap[b, t].reshape(h * w).view(np.uint8), 255)  # int16 -1
            if d_on:
                side = d_mask.shape[2]
                for n in range(n_dist):
                    if not d_present[b, n]:
                        continue
                    px0 = d_pos[b, t, n, 0]
                    py0 = d_pos[b, t, n, 1]
                    for ry in range(max(0, -py0), min(side, h - py0)):
                        y = py0 + ry
                        for rx in range(max(0, -px0), min(side, w - px0)):
                            if d_mask[b, n, ry, rx]:
                                x = px0 + rx
                                for c in range(c_n):
                                    frames[b, t, c, y, x] = d_value[b, n, c]
                                if dmap_on:
                                    dmap[b, t, y, x] = n


@njit(inline="always")
def _span(a, cu, lo, hi, x_lo, x_hi):
    """Integers x in [x_lo, x_hi) with lo < a x + cu < hi, give or take one pixel at each end (the exact per-pixel
    test follows, so the span only has to contain every pixel that passes it)."""
    if abs(a) < 1e-9:
        if cu < lo - 1e-3 or cu > hi + 1e-3:
            return x_lo, x_lo
        return x_lo, x_hi
    p = (lo - cu) / a
    q = (hi - cu) / a
    if p > q:
        p, q = q, p
    xa = x_lo
    xb = x_hi
    if p > xa:
        xa = min(int(math.floor(p)), x_hi)
    if q + 1.0 < xb:
        xb = max(int(math.ceil(q)) + 1, xa)
    return xa, xb


@njit(inline="always")
def _put(obj, objc, c_n, p, q, sb, col_r, col_g, col_b, mode, threshold, colour_on):
    """Composite q (and its colour) into the object layer at p; returns whether it takes ownership."""
    cur = obj[p]
    if mode == 0:
        owned = q >= cur and q > threshold
        if q > cur:
            obj[p] = q
    elif mode == 1:
        owned = q > threshold
        total = cur + q
        obj[p] = 255 if total > 255 else total
    else:
        owned = q > threshold
        if q > 0:
            obj[p] = q
    if colour_on:
        for ch in range(c_n):
            if ch == 0:
                col = col_r
            elif ch == 1:
                col = col_g
            else:
                col = col_b
            if sb >= 0.0:
                qf = math.floor(sb * col + 0.5)
                qc = 255 if qf > 255.0 else int(qf)
            else:  # a distractor: col_* hold the channel values
                qc = int(col)
            cur_c = objc[ch, p]
            if mode == 0:
                if qc > cur_c:
                    objc[ch, p] = qc
            elif mode == 1:
                total = cur_c + qc
                objc[ch, p] = 255 if total > 255 else total
            elif q > 0:
                objc[ch, p] = qc
    return owned


_NEAREST, _NEED_TOTAL, _COLOUR, _OWNER, _SEMANTIC, _AMODAL = 1, 2, 4, 8, 16, 32


@njit(inline="always")
def _draw_object(
    glyph_flat, gbase, wp, inv, nzbox, bright, region, colour, b, t, k, flags, h, w,
    obj, objc, mode, threshold, inst_f, sem_f, label, ownq, own_list, touched, n_touch, amask, abox,
):
    """Object k of sequence b in frame t: sample, composite, take ownership; the box of its pixels above the
    threshold goes to ``abox[b, t, k]``. Returns (total ink, n_touch, n owned). Whole arrays and indices are passed
    (not views) and the function is inlined, so that no reference counting happens per object; ``flags`` packs the
    options (a call with more than 30 arguments would not inline)."""
    nearest = (flags & _NEAREST) != 0
    need_total = (flags & _NEED_TOTAL) != 0
    colour_on = (flags & _COLOUR) != 0
    track_owner = (flags & _OWNER) != 0
    sem_on = (flags & _SEMANTIC) != 0
    amask_on = (flags & _AMODAL) != 0
    code = k + 1
    ia, ib, ic = inv[b, t, k, 0], inv[b, t, k, 1], inv[b, t, k, 2]
    id_, ie, if_ = inv[b, t, k, 3], inv[b, t, k, 4], inv[b, t, k, 5]
    nx0, ny0, nx1, ny1 = nzbox[b, k, 0], nzbox[b, k, 1], nzbox[b, k, 2], nzbox[b, k, 3]
    x0, y0, x1, y1 = region[b, t, k, 0], region[b, t, k, 1], region[b, t, k, 2], region[b, t, k, 3]
    br = bright[b, t, k]
    col_r, col_g, col_b = colour[b, k, 0], colour[b, k, 1], colour[b, k, 2]
    if nearest:
        lo_u, hi_u, lo_v, hi_v = nx0 - 0.5, nx1 - 0.5, ny0 - 0.5, ny1 - 0.5
    else:
        lo_u, hi_u, lo_v, hi_v = nx0 - 1.0, nx1 * 1.0, ny0 - 1.0, ny1 * 1.0
    if need_total:
        ry0, ry1, rx0, rx1 = y0, y1, x0, x1
    else:
        ry0, ry1, rx0, rx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    tot = 0
    n_own = 0
    bx0 = 1 << 40
    by0 = 1 << 40
    bx1 = -(1 << 40)
    by1 = -(1 << 40)
    for y in range(ry0, ry1):
        yf = float(y)
        cu = ib * yf + ic
        cv = ie * yf + if_
        xa, xb = _span(ia, cu, lo_u, hi_u, rx0, rx1)
        xa, xb = _span(id_, cv, lo_v, hi_v, xa, max(xa, xb))
        if xb <= xa:
            continue
        # Pixels off the canvas only count towards the total: split the row.
        ca = max(xa, 0) if 0 <= y < h else xb
        cb = min(xb, w) if 0 <= y < h else xb
        if cb < ca:
            cb = ca
        row_base = y * w
        for x in range(xa, xb):
            xf = float(x)
            u = ia * xf + cu
            v = id_ * xf + cv
            if nearest:
                if not (u >= nx0 - 0.5 and u < nx1 - 0.5 and v >= ny0 - 0.5 and v < ny1 - 0.5):
                    continue
                iu = int(math.floor(u + 0.5))
                iv = int(math.floor(v + 0.5))
                g00 = glyph_flat[gbase + (iv + 1) * wp + iu + 1]
                if g00 == 0:
                    continue
                s = float(g00)
            else:
                if not (u > nx0 - 1 and u < nx1 and v > ny0 - 1 and v < ny1):
                    continue
                fu = math.floor(u)
                fv = math.floor(v)
                idx = gbase + (int(fv) + 1) * wp + int(fu) + 1
                g00 = glyph_flat[idx]
                g01 = glyph_flat[idx + 1]
                g10 = glyph_flat[idx + wp]
                g11 = glyph_flat[idx + wp + 1]
                if (g00 | g01 | g10 | g11) == 0:
                    continue
                fx = u - fu
                fy = v - fv
                s = (1.0 - fy) * ((1.0 - fx) * g00 + fx * g01) + fy * ((1.0 - fx) * g10 + fx * g11)
            sb = s * br
            qf = math.floor(sb + 0.5)
            q = 255 if qf > 255.0 else int(qf)
            if q > threshold:
                tot += q
                bx0 = min(bx0, x)
                bx1 = max(bx1, x + 1)
                by0 = min(by0, y)
                by1 = y + 1
            if x < ca or x >= cb:
                continue
            p = row_base + x
            cur = obj[p]
            touched[n_touch] = p
            n_touch += 1 if (cur == 0 and q > 0) else 0
            if colour_on:
                owned = _put(obj, objc, objc.shape[0], p, q, sb, col_r, col_g, col_b, mode, threshold, True)
            elif mode == 0:
                owned = q >= cur and q > threshold
                obj[p] = q if q > cur else cur
            elif mode == 1:
                owned = q > threshold
                obj[p] = min(cur + q, 255)
            else:
                owned = q > threshold
                obj[p] = q if q > 0 else cur
            if track_owner:
                inst_f[p] = code if owned else inst_f[p]
                ownq[p] = q if owned else ownq[p]
                own_list[k, n_own] = p
                n_own += 1 if owned else 0
                if sem_on:
                    sem_f[p] = label if owned else sem_f[p]
            if amask_on and q > threshold:
                amask[b, t, k, y, x] = True
    if bx1 > bx0:
        abox[b, t, k, 0] = bx0
        abox[b, t, k, 1] = by0
        abox[b, t, k, 2] = bx1
        abox[b, t, k, 3] = by1
    return tot, n_touch, n_own


@njit(cache=True, nogil=True)
def objects(
    glyph_pad, gidx, nzbox, inv, region, bright, colour, labels,
    mode, threshold, ignore_label, nearest, need_total, track_owner, measure,
    d_on, d_present, d_mask, d_value, d_grey, d_pos,
    frames, inst, sem, sem_on, total, seen, mbox, amask, amask_on, dmap, dmap_on, abox,
):
    """Composite objects and occluding distractors over the background in ``frames``; see
    ``render_objects_numpy`` (same arguments, flags for the optional outputs).

    Per frame, the object layer ``obj`` starts and ends all zero: the pixels that become nonzero are listed in
    ``touched`` and combined with the background (and cleared) from that list; each object lists the pixels it
    took ownership of, and measuring checks only those."""
    b_n, t_n, c_n, h, w = frames.shape
    k_n = gidx.shape[1]
    n_dist = d_present.shape[1]
    hw = h * w
    hp = glyph_pad.shape[1]
    wp = glyph_pad.shape[2]
    glyph_flat = glyph_pad.reshape(-1)
    obj = np.zeros(hw, dtype=np.uint8)
    objc = np.zeros((c_n, hw), dtype=np.uint8)
    ownq = np.zeros(hw, dtype=np.uint8)
    touched = np.zeros(hw, dtype=np.int32)
    own_list = np.zeros((max(k_n, 1), hw), dtype=np.int32)
    own_n = np.zeros(max(k_n, 1), dtype=np.int64)
    colour_on = c_n > 1
    flags = (
        (_NEAREST if nearest else 0)
        | (_NEED_TOTAL if need_total else 0)
        | (_COLOUR if colour_on else 0)
        | (_OWNER if track_owner else 0)
        | (_SEMANTIC if sem_on else 0)
        | (_AMODAL if amask_on else 0)
    )
    dummy_inst = np.zeros(hw, dtype=np.uint8)
    for b in range(b_n):
        for t in range(t_n):
            frame = frames[b, t].reshape(c_n, hw)
            if track_owner:
                inst_f = inst[b, t].reshape(hw)
                _fill_u8(inst_f, 0)
            else:
                inst_f = dummy_inst
            if sem_on:
                sem_f = sem[b, t].reshape(hw)
                _fill_u8(sem_f, ignore_label)
            else:
                sem_f = dummy_inst
            if amask_on:
                _fill_u8(amask[b, t].reshape(k_n * hw).view(np.uint8), 0)
            n_touch = 0
            for k in range(k_n):
                total[b, t, k] = 0
                seen[b, t, k] = 0
                mbox[b, t, k, 0] = 0
                mbox[b, t, k, 1] = 0
                mbox[b, t, k, 2] = -1
                mbox[b, t, k, 3] = -1
                own_n[k] = 0
                abox[b, t, k, 0] = 0
                abox[b, t, k, 1] = 0
                abox[b, t, k, 2] = -1
                abox[b, t, k, 3] = -1
                g = gidx[b, k]
                x0 = region[b, t, k, 0]
                y0 = region[b, t, k, 1]
                x1 = region[b, t, k, 2]
                y1 = region[b, t, k, 3]
                if g < 0 or x1 <= x0 or y1 <= y0:
                    continue
                tot, n_touch, n_own = _draw_object(
                    glyph_flat, g * hp * wp, wp, inv, nzbox, bright, region, colour, b, t, k, flags, h, w,
                    obj, objc, mode, threshold, inst_f, sem_f, labels[b, k], ownq, own_list, touched, n_touch,
                    amask, abox,
                )
                total[b, t, k] = tot
                own_n[k] = n_own
            if d_on:
                side = d_mask.shape[2]
                for n in range(n_dist):
                    if not d_present[b, n]:
                        continue
                    px0 = d_pos[b, t, n, 0]
                    py0 = d_pos[b, t, n, 1]
                    q = np.int64(d_grey[b, n])
                    c0 = float(d_value[b, n, 0])
                    c1 = float(d_value[b, n, 1 % c_n])
                    c2 = float(d_value[b, n, 2 % c_n])
                    for ry in range(max(0, -py0), min(side, h - py0)):
                        y = py0 + ry
                        for rx in range(max(0, -px0), min(side, w - px0)):
                            if not d_mask[b, n, ry, rx]:
                                continue
                            x = px0 + rx
                            p = y * w + x
                            if obj[p] == 0:
                                touched[n_touch] = p
                                n_touch += 1
                            owned = _put(obj, objc, c_n, p, q, -1.0, c0, c1, c2, mode, threshold, colour_on)
                            if owned and track_owner:
                                inst_f[p] = 0
                                if sem_on:
                                    sem_f[p] = ignore_label
                            if dmap_on:
                                dmap[b, t, y, x] = n
            # Combine the object layer with the background, clearing it for the next frame.
            for i in range(n_touch):
                p = touched[i]
                grey = obj[p]
                for ch in range(c_n):
                    lay = objc[ch, p] if colour_on else grey
                    below = np.int64(frame[ch, p])
                    if mode == 0:
                        res = lay if lay > below else below
                    elif mode == 1:
                        res = below + lay
                        if res > 255:
                            res = 255
                    else:
                        res = lay
                    frame[ch, p] = res
                    objc[ch, p] = 0
                obj[p] = 0
            if measure:
                for k in range(k_n):
                    code = k + 1
                    sx = 0
                    bx0 = w
                    by0 = h
                    bx1 = -1
                    by1 = -1
                    for i in range(own_n[k]):
                        p = own_list[k, i]
                        if inst_f[p] != code:
                            continue
                        sx += ownq[p]
                        y = p // w
                        x = p - y * w
                        if x < bx0:
                            bx0 = x
                        if x + 1 > bx1:
                            bx1 = x + 1
                        if y < by0:
                            by0 = y
                        if y + 1 > by1:
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
