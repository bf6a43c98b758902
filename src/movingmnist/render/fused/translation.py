"""The translation renderer's numba kernel: the bytes of :func:`movingmnist.render.translation.composite` and
:func:`~movingmnist.render.translation.measure_objects`, one frame at a time.

Where the numpy renderer gathers every glyph window of a batch into a temporary, combines it and scatters it back
(three passes over memory per object, plus padded canvases when a glyph crosses the edge), this kernel clears a
scratch frame and pastes each glyph row by row into it, clipped to the canvas, while the frame is in cache; ownership
and the per-object measures (visible box, visible ink) are read from the frame's ownership map right after, and the
frame and its masks are streamed to the outputs (non-temporal stores, :func:`~.words._stream_out`). The compositing
rules are the numpy renderer's, in integers, so the output is the same byte for byte (the conformance suite checks
it on every translation-only preset and on random specs).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from .memory import _store_fence
from .rows import _ROW, _WIDE_ROWS, _match_row, _paste_row_max, _paste_row_over, _paste_row_sum
from .words import _fill_u8, _stream_out, _u

MODES = {"max": 0, "sum": 1, "over": 2}


def render_translation(
    images, gidx, topleft, labels, mode, threshold, ignore_label, ink_sum,
    frames, instance, semantic, boxes, visibility,
    write_instance, write_semantic, measure_boxes, measure_visibility,
):
    """Draw and measure ``B`` sequences of ``T`` frames (:func:`_render_translation` with fresh scratch: the
    compiled body runs without numba's runtime, so it allocates nothing and counts no references).

    Args:
        images: ``(M, h, w)`` uint8 glyphs. gidx: ``(B, K)`` int64 glyph of each slot (-1: absent).
        topleft: ``(B, T, K, 2)`` int64 (x, y) of each glyph box (anywhere: clipped to the canvas).
        labels: ``(B, K)`` int64 classes. mode: 0 max, 1 sum, 2 over. threshold: ink above it is owned.
        ignore_label: semantic value of pixels no object owns. ink_sum: ``(B, K)`` int64 ink above the threshold.
        frames: ``(B, T, H, W)`` uint8 output. instance, semantic: ``(B, T, H, W)`` uint8 outputs (any shape when
            not written).
        boxes: ``(B, T, K, 4)`` float32, visibility: ``(B, T, K)`` float32 outputs (any shape when not measured).
    """
    area = frames.shape[2] * frames.shape[3]
    scratch = [np.zeros(area, dtype=np.uint8) for _ in range(3)]  # the frame, its owners, its semantic map
    _render_translation(
        images, gidx, topleft, labels, mode, threshold, ignore_label, ink_sum, frames, instance, semantic, boxes,
        visibility, write_instance, write_semantic, measure_boxes, measure_visibility, *scratch,
    )


@njit(cache=True, nogil=True, boundscheck=False, _nrt=False)
def _render_translation(
    images, gidx, topleft, labels, mode, threshold, ignore_label, ink_sum,
    frames, instance, semantic, boxes, visibility,
    write_instance, write_semantic, measure_boxes, measure_visibility,
    frame_buf, own_buf, sem_buf,
):  # pragma: no cover - compiled
    """:func:`render_translation`'s compiled body; ``frame_buf``, ``own_buf`` (the owner of each pixel, written out
    as ``instance`` when wanted) and ``sem_buf``: ``(H W,)`` uint8 scratch, where each frame and its masks are
    composed while in cache before they are streamed out (``memory._stream64``)."""
    b_n, t_n, big_h, big_w = frames.shape
    k_n = gidx.shape[1]
    h, w = images.shape[1], images.shape[2]
    area, glyph_area = big_h * big_w, h * w
    # Flat arrays indexed by offsets (no view per row).
    img = images.reshape(-1)
    out = frames.reshape(-1)
    inst = instance.reshape(-1)
    sem = semantic.reshape(-1)
    need_owner = write_instance or write_semantic or measure_boxes or measure_visibility
    thr = np.uint8(threshold)
    nan = np.float32(np.nan)
    for b in range(b_n):
        for t in range(t_n):
            base = (b * t_n + t) * area
            _fill_u8(frame_buf, 0)
            if need_owner:
                _fill_u8(own_buf, 0)
            if write_semantic:
                _fill_u8(sem_buf, ignore_label)
            for k in range(k_n):
                g = gidx[b, k]
                if g < 0:
                    continue
                x = topleft[b, t, k, 0]
                y = topleft[b, t, k, 1]
                r0, r1 = max(0, -y), min(h, big_h - y)
                c0, c1 = max(0, -x), min(w, big_w - x)
                code = np.uint8(k + 1)
                label = np.uint8(labels[b, k])
                code64, label64, thr64 = np.int64(code), np.int64(label), np.int64(threshold)
                n = c1 - c0
                for r in range(r0, r1):
                    # unsigned offsets of the row's first drawn pixel: no wraparound checks, so the loops vectorise
                    src = _u(g * glyph_area + r * w + c0)
                    dst = _u((y + r) * big_w + x + c0)
                    if _WIDE_ROWS:  # a global: numba compiles one branch (see rows._WIDE_ROWS)
                        for c in range(0, n, _ROW):
                            m = min(_ROW, n - c)
                            to, fro = dst + _u(c), src + _u(c)  # the frame and its masks share offsets
                            if mode == 0:
                                _paste_row_max(frame_buf, to, img, fro, m, own_buf, to, code64,
                                               sem_buf, label64, thr64, need_owner, write_semantic)
                            elif mode == 1:
                                _paste_row_sum(frame_buf, to, img, fro, m, own_buf, to, code64,
                                               sem_buf, label64, thr64, need_owner, write_semantic)
                            else:
                                _paste_row_over(frame_buf, to, img, fro, m, own_buf, to, code64,
                                                sem_buf, label64, thr64, need_owner, write_semantic)
                        continue
                    if not need_owner:
                        if mode == 0:
                            for j in range(n):
                                v = img[src + _u(j)]
                                p = frame_buf[dst + _u(j)]
                                frame_buf[dst + _u(j)] = v if v > p else p
                        elif mode == 1:
                            for j in range(n):
                                p = frame_buf[dst + _u(j)]
                                room = np.uint8(255) - p
                                v = img[src + _u(j)]
                                frame_buf[dst + _u(j)] = p + (v if v < room else room)
                        else:
                            for j in range(n):
                                v = img[src + _u(j)]
                                p = frame_buf[dst + _u(j)]
                                frame_buf[dst + _u(j)] = v if v > 0 else p
                        continue
                    for j in range(n):
                        v = img[src + _u(j)]
                        p = frame_buf[dst + _u(j)]
                        if mode == 0:
                            owned = (v >= p) & (v > thr)
                            frame_buf[dst + _u(j)] = v if v > p else p
                        elif mode == 1:
                            owned = v > thr
                            room = np.uint8(255) - p
                            frame_buf[dst + _u(j)] = p + (v if v < room else room)
                        else:
                            owned = v > thr
                            frame_buf[dst + _u(j)] = v if v > 0 else p
                        o = own_buf[dst + _u(j)]
                        own_buf[dst + _u(j)] = code if owned else o
                        if write_semantic:
                            q = sem_buf[dst + _u(j)]
                            sem_buf[dst + _u(j)] = label if owned else q
            _stream_out(out, base, frame_buf, 0, area)
            if write_instance:
                _stream_out(inst, base, own_buf, 0, area)
            if write_semantic:
                _stream_out(sem, base, sem_buf, 0, area)
            if not (measure_boxes or measure_visibility):
                continue
            for k in range(k_n):
                g = gidx[b, k]
                seen = 0
                rmin, rmax, cmin, cmax = h, -1, w, -1
                if g >= 0:
                    x = topleft[b, t, k, 0]
                    y = topleft[b, t, k, 1]
                    r0, r1 = max(0, -y), min(h, big_h - y)
                    c0, c1 = max(0, -x), min(w, big_w - x)
                    code = np.uint8(k + 1)
                    for r in range(r0, r1):
                        src = _u(g * glyph_area + r * w)
                        odst = _u((y + r) * big_w + x)
                        if _WIDE_ROWS:
                            for c in range(c0, c1, _ROW):
                                hit = _match_row(own_buf, odst + _u(c), img, src + _u(c), min(_ROW, c1 - c),
                                                 np.int64(k + 1), np.int64(threshold))
                                bits = hit & np.uint64(0xFFFFFFFF)
                                seen += np.int64(hit >> np.uint64(32))
                                if bits != 0:
                                    rmin = min(rmin, r)
                                    rmax = max(rmax, r)
                                    cmin = min(cmin, c + np.int64(trailing_zeros(bits)))
                                    cmax = max(cmax, c + 63 - np.int64(leading_zeros(bits)))
                            continue
                        for c in range(c0, c1):
                            if own_buf[odst + _u(c)] == code:
                                v = img[src + _u(c)]
                                seen += v if v > thr else 0
                                rmin = min(rmin, r)
                                rmax = max(rmax, r)
                                cmin = min(cmin, c)
                                cmax = max(cmax, c)
                if measure_visibility:
                    total = ink_sum[b, k]
                    visibility[b, t, k] = np.float32(seen / max(total, 1)) if total > 0 else np.float32(0.0)
                if measure_boxes:
                    if rmax < 0:
                        for i in range(4):
                            boxes[b, t, k, i] = nan
                    else:
                        x = topleft[b, t, k, 0]
                        y = topleft[b, t, k, 1]
                        boxes[b, t, k, 0] = np.float32(x + cmin)
                        boxes[b, t, k, 1] = np.float32(y + rmin)
                        boxes[b, t, k, 2] = np.float32(x + cmax + 1)
                        boxes[b, t, k, 3] = np.float32(y + rmax + 1)
    _store_fence()
