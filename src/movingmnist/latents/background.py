"""Background latents: a static background canvas per sequence (constant level, static noise or an image crop,
with random shapes painted over it), the view's pan offsets, dynamic noise parameters, and moving distractors.

Everything here is a pure function of (spec, seed, index): draws come from :mod:`movingmnist.latents.rng` streams,
and every function is written once over the array namespace of ``index`` (numpy, or torch on any device: the same
bits). Shapes live in :mod:`.shapes`, image crops in :mod:`.images`. The numba kernel of the general renderer
recomputes the dynamic noise and paints shapes itself, with the same bytes.

Noise: a uniform random byte per pixel (splitmix64 words keyed like every other draw, 8 bytes per word) through a
256-entry lookup table of clipped Gaussian quantiles: ``lut[i] = clip(round(mean + std * Phi^-1((i + 0.5) / 256)),
0, 255)``: clipped (``noise.wrap`` wraps instead, as the segmentation notebook did).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from ..spec import Spec
from . import rng
from . import xp as _xp
from .images import image_crops
from .shapes import Shapes, levels, paint_shapes, sample_shapes, shape_covers, shape_geometry


@functools.lru_cache(maxsize=32)
def noise_lut(mean: float, std: float, wrap: bool = False) -> np.ndarray:
    """256 clipped Gaussian quantiles (uint8): a uniform byte through it is N(mean, std), quantised and clipped;
    with ``wrap``, truncated toward zero and taken modulo 256 instead (the segmentation notebook's cast)."""
    normal = NormalDist()
    z = np.array([normal.inv_cdf((i + 0.5) / 256.0) for i in range(256)])
    if wrap:
        lut = np.mod(np.trunc(mean + std * z), 256.0).astype(np.uint8)
    else:
        lut = np.clip(np.floor(mean + std * z + 0.5), 0, 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def mix_words(base: Any, counters: Any) -> Any:
    """splitmix64 words ``mix(base ^ counter)`` for sequence keys ``base (B,)`` and counter words ``(T, R, W)``:
    ``(B, T, R, W)`` (pure array code: torch may compile it)."""
    xp = _xp.namespace(base)
    with _xp.quiet(xp):
        return rng.mix(xp, xp.reshape(base, (-1, 1, 1, 1)) ^ counters)


@dataclass(frozen=True)
class NoiseRows:
    """Which rows of noise to draw: ``frames`` x ``rows`` rows of ``width`` bytes, frames ``t0 .. t1 - 1`` of them."""

    frames: int
    rows: int
    width: int
    t0: int = 0
    t1: int | None = None


def noise_bytes(seed: int, stream: str, index: Any, where: NoiseRows, mix: Callable = mix_words) -> Any:
    """Uniform random bytes ``(B, t1 - t0, rows, width)`` uint8: row ``r`` of frame ``t`` is the little-endian bytes
    of the splitmix64 words at counters (t, r, 0..ceil(width / 8) - 1) of the stream."""
    xp = _xp.namespace(index)
    t1 = where.frames if where.t1 is None else where.t1
    words = (where.width + 7) // 8
    base = rng.sequence_keys(seed, stream, index)
    counters = rng.counter_words(xp, (where.frames, where.rows, words), _xp.device_of(index))[where.t0 : t1]
    raw = _xp.as_bytes(xp, mix(base, counters))
    return xp.reshape(raw, (index.shape[0], t1 - where.t0, where.rows, words * 8))[..., : where.width]


@dataclass(frozen=True)
class Distractors:
    """Moving distractor shapes of a batch (N slots).

    Attributes:
        present: ``(B, N)`` bool. kind: ``(B, N)`` int64 (0 rectangle, 1 ellipse, 2 triangle).
        size: ``(B, N, 2)`` int64 box width, height. apex: ``(B, N)`` float64 triangle apex position in [0, 1).
        value: ``(B, N, C)`` uint8 colour. grey: ``(B, N)`` uint8 intensity used for ownership.
        position: ``(B, T1, N, 2)`` int64 top-left (x, y) per frame. occlude: drawn above the glyphs.
        mask: ``(B, N, S, S)`` bool coverage of each shape's box (S = the largest size), computed once.
    """

    present: Any
    kind: Any
    size: Any
    apex: Any
    value: Any
    grey: Any
    position: Any
    occlude: bool
    mask: Any

    @property
    def count(self) -> int:
        return int(self.present.shape[1])


@dataclass(frozen=True)
class BackgroundPlan:
    """Background of a batch of sequences, in the namespace of the indices it was planned for.

    Attributes:
        static_val: ``(B, C, Hb, Wb)`` uint8 background canvas, or None (nothing static).
        static_cov: ``(B, Hb, Wb)`` uint8, 1 where ``static_val`` shows, 0 where the dynamic base shows.
        pan: ``(B, T1, 2)`` int64 (x, y) offset of the view into the background canvas.
        dynamic_noise: noise redrawn each frame (in view coordinates) where ``static_cov`` is 0.
        noise_key: the 64-bit key of the dynamic noise stream (unsigned). lut: ``(256,)`` uint8 noise lookup table.
        distractors: moving shapes or None.
    """

    static_val: Any | None
    static_cov: Any | None
    pan: Any
    dynamic_noise: bool
    noise_key: int
    lut: Any
    distractors: Distractors | None

    @property
    def panned(self) -> bool:
        xp = _xp.namespace(self.pan)
        return bool(xp.any(self.pan != self.pan[:, :1]))


ShapePainter = Callable[[Any, Any, Shapes], None]


def plan_background(
    spec: Spec,
    seed: int,
    index: Any,
    num_frames: int,
    paint: ShapePainter | None = None,
    mix: Callable = mix_words,
    masks: Callable[..., Any] | None = None,
    boxes: Callable[..., Any] | None = None,
) -> BackgroundPlan:
    """Background latents of sequences ``index (B,)`` over ``num_frames`` frames (T1).

    Args:
        paint: paints :class:`Shapes` over ``(static_val, static_cov)`` (default :func:`paint_shapes`; the numba
            kernel has its own, with the same bytes).
        mix: the splitmix64 word function for the static noise (default :func:`mix_words`; torch may compile it).
        masks: ``masks(present, kind, size, apex, side)`` gives the distractors' masks ``(B, N, side, side)`` bool
            (default :func:`~movingmnist.latents.shapes.shape_covers` over every pixel; the numba kernel computes
            them a row interval at a time, with the same bytes).
        boxes: computes the ``skimage`` shape placement's boxes from its draws (default
            :func:`~movingmnist.latents.shapes.skimage_boxes`; the numba kernel's is one compiled pass).
    """
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    bg = spec.background
    index = xp.astype(index, xp.int64)
    b = index.shape[0]
    c = spec.canvas.channels
    big_h, big_w = spec.canvas.height + bg.extent, spec.canvas.width + bg.extent
    per_channel = bg.colour

    static_val = static_cov = None
    if bg.kind == "constant":
        level = levels(seed, "background.level", index, (), bg.level, c, per_channel)  # (B, C)
        static_val = _xp.broadcast_copy(xp, level[:, :, None, None], (b, c, big_h, big_w))
    elif bg.kind == "noise" and not bg.noise.dynamic:
        lut = _xp.on_device(xp, noise_lut(bg.noise.mean, bg.noise.std, bg.noise.wrap), dev)
        rows = c * big_h if per_channel else big_h
        raw = noise_bytes(seed, "background.noise.static", index, NoiseRows(1, rows, big_w), mix=mix)[:, 0]
        static_val = xp.reshape(_xp.lookup(xp, lut, raw), (b, -1, big_h, big_w))
        if static_val.shape[1] != c:
            static_val = _xp.broadcast_copy(xp, static_val, (b, c, big_h, big_w))
    elif bg.kind == "image":
        static_val = image_crops(spec, seed, index, big_h, big_w)
    if static_val is not None:
        static_cov = xp.ones((b, big_h, big_w), dtype=xp.uint8, device=dev)

    if bg.shapes.count[1] > 0:
        if static_val is None:
            static_val = xp.zeros((b, c, big_h, big_w), dtype=xp.uint8, device=dev)
            static_cov = xp.zeros((b, big_h, big_w), dtype=xp.uint8, device=dev)
        (paint or paint_shapes)(static_val, static_cov, sample_shapes(spec, seed, index, big_h, big_w, boxes))

    dynamic = bg.kind == "noise" and bg.noise.dynamic
    lut = noise_lut(bg.noise.mean, bg.noise.std, bg.noise.wrap) if dynamic else np.zeros(256, dtype=np.uint8)
    return BackgroundPlan(
        static_val=static_val,
        static_cov=static_cov,
        pan=_pan(spec, seed, index, num_frames),
        dynamic_noise=dynamic,
        noise_key=rng.stream_key(seed, "background.noise"),
        lut=_xp.on_device(xp, lut, dev),
        distractors=_distractors(spec, seed, index, num_frames, masks) if bg.distractors.count[1] > 0 else None,
    )


def _pan(spec: Spec, seed: int, index: Any, num_frames: int) -> Any:
    """View offsets ``(B, T1, 2)``: start U{0..extent // 2 - 1} per axis; before each frame the view moves by
    U{pan} pixels per axis if ``offset + pan_max < extent`` (the segmentation notebook's rule)."""
    xp = _xp.namespace(index)
    bg = spec.background
    b = index.shape[0]
    extent = bg.extent
    start_max = max(extent // 2 - 1, 0)
    offset = rng.integers(seed, "background.pan.start", index, (2,), 0, start_max)
    low, high = bg.pan
    if high == 0:
        return _xp.broadcast_copy(xp, offset[:, None], (b, num_frames, 2))
    out = xp.empty((b, num_frames, 2), dtype=xp.int64, device=_xp.device_of(index))
    steps = rng.integers(seed, "background.pan.step", index, (num_frames, 2), low, high)
    for t in range(num_frames):
        move = offset + high < extent
        offset = xp.where(move, offset + steps[:, t], offset)
        out[:, t, ...] = offset
    return out


def _pixel_masks(present: Any, kind: Any, size: Any, apex: Any, side: int) -> Any:
    """Coverage ``(B, N, side, side)`` of each present shape's box from its corner, by :func:`shape_covers` at
    every pixel."""
    xp = _xp.namespace(kind)
    r = xp.arange(side, device=_xp.device_of(kind))
    mask = shape_covers(
        kind[..., None, None], size[..., 0, None, None], size[..., 1, None, None], apex[..., None, None],
        (xp.reshape(r, (1, 1, 1, side)), xp.reshape(r, (1, 1, side, 1))),
    )
    return mask & present[..., None, None]


def _distractors(spec: Spec, seed: int, index: Any, num_frames: int, masks: Callable | None = None) -> Distractors:
    """Moving shapes: start uniform inside the canvas, constant velocity, exact reflection at the canvas edges
    (a triangle wave), whole-pixel positions (rounded)."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    ds = spec.background.distractors
    n = ds.count[1]
    big = xp.asarray([float(spec.canvas.width), float(spec.canvas.height)], dtype=xp.float64, device=dev)
    count = rng.integers(seed, "background.distractors.count", index, (), *ds.count)
    present = xp.arange(n, device=dev)[None, :] < count[:, None]
    kind, size, apex = shape_geometry(seed, "background.distractors", index, n, ds.kinds, ds.size)
    value = levels(
        seed, "background.distractors.intensity", index, (n,), ds.intensity, spec.canvas.channels,
        spec.background.colour,
    )
    span = big - _xp.f64(xp, size)  # (B, N, 2) >= 0
    start = rng.uniform(seed, "background.distractors.start", index, (n, 2)) * span
    speed = rng.uniform(seed, "background.distractors.speed", index, (n,), *ds.speed)
    sin, cos = rng.sincos_turns(rng.uniform(seed, "background.distractors.direction", index, (n,)))
    velocity = xp.stack([cos * speed, sin * speed], axis=-1)
    t = xp.reshape(xp.arange(num_frames, dtype=xp.float64, device=dev), (1, -1, 1, 1))
    pos = start[:, None] + velocity[:, None] * t
    with _xp.quiet(xp):
        p = xp.where(span[:, None] > 0, pos / span[:, None], 0.0)
    p = _xp.mod(xp, p, 2.0)
    p = xp.minimum(p, 2.0 - p)
    position = xp.astype(xp.round(p * span[:, None]), xp.int64)
    side = int(ds.size[1])
    mask = (masks or _pixel_masks)(present, kind, size, apex, side)
    return Distractors(
        present=present, kind=kind, size=size, apex=apex, value=value, grey=xp.max(value, axis=-1),
        position=position, occlude=ds.occlude, mask=mask,
    )
