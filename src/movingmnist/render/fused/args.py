"""The arguments of the numba kernel, grouped by meaning into named tuples.

:func:`movingmnist.render.fused.render` takes ``(background, distractors, objects, options, outputs)``, built by
:mod:`movingmnist.render.general_renderer`; inside, the kernel hands its helpers a :class:`Sampler` (the glyph
tables) and a :class:`Canvas` (one frame's flat pixels, masks and scratch). numba compiles a named tuple of arrays
and scalars as a struct whose fields are separate values: reading a field costs nothing, and a field's type (never
its value) is part of the compiled signature, so grouping adds no specialisation and no runtime branch. Shapes use B
sequences, T frames, K object slots, N distractor slots, C channels and an H x W canvas; absent inputs and outputs
are small dummy arrays of the same dtype and rank, with the flag that says so.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Background(NamedTuple):
    """What lies under the objects (see :class:`movingmnist.latents.background.BackgroundPlan`)."""

    static_val: np.ndarray  # (B, C, Hb, Wb) uint8: the static shapes' values over the (larger) background canvas
    static_cov: np.ndarray  # (B, Hb, Wb) uint8: nonzero where a static shape covers the background canvas
    has_static: bool  # whether there are static shapes (else the two above are dummies)
    pan: np.ndarray  # (B, T, 2) int64: the view's offset (x, y) into the background canvas, per frame
    dynamic_noise: bool  # noise drawn afresh in every frame
    noise_key: np.uint64  # the noise's key, mixed with each sequence's index
    index: np.ndarray  # (B,) int64: the sequences' indices
    lut: np.ndarray  # (256,) uint8: the table the noise bytes go through
    enabled: bool  # whether there is a background at all (else frames start black)


class Distractors(NamedTuple):
    """Clutter patches (see :class:`movingmnist.latents.background.Distractors`)."""

    enabled: bool  # whether there are distractors (else the arrays are dummies with N = 0)
    occlude: bool  # composited over the objects, taking ownership away (else drawn under them, on the background)
    present: np.ndarray  # (B, N) bool
    mask: np.ndarray  # (B, N, S, S) bool: each patch's shape
    value: np.ndarray  # (B, N, C) uint8: its colour
    grey: np.ndarray  # (B, N) uint8: its level as an occluder (compared with the threshold and the max layer)
    position: np.ndarray  # (B, T, N, 2) int64: top-left (x, y) per frame


class Objects(NamedTuple):
    """The digits, their fixed-point poses and gains (see :mod:`movingmnist.render.general`)."""

    glyphs: np.ndarray  # (G, Hp, Wp) uint8: the padded glyph bank
    gidx: np.ndarray  # (B, K) int64: glyph of each slot, -1 when absent
    nzbox: np.ndarray  # (B, K, 4) int64: the glyph's ink box (x0, y0, x1, y1) in padded-glyph cells
    fix: np.ndarray  # (B, T, K, 6) int64: 16.16 fixed-point inverse poses
    region: np.ndarray  # (B, T, K, 4) int64: the canvas box (x0, y0, x1, y1) worth sampling
    gain: np.ndarray  # (B, T, K) int64: 16.16 brightness gains
    gain_c: np.ndarray  # (B, T, K, C) int64: per-channel gains (colour)
    labels: np.ndarray  # (B, K) uint8: semantic labels (the ignore label when absent)


class Options(NamedTuple):
    """How to composite and what to record."""

    mode: int  # compositing: 0 max, 1 saturating sum, 2 over (``general.MODES``)
    threshold: int  # a pixel belongs to an object's masks where its level exceeds this
    ignore_label: int  # the semantic label of pixels no object owns
    nearest: bool  # nearest-neighbour sampling (else bilinear)
    unclipped: bool  # also sample off the canvas: totals and amodal boxes of the whole object
    track_owner: bool  # record which object owns each pixel (``Outputs.instance``)
    measure: bool  # measure what each object owns (``Outputs.seen``, ``Outputs.mbox``)
    has_semantic: bool  # ``Outputs.semantic`` is wanted (else a dummy)
    has_amask: bool  # ``Outputs.amask`` is wanted (else a dummy)
    has_dmap: bool  # ``Outputs.dmap`` is wanted (else a dummy)


class Outputs(NamedTuple):
    """Where the kernel writes; every array is filled for every frame (dummies excepted)."""

    frames: np.ndarray  # (B, T, C, H, W) uint8
    instance: np.ndarray  # (B, T, H, W) uint8: owner k + 1, 0 for none
    semantic: np.ndarray  # (B, T, H, W) uint8: owner's label, the ignore label for none
    total: np.ndarray  # (B, T, K) int64: each object's ink above the threshold, unoccluded
    seen: np.ndarray  # (B, T, K) int64: the part of it the object owns
    mbox: np.ndarray  # (B, T, K, 4) int64: box of the pixels it owns (0, 0, -1, -1 when none)
    amask: np.ndarray  # (B, T, K, H, W) bool: each object's amodal mask
    dmap: np.ndarray  # (B, T, H, W) int16: the distractor drawn at each pixel, -1 for none (for the flow)
    abox: np.ndarray  # (B, T, K, 4) int64: box of its pixels above the threshold (0, 0, -1, -1 when none)


class Sampler(NamedTuple):
    """The glyphs as the sampling code reads them (built inside the kernel): slot k's packed 2x2 neighbourhoods
    (:func:`~movingmnist.render.fused.objects._glyph_table`) start at ``tabs[k tsize]``, glyph g's cells at
    ``glyphs[g tsize]``."""

    tabs: np.ndarray  # (max(K, 1) tsize,) uint64
    glyphs: np.ndarray  # (G tsize,) uint8: the padded glyph bank, flat
    wp: int  # padded glyph width
    tsize: int  # cells of a padded glyph, Hp Wp


class Canvas(NamedTuple):
    """One frame as the compositing code writes it (built inside the kernel, once): the scratch frame and masks that
    stay in cache and are streamed to the outputs when the frame is done, and the scratch shared by all frames."""

    frame: np.ndarray  # (C H W,) uint8
    inst: np.ndarray  # (H W,) uint8 (written only when ownership is tracked)
    sem: np.ndarray  # (H W,) uint8 (written only when semantic masks are wanted)
    amask: np.ndarray  # (K H W,) bool: the frame's view of the output (rebuilt per frame), or a one-element dummy
    layer: np.ndarray  # (H W,) uint8: the objects' max layer (mode 0)
    ownq: np.ndarray  # (H W,) uint8: the level of each pixel's owner
    qbuf: np.ndarray  # uint64: an object's 8-pixel chunks, row after row (:func:`objects._draw_words`)
    pbuf: np.ndarray  # int64: its rows, as triples (y, first x, first chunk)
    h: int
    w: int



class Scratch(NamedTuple):
    """The kernel's scratch, allocated by its Python entry (the compiled body runs without numba's runtime, so it
    allocates nothing): the parts of a :class:`Sampler` and a :class:`Canvas` that are not inputs or outputs."""

    tabs: np.ndarray  # (max(K, 1) Hp Wp,) uint64: :attr:`Sampler.tabs`
    noise: np.ndarray  # (W rounded up to 64,) uint8: one row of background noise
    frame: np.ndarray  # (C H W,) uint8: :attr:`Canvas.frame`, and so on
    inst: np.ndarray
    sem: np.ndarray
    amask: np.ndarray  # (1,) bool: the dummy amodal masks
    layer: np.ndarray
    ownq: np.ndarray
    qbuf: np.ndarray
    pbuf: np.ndarray
    dlev: np.ndarray  # (max(1, N S S),) uint8: the distractors' patches of levels (distractors._distractor_levels)
