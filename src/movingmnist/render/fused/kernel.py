"""The entry of the numba kernel of the general renderer: :func:`render` draws every frame of a batch, one at a time,
from the named tuples of :mod:`movingmnist.render.fused.args`."""

from __future__ import annotations

import numpy as np
from numba import njit

from .args import Canvas, Sampler, Scratch
from .background import _background_frame
from .distractors import _distractor_levels, _distractors_over, _distractors_under
from .measure import _measure
from .memory import _store_fence
from .objects import (
    _AMODAL,
    _COLOUR,
    _NEAREST,
    _NEED_TOTAL,
    _OWNER,
    _SEMANTIC,
    _draw_object,
    _draw_words,
    _glyph_table,
)
from .words import _GOLDEN, _fill_u8, _mix, _stream_out


def render(background, distractors, objects, options, outputs):
    """Background, objects, occluding distractors and measurements of every frame, one frame at a time (the frame
    and its masks stay in cache); the same bytes as ``render_background_numpy`` followed by
    ``render_objects_numpy``. The arguments are a :class:`~movingmnist.render.fused.args.Background`,
    :class:`~movingmnist.render.fused.args.Distractors`, :class:`~movingmnist.render.fused.args.Objects`,
    :class:`~movingmnist.render.fused.args.Options` and :class:`~movingmnist.render.fused.args.Outputs`.

    Objects are composited straight into the frame: max, saturating sum and over applied one object after another
    over the background give what compositing into a layer and combining it with the background gives; under max
    the layer is kept as well, for ownership. ``seen`` and the modal box are measured over each object's amodal box
    once the frame's ownership is final. The frame and its instance and semantic maps are composed in scratch and
    streamed to the outputs when finished (non-temporal stores: each output line is written once, never read).

    The scratch is allocated here, so that the compiled body runs without numba's runtime (``_nrt=False``): with it,
    every array handed to an inlined helper cost two atomic reference-count updates, a sixth of the kernel's time."""
    t_n, c_n, h, w = outputs.frames.shape[1:]
    k_n = objects.gidx.shape[1]
    hw = h * w
    tsize = objects.glyphs.shape[1] * objects.glyphs.shape[2]
    scratch = Scratch(
        tabs=np.zeros(max(k_n, 1) * tsize, dtype=np.uint64),
        # One channel of noise: H rows of whole words, in whole 64-byte blocks for _lut64.
        noise=np.zeros((h * ((w + 7) // 8) * 8 + 63) // 64 * 64, dtype=np.uint8),
        frame=np.zeros(c_n * hw, dtype=np.uint8),
        inst=np.zeros(hw, dtype=np.uint8),
        sem=np.zeros(hw, dtype=np.uint8),
        amask=np.zeros(1, dtype=np.bool_),
        layer=np.zeros(hw, dtype=np.uint8),
        ownq=np.zeros(hw, dtype=np.uint8),
        # An object's chunks and rows (its region is at most three canvases wide and high).
        qbuf=np.zeros(3 * h * ((3 * w + 7) // 8 + 1) + 1, dtype=np.uint64),
        pbuf=np.zeros(3 * (3 * h + 2), dtype=np.int64),
        dlev=np.zeros(max(1, distractors.mask.shape[1] * distractors.mask.shape[2] ** 2), dtype=np.uint8),
    )
    _render(background, distractors, objects, options, outputs, scratch)


@njit(cache=True, nogil=True, _nrt=False)
def _render(background, distractors, objects, options, outputs, scratch):
    """:func:`render`'s compiled body; ``scratch`` is a :class:`~movingmnist.render.fused.args.Scratch`."""
    frames = outputs.frames
    inst = outputs.instance
    sem = outputs.semantic
    amask = outputs.amask
    dmap = outputs.dmap
    total = outputs.total
    seen = outputs.seen
    mbox = outputs.mbox
    abox = outputs.abox
    gidx = objects.gidx
    nzbox = objects.nzbox
    region = objects.region
    mode = options.mode
    threshold = options.threshold
    nearest = options.nearest
    need_total = options.unclipped
    track_owner = options.track_owner
    sem_on = options.has_semantic
    amask_on = options.has_amask
    dmap_on = options.has_dmap
    d_on = distractors.enabled
    d_occlude = distractors.occlude
    b_n, t_n, c_n, h, w = frames.shape
    k_n = gidx.shape[1]
    hw = h * w
    glyph_pad = objects.glyphs
    hp = glyph_pad.shape[1]
    wp = glyph_pad.shape[2]
    tsize = hp * wp
    sampler = Sampler(scratch.tabs, glyph_pad.reshape(-1), wp, tsize)
    noise = scratch.noise
    # Each frame and its masks are composed in scratch that stays in cache, then streamed out (memory._stream64).
    frame_buf = scratch.frame
    inst_buf = scratch.inst
    sem_buf = scratch.sem
    frames_flat = frames.reshape(-1)
    inst_flat = inst.reshape(-1)
    sem_flat = sem.reshape(-1)
    colour_on = c_n > 1
    flags = (
        (_NEAREST if nearest else 0)
        | (_NEED_TOTAL if need_total else 0)
        | (_COLOUR if colour_on else 0)
        | (_OWNER if track_owner else 0)
        | (_SEMANTIC if sem_on else 0)
        | (_AMODAL if amask_on else 0)
    )
    # The presets' word-wise path: grey, no amodal masks, no mask threshold. It composes ownership and semantics
    # into the scratch whether or not they are wanted (unwanted, they are never streamed out): frames only draw at
    # the speed of frames with every mask.
    words = (flags & (_COLOUR | _AMODAL)) == 0 and threshold == 0
    layer = scratch.layer
    # One canvas for every frame (rebuilt per frame only to point at the frame's amodal masks); the mask scratch is
    # written only when its output is wanted.
    canvas = Canvas(frame_buf, inst_buf, sem_buf, scratch.amask, layer, scratch.ownq, scratch.qbuf, scratch.pbuf, h, w)
    # Occluding distractors a row at a time, as the objects (see distractors._distractors_over).
    d_rows = d_on and d_occlude and words and (mode == 0 or mode == 2) and not dmap_on
    for b in range(b_n):
        base = _mix(np.uint64(background.index[b]) * _GOLDEN + background.noise_key)
        if d_rows:
            _distractor_levels(distractors, b, scratch.dlev)
        if not (words and nearest):  # every sample reads the slot's table (the presets' nearest, the glyph's bytes)
            for k in range(k_n):
                if gidx[b, k] >= 0 and nzbox[b, k, 2] > nzbox[b, k, 0] and nzbox[b, k, 3] > nzbox[b, k, 1]:
                    _glyph_table(sampler, objects, b, k)
        for t in range(t_n):
            if amask_on:
                canvas = Canvas(frame_buf, inst_buf, sem_buf, amask[b, t].reshape(k_n * hw), layer, scratch.ownq,
                                scratch.qbuf, scratch.pbuf, h, w)
            amask_f = canvas.amask
            # Background, and the distractors that do not occlude.
            if background.enabled:
                _background_frame(canvas, background, b, t, base, noise)
            else:
                _fill_u8(canvas.frame, 0)
            if dmap_on:
                _fill_u8(dmap[b, t].reshape(hw).view(np.uint8), 255)  # int16 -1
            if d_on and not d_occlude:
                _distractors_under(canvas, distractors, dmap, options, b, t)
            # Objects.
            if track_owner:
                _fill_u8(inst_buf, 0)
            if sem_on:
                _fill_u8(sem_buf, options.ignore_label)
            if amask_on:
                _fill_u8(amask_f.view(np.uint8), 0)
            if mode == 0:
                _fill_u8(layer, 0)
            for k in range(k_n):
                total[b, t, k] = 0
                seen[b, t, k] = 0
                mbox[b, t, k, 0] = 0
                mbox[b, t, k, 1] = 0
                mbox[b, t, k, 2] = -1
                mbox[b, t, k, 3] = -1
                abox[b, t, k, 0] = 0
                abox[b, t, k, 1] = 0
                abox[b, t, k, 2] = -1
                abox[b, t, k, 3] = -1
                g = gidx[b, k]
                if g < 0 or region[b, t, k, 2] <= region[b, t, k, 0] or region[b, t, k, 3] <= region[b, t, k, 1]:
                    continue
                at = (b, t, k)
                # Specialised copies for the presets' flags (constants fold the per-pixel branches away).
                if words and mode == 2 and nearest:
                    tot = _draw_words(sampler, objects, at, canvas, abox, need_total, 2, True)
                elif words and mode == 0 and nearest:
                    tot = _draw_words(sampler, objects, at, canvas, abox, need_total, 0, True)
                elif words and mode == 2:
                    tot = _draw_words(sampler, objects, at, canvas, abox, need_total, 2, False)
                elif words and mode == 0:
                    tot = _draw_words(sampler, objects, at, canvas, abox, need_total, 0, False)
                else:
                    tot = _draw_object(sampler, objects, at, canvas, abox, flags, mode, threshold)
                total[b, t, k] = tot
            # Distractors that occlude: composited like objects, taking ownership away.
            if d_on and d_occlude:
                _distractors_over(canvas, distractors, dmap, options, b, t, scratch.dlev, d_rows)
            # What each object owns once the frame is final (inside its amodal box on the canvas).
            if options.measure:
                for k in range(k_n):
                    if abox[b, t, k, 2] > abox[b, t, k, 0]:
                        _measure(canvas, outputs, (b, t, k))
            at_frame = b * t_n + t
            _stream_out(frames_flat, at_frame * c_n * hw, frame_buf, 0, c_n * hw)
            if track_owner:
                _stream_out(inst_flat, at_frame * hw, inst_buf, 0, hw)
            if sem_on:
                _stream_out(sem_flat, at_frame * hw, sem_buf, 0, hw)
    _store_fence()
