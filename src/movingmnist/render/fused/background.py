"""Background kernels: the static shapes painted once per sequence (:func:`paint_shapes`, an entry of its own, called
by :func:`movingmnist.latents.background.plan_background`) and the background of each frame (:func:`_background_frame`:
panned static canvas over noise or black); the same bytes as ``latents.shapes.paint_shapes`` and
``general.render_background_numpy``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import _lut64, _noise8, _select64
from .rows import _ROW, _WIDE_ROWS, _fill_row
from .words import _GOLDEN, _ONE, _S20, _S40, _mix, _u


@njit(inline="always")
def _inside_ellipse(rx, sw, dy2):
    dx = (2.0 * rx + 1.0 - sw) / sw
    return dx * dx + dy2 <= 1.0


@njit(inline="always")
def _ellipse_row(sw, dy2):
    """Columns ``[lo, hi)`` of a row of an ellipse's box whose pixel centres are inside it (the test of
    ``latents.shapes.shape_covers``). The test depends on ``|2 rx + 1 - sw|`` only (exactly: small whole floats), and
    grows with it, so the row is an interval symmetric about the centre: its left end is found by bisection."""
    centre = (sw - 1) // 2
    if not _inside_ellipse(centre, sw, dy2):
        return 0, 0
    lo, hi = 0, centre  # the first inside column is in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if _inside_ellipse(mid, sw, dy2):
            hi = mid
        else:
            lo = mid + 1
    return lo, sw - lo


@njit(inline="always")
def _triangle_row(sw, sh, ax, py):
    """Columns ``[lo, hi)`` of a row of a triangle's box whose pixel centres pass both edge tests of
    ``latents.shapes.shape_covers``: the first edge function never rises with x and the second never falls (every
    IEEE operation is monotonic), so each test holds on a half-line, found by bisection."""
    lo, hi = 0, sw  # first column with e1 <= 0 (sw: none)
    while lo < hi:
        mid = (lo + hi) // 2
        px = mid + 0.5
        if (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax) <= 0.0:
            hi = mid
        else:
            lo = mid + 1
    first = lo
    lo, hi = 0, sw  # first column with e2 > 0 (sw: none)
    while lo < hi:
        mid = (lo + hi) // 2
        px = mid + 0.5
        if (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw) > 0.0:
            hi = mid
        else:
            lo = mid + 1
    return first, max(first, lo)


@njit(inline="always")
def _shape_row(kd, sw, sh, ax, ry):
    """Columns ``[lo, hi)`` of row ``ry`` of a shape's box (kind ``kd``, size ``sw`` by ``sh``, triangle apex at
    ``ax``) whose pixel centres are inside it, by the tests of ``latents.shapes.shape_covers``."""
    if kd == 0:
        return 0, sw
    if kd == 1:
        dy = (2.0 * ry + 1.0 - sh) / sh
        return _ellipse_row(sw, dy * dy)
    return _triangle_row(sw, sh, ax, ry + 0.5)


@njit(cache=True, nogil=True)
def paint_shapes(val, cov, present, kind, size, apex, topleft, value):
    """Static shapes over the background canvas; see ``latents.shapes.paint_shapes`` (the same floating-point
    tests: rectangles fill their box, ellipses and triangles test each pixel centre), row by row: each row of a
    shape is one interval of columns, found with a few tests instead of one per pixel, then filled."""
    b_n, c_n, hb, wb = val.shape
    hwb = hb * wb
    n_slots = present.shape[1]
    for b in range(b_n):
        cov_f = cov[b].reshape(-1)
        val_f = val[b].reshape(-1)
        for j in range(n_slots):
            if not present[b, j]:
                continue
            sw = size[b, j, 0]
            sh = size[b, j, 1]
            x0 = topleft[b, j, 0]  # in 0 .. big - size
            y0 = topleft[b, j, 1]
            nx = min(sw, wb - x0)
            kd = kind[b, j]
            ax = apex[b, j] * sw
            for ry in range(min(sh, hb - y0)):
                lo, hi = _shape_row(kd, sw, sh, ax, ry)
                hi = min(hi, nx)
                base = _u((y0 + ry) * wb + x0)
                if _WIDE_ROWS:  # 32 bytes per masked store (see rows._fill_row)
                    for x in range(lo, hi, _ROW):
                        n = min(_ROW, hi - x)
                        for ch in range(c_n):
                            _fill_row(val_f, base + _u(ch * hwb + x), n, value[b, j, ch])
                        _fill_row(cov_f, base + _u(x), n, np.uint8(1))
                    continue
                for ch in range(c_n):
                    v = value[b, j, ch]
                    vb = base + _u(ch * hwb)
                    for rx in range(lo, hi):
                        val_f[vb + _u(rx)] = v
                for rx in range(lo, hi):
                    cov_f[base + _u(rx)] = 1


def shape_masks(present, kind, size, apex, side):
    """Coverage ``(B, N, side, side)`` bool of each present shape's box from its corner (rows and columns past
    ``side`` cut), by the tests of ``latents.shapes.shape_covers`` a row interval at a time: the distractors' masks
    (``latents.background.plan_background``'s ``masks``)."""
    mask = np.zeros((*present.shape, side, side), dtype=np.bool_)
    _shape_masks(mask, present, kind, size, apex)
    return mask


@njit(cache=True, nogil=True)
def _shape_masks(mask, present, kind, size, apex):
    b_n, n_slots, s, _ = mask.shape
    for b in range(b_n):
        for j in range(n_slots):
            if not present[b, j]:
                continue
            sw = size[b, j, 0]
            sh = size[b, j, 1]
            ax = apex[b, j] * sw
            for ry in range(min(sh, s)):
                lo, hi = _shape_row(kind[b, j], sw, sh, ax, ry)
                for rx in range(lo, min(hi, s)):
                    mask[b, j, ry, rx] = True


def skimage_boxes(shape, u, k, size_range, big_h, big_w):
    """``latents.shapes.skimage_boxes`` in one compiled pass (the same IEEE operations in the same order), for
    numpy arrays: kind codes ``(B, N)``, sizes ``(B, N, 2)``, apexes ``(B, N)`` and top-lefts ``(B, N, 2)``."""
    b_n, n_n = shape.shape
    kind = np.empty((b_n, n_n), dtype=np.int64)
    size = np.empty((b_n, n_n, 2), dtype=np.int64)
    apex = np.empty((b_n, n_n), dtype=np.float64)
    topleft = np.empty((b_n, n_n, 2), dtype=np.int64)
    _skimage_boxes(shape, u, k, float(size_range[0]), float(size_range[1]), big_h, big_w, kind, size, apex, topleft)
    return kind, size, apex, topleft


@njit(inline="always")
def _pick(m, kj):
    """U{0 .. max(1, m) - 1} from the uniform ``kj``."""
    return np.floor(kj * max(np.floor(m), 1.0))


@njit(cache=True, nogil=True)
def _skimage_boxes(shape, u, k, low, high, big_h, big_w, kind, size, apex, topleft):
    dim_x = float(big_w)
    dim_y = float(big_h)
    span_x = max(dim_x - low, 1.0)
    span_y = max(dim_y - low, 1.0)
    lo_r = float(np.floor(low / 2.0))
    hi_r = float(np.floor(high / 2.0))
    root = np.sqrt(0.75)
    for b in range(shape.shape[0]):
        for j in range(shape.shape[1]):
            code = shape[b, j]
            rect, circle, tri = code == 0, code == 1, code == 2
            w = h = 0.0
            first = 1.0 if (code == 1 or code == 3) else 0.0
            fx = min(first, span_x - 1.0)
            fy = min(first, span_y - 1.0)
            col = fx + np.floor(u[b, j, 0] * (span_x - fx))
            row = fy + np.floor(u[b, j, 1] * (span_y - fy))
            k0 = k[b, j, 0]
            k1 = k[b, j, 1]
            room = min(min(col, dim_x - col), min(row, dim_y - row))
            if rect:
                w = low + _pick(min(dim_x - col, high) - low, k0)
                h = low + _pick(min(dim_y - row, high) - low, k1)
            elif circle:
                radius = lo_r + _pick(min(room, hi_r) - lo_r, k0)
                w = max(2.0 * radius - 1.0, 1.0)
                h = w
            side = (low - 1.0) + _pick(min(min(dim_x - col, row), high) - low, k0)
            tri_h = np.ceil(root * side)
            if tri:
                w = side + 1.0
                h = tri_h + 1.0
            elif not rect and not circle:  # ellipse
                avail = min(room, high / 2.0)
                w = max(np.floor(2.0 * (low / 2.0 + k0 * (avail + 1.0 - low / 2.0)) - 1.0 + 0.5), 1.0)
                h = max(np.floor(2.0 * (low / 2.0 + k1 * (avail + 1.0 - low / 2.0)) - 1.0 + 0.5), 1.0)
            x0 = col if (rect or tri) else col - np.floor((w - 1.0) / 2.0)
            y0 = row if rect else (row - tri_h if tri else row - np.floor((h - 1.0) / 2.0))
            h = h - max(-y0, 0.0)
            y0 = max(y0, 0.0)
            apex[b, j] = (np.floor(side / 2.0) + 0.5) / (side + 1.0) if tri else 0.5
            kind[b, j] = 0 if rect else (2 if tri else 1)
            size[b, j, 0] = np.int64(w)
            size[b, j, 1] = np.int64(h)
            topleft[b, j, 0] = np.int64(x0)
            topleft[b, j, 1] = np.int64(y0)


@njit(inline="always")
def _background_frame(canvas, background, b, t, base, noise):
    """The background of frame t of sequence b into ``canvas.frame (C * H * W)``; see ``render_background_numpy``.
    ``base``: the sequence's noise key; ``noise``: scratch for one channel of noise, ``H`` rows of whole words
    (``8 ceil(W / 8)`` bytes each), in whole 64-byte blocks.

    Dynamic noise is made a channel at a time in three passes: every row's words, the table over all of them, then
    the rows into the frame. (Row by row, the table's 64-byte loads read bytes just written by 32-byte stores, which
    cannot be forwarded: each row stalled until its stores had retired, a tenth of the segmentation kernel.)"""
    frame_f = canvas.frame
    h = canvas.h
    w = canvas.w
    c_n = frame_f.size // (h * w)
    hb = background.static_cov.shape[1]
    wb = background.static_cov.shape[2]
    cov_f = background.static_cov[b].reshape(-1)  # this sequence's static canvas, flat
    val_f = background.static_val[b].reshape(-1)
    ox = background.pan[b, t, 0]  # the view's offset
    oy = background.pan[b, t, 1]
    has_static = background.has_static
    dynamic = background.dynamic_noise
    lut = background.lut
    noise_words = noise.view(np.uint64)  # little-endian: byte j of word i is pixel 8 i + j, as the reference
    n_words = (w + 7) // 8
    stride = n_words * 8
    frame_t = np.uint64(t) << _S40
    for c in range(c_n):
        if dynamic:
            # Row y's words are at counters (t, c h + y, 0 .. n_words - 1), as ``noise_bytes``.
            for y in range(h):
                r = (frame_t | (np.uint64(c * h + y) << _S20)) + _ONE
                n8 = n_words // 8 * 8
                for wi in range(0, n8, 8):
                    _noise8(noise_words, _u(y * n_words + wi), base, r + np.uint64(wi))
                for wi in range(n8, n_words):
                    noise_words[y * n_words + wi] = _mix(base ^ ((r + np.uint64(wi)) * _GOLDEN))
            for block in range(0, h * stride, 64):
                _lut64(noise, _u(block), lut)  # the noise bytes through the table, in place
        for y in range(h):
            ro = _u((c * h + y) * w)
            so = _u((oy + y) * wb + ox)
            vo = _u((c * hb + oy + y) * wb + ox)
            no = _u(y * stride)
            if dynamic:
                if has_static:
                    w64 = w // 64 * 64
                    for x in range(0, w64, 64):
                        xi = _u(x)
                        _select64(frame_f, ro + xi, val_f, vo + xi, cov_f, so + xi, noise, no + xi)
                    for x in range(w64, w):
                        xi = _u(x)
                        shape = val_f[vo + xi]  # both loads unconditional: a select of values vectorises
                        grain = noise[no + xi]
                        frame_f[ro + xi] = shape if cov_f[so + xi] != 0 else grain
                else:
                    for x in range(w):
                        xi = _u(x)
                        frame_f[ro + xi] = noise[no + xi]
            elif has_static:
                for x in range(w):
                    xi = _u(x)
                    frame_f[ro + xi] = val_f[vo + xi] if cov_f[so + xi] != 0 else 0
            else:
                for x in range(w):
                    frame_f[ro + _u(x)] = 0
