"""Distractor patches of the numba kernel: drawn on the background under the objects
(:func:`_distractors_under`), or composited over them like objects, taking ownership away
(:func:`_distractors_over`); the same bytes as ``general.render_background_numpy`` and ``render_objects_numpy``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rows import _ROW, _WIDE_ROWS, _composite_row_max, _composite_row_over
from .words import _u


@njit(inline="always")
def _distractors_under(canvas, distractors, dmap, options, b, t):
    """The distractors that do not occlude, over the background of frame t of sequence b (and into the distractor
    map ``dmap``, ``Outputs.dmap``, when ``options.has_dmap``)."""
    frame_f = canvas.frame
    h = canvas.h
    w = canvas.w
    hw = h * w
    c_n = frame_f.size // hw
    d_present = distractors.present
    d_mask = distractors.mask
    d_value = distractors.value
    d_pos = distractors.position
    dmap_on = options.has_dmap
    side = d_mask.shape[2]
    for n in range(d_present.shape[1]):
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
                        frame_f[_u(c * hw + y * w + x)] = d_value[b, n, c]
                    if dmap_on:
                        dmap[b, t, y, x] = n


@njit(inline="always")
def _distractor_levels(distractors, b, levels):
    """Each distractor of sequence b as a patch of levels, its grey where its mask is set and 0 elsewhere: patch n
    at ``levels[n S S]`` (``S`` the patches' side), for :func:`_distractors_over` with ``rows``."""
    d_mask = distractors.mask
    side = d_mask.shape[2]
    for n in range(d_mask.shape[1]):
        if not distractors.present[b, n]:
            continue
        q = distractors.grey[b, n]
        for ry in range(side):
            for rx in range(side):
                levels[_u((n * side + ry) * side + rx)] = q if d_mask[b, n, ry, rx] else np.uint8(0)


@njit(inline="always")
def _distractors_over(canvas, distractors, dmap, options, b, t, levels, rows):
    """The distractors that occlude, composited over the objects of frame t of sequence b like objects: a pixel
    they own (level above the threshold, under max also at least the layer's) loses its owner.

    ``rows`` (a grey canvas, threshold 0, over or max, no distractor map, AVX-512): a distractor whose value is its
    grey level and above 0 is composited a row at a time from its patch of ``levels``
    (:func:`_distractor_levels`) with the objects' masked-vector compositing, owner code 0 and the ignore label
    (what it also leaves in ``ownq`` is never read: measures count pixels whose owner is an object)."""
    frame_f = canvas.frame
    layer = canvas.layer
    inst_f = canvas.inst
    sem_f = canvas.sem
    h = canvas.h
    w = canvas.w
    hw = h * w
    c_n = frame_f.size // hw
    d_present = distractors.present
    d_mask = distractors.mask
    d_value = distractors.value
    d_grey = distractors.grey
    d_pos = distractors.position
    mode = options.mode
    threshold = options.threshold
    ignore_label = options.ignore_label
    track_owner = options.track_owner
    sem_on = options.has_semantic
    dmap_on = options.has_dmap
    side = d_mask.shape[2]
    for n in range(d_present.shape[1]):
        if not d_present[b, n]:
            continue
        px0 = d_pos[b, t, n, 0]
        py0 = d_pos[b, t, n, 1]
        q = np.int64(d_grey[b, n])
        if _WIDE_ROWS and rows and q > 0 and np.int64(d_value[b, n, 0]) == q:
            lo_x = max(0, -px0)
            hi_x = min(side, w - px0)
            for ry in range(max(0, -py0), min(side, h - py0)):
                for rx in range(lo_x, hi_x, _ROW):
                    at_canvas = _u((py0 + ry) * w + px0 + rx)
                    at_levels = _u((n * side + ry) * side + rx)
                    count = min(_ROW, hi_x - rx)
                    if mode == 0:
                        _composite_row_max(frame_f, layer, canvas.ownq, inst_f, sem_f, at_canvas, levels, at_levels,
                                           count, 0, ignore_label)
                    else:
                        _composite_row_over(frame_f, layer, canvas.ownq, inst_f, sem_f, at_canvas, levels, at_levels,
                                            count, 0, ignore_label)
            continue
        for ry in range(max(0, -py0), min(side, h - py0)):
            y = py0 + ry
            for rx in range(max(0, -px0), min(side, w - px0)):
                if not d_mask[b, n, ry, rx]:
                    continue
                x = px0 + rx
                p = _u(y * w + x)
                if mode == 0:
                    cur = np.int64(layer[p])
                    owned = q >= cur and q > threshold
                    if q > cur:
                        layer[p] = q
                else:
                    owned = q > threshold
                for c in range(c_n):
                    qc = np.int64(d_value[b, n, c])
                    pc = p + _u(c * hw)
                    below = np.int64(frame_f[pc])
                    if mode == 0:
                        frame_f[pc] = qc if qc > below else below
                    elif mode == 1:
                        frame_f[pc] = min(below + qc, 255)
                    else:
                        frame_f[pc] = qc
                if owned and track_owner:
                    inst_f[p] = 0
                    if sem_on:
                        sem_f[p] = ignore_label
                if dmap_on:
                    dmap[b, t, y, x] = n
