"""Background kernels: the static shapes painted once per sequence (:func:`paint_shapes`, an entry of its own, called
by :func:`movingmnist.latents.background.plan_background`) and the background of each frame (:func:`_background_frame`:
panned static canvas over noise or black); the same bytes as ``latents.shapes.paint_shapes`` and
``general.render_background_numpy``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import _lut64
from .words import _GOLDEN, _ONE, _S20, _S40, _mix, _u


@njit(cache=True, nogil=True)
def paint_shapes(val, cov, present, kind, size, apex, topleft, value):
    """Static shapes over the background canvas; see ``latents.shapes.paint_shapes`` (the same floating-point
    tests: rectangles fill their box, ellipses and triangles test each pixel centre), row by row, branch-free."""
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
                base = _u((y0 + ry) * wb + x0)
                dy = (2.0 * ry + 1.0 - sh) / sh
                dy2 = dy * dy
                py = ry + 0.5
                for ch in range(c_n):
                    v = value[b, j, ch]
                    vb = base + _u(ch * hwb)
                    if kd == 0:
                        for rx in range(nx):
                            val_f[vb + _u(rx)] = v
                    elif kd == 1:
                        for rx in range(nx):
                            dx = (2.0 * rx + 1.0 - sw) / sw
                            inside = dx * dx + dy2 <= 1.0
                            val_f[vb + _u(rx)] = v if inside else val_f[vb + _u(rx)]
                    else:
                        for rx in range(nx):
                            px = rx + 0.5
                            e1 = (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax)
                            e2 = (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw)
                            inside = e1 <= 0.0 and e2 <= 0.0
                            val_f[vb + _u(rx)] = v if inside else val_f[vb + _u(rx)]
                if kd == 0:
                    for rx in range(nx):
                        cov_f[base + _u(rx)] = 1
                elif kd == 1:
                    for rx in range(nx):
                        dx = (2.0 * rx + 1.0 - sw) / sw
                        inside = dx * dx + dy2 <= 1.0
                        cov_f[base + _u(rx)] = 1 if inside else cov_f[base + _u(rx)]
                else:
                    for rx in range(nx):
                        px = rx + 0.5
                        e1 = (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax)
                        e2 = (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw)
                        inside = e1 <= 0.0 and e2 <= 0.0
                        cov_f[base + _u(rx)] = 1 if inside else cov_f[base + _u(rx)]


@njit(inline="always")
def _background_frame(canvas, background, b, t, base, noise):
    """The background of frame t of sequence b into ``canvas.frame (C * H * W)``; see ``render_background_numpy``.
    ``base``: the sequence's noise key; ``noise``: scratch for one row of noise, whole 64-byte blocks."""
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
    frame_t = np.uint64(t) << _S40
    for c in range(c_n):
        for y in range(h):
            ro = _u((c * h + y) * w)
            so = _u((oy + y) * wb + ox)
            vo = _u((c * hb + oy + y) * wb + ox)
            if dynamic:
                # Row y's words are at counters (t, c h + y, 0 .. n_words - 1), as ``noise_bytes``.
                r = (frame_t | (np.uint64(c * h + y) << _S20)) + _ONE
                for wi in range(n_words):
                    noise_words[wi] = _mix(base ^ ((r + np.uint64(wi)) * _GOLDEN))
                for block in range(0, w, 64):
                    _lut64(noise, _u(block), lut)  # the noise bytes through the table, in place
                if has_static:
                    for x in range(w):
                        xi = _u(x)
                        shape = val_f[vo + xi]  # both loads unconditional: a select of values vectorises
                        grain = noise[xi]
                        frame_f[ro + xi] = shape if cov_f[so + xi] != 0 else grain
                else:
                    for x in range(w):
                        xi = _u(x)
                        frame_f[ro + xi] = noise[xi]
            elif has_static:
                for x in range(w):
                    xi = _u(x)
                    frame_f[ro + xi] = val_f[vo + xi] if cov_f[so + xi] != 0 else 0
            else:
                for x in range(w):
                    frame_f[ro + _u(x)] = 0
