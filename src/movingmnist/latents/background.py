"""Background latents: a static background canvas per sequence (constant level, static noise or an image crop,
with random shapes painted over it), the view's pan offsets, dynamic noise parameters, and moving distractors.

Everything here is a pure function of (spec, seed, index): draws come from :mod:`movingmnist.latents.rng` streams,
and every function is written once over the array namespace of ``index`` (numpy, or torch on any device: the same
bits). The numba kernel of the general renderer recomputes the dynamic noise and paints shapes itself, with the
same bytes.

Noise: a uniform random byte per pixel (splitmix64 words keyed like every other draw, 8 bytes per word) through a
256-entry lookup table of clipped Gaussian quantiles: ``lut[i] = clip(round(mean + std * Phi^-1((i + 0.5) / 256)),
0, 255)``: clipped (``noise.wrap`` wraps instead, as the segmentation notebook did).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from ..errors import SourceError
from ..limits import check_memory
from ..spec import Spec
from . import rng
from . import xp as _xp

SHAPE_CODES = {"rectangle": 0, "ellipse": 1, "circle": 1, "triangle": 2}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


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
class Shapes:
    """Static shapes of a batch (N slots), ``(B, N, ...)``: present bool; kind int64 (0 rectangle, 1 ellipse,
    2 triangle); size ``(B, N, 2)`` int64 width, height; apex float64 triangle apex in [0, 1); topleft ``(B, N, 2)``
    int64 (x, y); value ``(B, N, C)`` uint8."""

    present: Any
    kind: Any
    size: Any
    apex: Any
    topleft: Any
    value: Any


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
    spec: Spec, seed: int, index: Any, num_frames: int, paint: ShapePainter | None = None, mix: Callable = mix_words
) -> BackgroundPlan:
    """Background latents of sequences ``index (B,)`` over ``num_frames`` frames (T1).

    Args:
        paint: paints :class:`Shapes` over ``(static_val, static_cov)`` (default :func:`paint_shapes`; the numba
            kernel has its own, with the same bytes).
        mix: the splitmix64 word function for the static noise (default :func:`mix_words`; torch may compile it).
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
        level = _levels(seed, "background.level", index, (), bg.level, c, per_channel)  # (B, C)
        static_val = _xp.broadcast_copy(xp, level[:, :, None, None], (b, c, big_h, big_w))
    elif bg.kind == "noise" and not bg.noise.dynamic:
        lut = _xp.on_device(xp, noise_lut(bg.noise.mean, bg.noise.std, bg.noise.wrap), dev)
        rows = c * big_h if per_channel else big_h
        raw = noise_bytes(seed, "background.noise.static", index, NoiseRows(1, rows, big_w), mix=mix)[:, 0]
        static_val = xp.reshape(_xp.lookup(xp, lut, raw), (b, -1, big_h, big_w))
        if static_val.shape[1] != c:
            static_val = _xp.broadcast_copy(xp, static_val, (b, c, big_h, big_w))
    elif bg.kind == "image":
        static_val = _image_crops(spec, seed, index, big_h, big_w)
    if static_val is not None:
        static_cov = xp.ones((b, big_h, big_w), dtype=xp.uint8, device=dev)

    if bg.shapes.count[1] > 0:
        if static_val is None:
            static_val = xp.zeros((b, c, big_h, big_w), dtype=xp.uint8, device=dev)
            static_cov = xp.zeros((b, big_h, big_w), dtype=xp.uint8, device=dev)
        (paint or paint_shapes)(static_val, static_cov, _sample_shapes(spec, seed, index, big_h, big_w))

    dynamic = bg.kind == "noise" and bg.noise.dynamic
    lut = noise_lut(bg.noise.mean, bg.noise.std, bg.noise.wrap) if dynamic else np.zeros(256, dtype=np.uint8)
    return BackgroundPlan(
        static_val=static_val,
        static_cov=static_cov,
        pan=_pan(spec, seed, index, num_frames),
        dynamic_noise=dynamic,
        noise_key=rng.stream_key(seed, "background.noise"),
        lut=_xp.on_device(xp, lut, dev),
        distractors=_distractors(spec, seed, index, num_frames) if bg.distractors.count[1] > 0 else None,
    )


def _levels(seed, stream, index, shape, bounds, c, per_channel) -> Any:
    """Grey or per-channel levels ``(B, *shape, C)`` uint8 in bounds (inclusive)."""
    xp = _xp.namespace(index)
    low, high = bounds
    if per_channel:
        return xp.astype(rng.integers(seed, stream, index, (*shape, c), low, high), xp.uint8)
    grey = xp.astype(rng.integers(seed, stream, index, shape, low, high), xp.uint8)
    return _xp.broadcast_copy(xp, grey[..., None], (*grey.shape, c))


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


def _sample_shapes(spec: Spec, seed: int, index: Any, big_h: int, big_w: int) -> Shapes:
    """Latents of the static shapes."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    sh = spec.background.shapes
    n = sh.count[1]
    count = rng.integers(seed, "background.shapes.count", index, (), *sh.count)
    present = xp.arange(n, device=dev)[None, :] < count[:, None]
    if sh.placement == "skimage":
        kind, size, apex, topleft = _skimage_geometry(seed, index, n, sh.kinds, sh.size, big_h, big_w)
        value = _levels(
            seed, "background.shapes.intensity", index, (n,), sh.intensity, spec.canvas.channels,
            spec.background.colour,
        )
        return Shapes(present=present, kind=kind, size=size, apex=apex, topleft=topleft, value=value)
    kind, size, apex = _shape_geometry(seed, "background.shapes", index, n, sh.kinds, sh.size)
    u = rng.uniform(seed, "background.shapes.position", index, (n, 2))
    room = xp.asarray([big_w, big_h], dtype=xp.int64, device=dev) - size + 1  # top-left in 0 .. big - size
    topleft = xp.astype(xp.floor(u * _xp.f64(xp, room)), xp.int64)
    value = _levels(
        seed, "background.shapes.intensity", index, (n,), sh.intensity, spec.canvas.channels, spec.background.colour
    )
    return Shapes(present=present, kind=kind, size=size, apex=apex, topleft=topleft, value=value)


def _skimage_geometry(seed, index, n, kinds, size_range, big_h, big_w):
    """``placement="skimage"``: kind, box size ``(B, N, 2)`` (w, h), apex and top-left ``(B, N, 2)`` (x, y) of each
    shape as ``skimage.draw.random_shapes`` draws them (overlap allowed), in this package's shape geometry.

    Start point (row, col) uniform in ``0 .. dim - low - 1``; circles and ellipses, which do not fit on row or
    column 0, take it uniform in ``1 .. dim - low - 1`` (what redrawing until it fits amounts to). Then, with
    ``k ~ U{0..max(1, m) - 1}`` for each bound ``m``:

    - rectangle: from the point, ``low + k`` pixels right and down, ``m = min(dim - point, high) - low`` per axis;
    - circle: radius ``floor(low / 2) + k``, ``m = min(col, W - col, row, H - row, floor(high / 2)) - floor(low / 2)``,
      centred on the point (box ``2 radius - 1``);
    - triangle: side ``s = low - 1 + k``, ``m = min(W - col, row, high) - low``, height ``ceil(sqrt(3/4) s)``: base
      from the point ``s`` pixels right, apex above its middle (box ``s + 1`` by ``height + 1``);
    - ellipse: radii ``U(low / 2, a + 1)`` per axis, ``a = min(col, W - col, row, H - row, high / 2)``, centred on
      the point (axis-aligned: skimage turns them by a uniform angle; the area is the same).
    """
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    low, high = (float(v) for v in size_range)
    names = list(kinds)
    which = rng.integers(seed, "background.shapes.kind", index, (n,), 0, len(names) - 1)

    def is_kind(name: str) -> Any:
        table = xp.asarray([k == name for k in names], dtype=xp.bool, device=dev)
        return table[which]

    rect, circle, tri, ell = (is_kind(k) for k in ("rectangle", "circle", "triangle", "ellipse"))
    dims = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)  # (x, y)
    span = xp.maximum(dims - low, 1.0)  # points 0 .. span - 1
    first = xp.where(circle | ell, 1.0, 0.0)[..., None]
    first = xp.minimum(first, span - 1.0)
    u = rng.uniform(seed, "background.shapes.point", index, (n, 2))
    point = first + xp.floor(u * (span - first))  # (B, N, 2): col, row
    col, row = point[..., 0], point[..., 1]
    k = rng.uniform(seed, "background.shapes.extent", index, (n, 2))

    def pick(m: Any, j: int) -> Any:  # U{0 .. max(1, m) - 1}
        return xp.floor(k[..., j] * xp.maximum(xp.floor(m), 1.0))

    # rectangles
    rect_w = low + pick(xp.minimum(dims[0] - col, high) - low, 0)
    rect_h = low + pick(xp.minimum(dims[1] - row, high) - low, 1)
    # circles
    lo_r = math.floor(low / 2.0)
    room = xp.minimum(xp.minimum(col, dims[0] - col), xp.minimum(row, dims[1] - row))
    radius = lo_r + pick(xp.minimum(room, math.floor(high / 2.0)) - lo_r, 0)
    disk = xp.maximum(2.0 * radius - 1.0, 1.0)
    # triangles
    side = low - 1.0 + pick(xp.minimum(xp.minimum(dims[0] - col, row), high) - low, 0)
    tri_h = xp.ceil(math.sqrt(0.75) * side)
    # ellipses
    avail = xp.minimum(room, high / 2.0)
    radii = low / 2.0 + k * (avail[..., None] + 1.0 - low / 2.0)  # (B, N, 2): x, y radii
    ell_wh = xp.maximum(xp.floor(2.0 * radii - 1.0 + 0.5), 1.0)

    w = xp.where(rect, rect_w, xp.where(circle, disk, xp.where(tri, side + 1.0, ell_wh[..., 0])))
    h = xp.where(rect, rect_h, xp.where(circle, disk, xp.where(tri, tri_h + 1.0, ell_wh[..., 1])))
    x0 = xp.where(rect | tri, col, col - xp.floor((w - 1.0) / 2.0))
    y0 = xp.where(rect, row, xp.where(tri, row - tri_h, row - xp.floor((h - 1.0) / 2.0)))
    # A one-pixel triangle on row 0 has its apex above the canvas (skimage clips it): cut the box to the canvas.
    h = h - xp.maximum(-y0, 0.0)
    y0 = xp.maximum(y0, 0.0)
    apex = xp.where(tri, (xp.floor(side / 2.0) + 0.5) / (side + 1.0), 0.5)
    codes = xp.asarray([SHAPE_CODES[k] for k in names], dtype=xp.int64, device=dev)
    size = xp.astype(xp.stack([w, h], axis=-1), xp.int64)
    topleft = xp.astype(xp.stack([x0, y0], axis=-1), xp.int64)
    return codes[which], size, apex, topleft


def _shape_geometry(seed, stream, index, n, kinds, size_range):
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    codes = xp.asarray([SHAPE_CODES[k] for k in kinds], dtype=xp.int64, device=dev)
    circle = xp.asarray([k == "circle" for k in kinds], dtype=xp.bool, device=dev)
    which = rng.integers(seed, stream + ".kind", index, (n,), 0, len(kinds) - 1)
    kind = codes[which]
    size = rng.integers(seed, stream + ".size", index, (n, 2), *size_range)
    size[..., 1] = xp.where(circle[which], size[..., 0], size[..., 1])
    apex = rng.uniform(seed, stream + ".apex", index, (n,))
    return kind, size, apex


def _distractors(spec: Spec, seed: int, index: Any, num_frames: int) -> Distractors:
    """Moving shapes: start uniform inside the canvas, constant velocity, exact reflection at the canvas edges
    (a triangle wave), whole-pixel positions (rounded)."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    ds = spec.background.distractors
    n = ds.count[1]
    big = xp.asarray([float(spec.canvas.width), float(spec.canvas.height)], dtype=xp.float64, device=dev)
    count = rng.integers(seed, "background.distractors.count", index, (), *ds.count)
    present = xp.arange(n, device=dev)[None, :] < count[:, None]
    kind, size, apex = _shape_geometry(seed, "background.distractors", index, n, ds.kinds, ds.size)
    value = _levels(
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
    r = xp.arange(side, device=dev)
    mask = shape_covers(
        kind[..., None, None], size[..., 0, None, None], size[..., 1, None, None], apex[..., None, None],
        (xp.reshape(r, (1, 1, 1, side)), xp.reshape(r, (1, 1, side, 1))),
    )
    mask = mask & present[..., None, None]
    return Distractors(
        present=present, kind=kind, size=size, apex=apex, value=value, grey=xp.max(value, axis=-1),
        position=position, occlude=ds.occlude, mask=mask,
    )


def shape_covers(kind: Any, sw: Any, sh: Any, apex: Any, pixel: tuple[Any, Any]) -> Any:
    """Whether pixel ``(rx, ry)`` of a shape's box (integer offsets from its top-left) is inside the shape.

    Rectangle: the box. Ellipse: the inscribed ellipse, tested at the pixel centre. Triangle: apex on the top edge
    at ``apex * width``, base along the bottom edge; edge functions at the pixel centre. Arrays broadcast; integers
    are converted to float64 first, so every backend does the same IEEE operations on the same operands.
    """
    rx, ry = pixel
    xp = _xp.namespace(rx, sw)
    swf, shf, rxf, ryf = (_xp.f64(xp, v) for v in (sw, sh, rx, ry))
    inbox = ((rx >= 0) & (rx < sw)) & ((ry >= 0) & (ry < sh))
    dx = (2.0 * rxf + 1.0 - swf) / swf
    dy = (2.0 * ryf + 1.0 - shf) / shf
    ellipse = dx * dx + dy * dy <= 1.0
    px = rxf + 0.5
    py = ryf + 0.5
    ax = apex * swf
    # Edges A -> B (apex to bottom-left) and C -> A (bottom-right to apex); the base is the box's bottom edge.
    e1 = (0.0 - ax) * (py - 0.0) - (shf - 0.0) * (px - ax)
    e2 = (ax - swf) * (py - shf) - (0.0 - shf) * (px - swf)
    triangle = (e1 <= 0.0) & (e2 <= 0.0)
    inside = xp.where(kind == 0, True, xp.where(kind == 1, ellipse, triangle))
    return inbox & inside


@dataclass(frozen=True)
class ShapeSlot:
    """One shape slot of every sequence, each array ``(B, 1, 1)`` (broadcast over the box's rows and columns)."""

    kind: Any
    width: Any
    height: Any
    apex: Any
    present: Any
    x0: Any
    y0: Any


def shape_pixels(slot: ShapeSlot, r: Any, canvas_hw: tuple[int, int], plane: Any, trash: int) -> tuple[Any, Any]:
    """Coverage ``(B, S, S)`` of one shape slot of every sequence on its background canvas (box at ``x0, y0``,
    clipped to the canvas) and the flat canvas index of each covered pixel (``trash`` elsewhere); ``r = arange(S)``,
    ``plane (B, 1, 1)`` the offset of each sequence's canvas. Pure array code (torch may compile it)."""
    xp = _xp.namespace(r)
    big_h, big_w = canvas_hw
    s = r.shape[0]
    rows, cols = xp.reshape(r, (1, s, 1)), xp.reshape(r, (1, 1, s))
    inside = shape_covers(slot.kind, slot.width, slot.height, slot.apex, (cols, rows)) & slot.present
    ys = slot.y0 + rows
    xs = slot.x0 + cols
    inside = inside & ((ys < big_h) & (xs < big_w))
    return inside, xp.where(inside, plane + ys * big_w + xs, trash)


def paint_shapes(val: Any, cov: Any, shapes: Shapes, kernel: Callable = shape_pixels) -> None:
    """Paint ``shapes`` in slot order over ``val (B, C, Hb, Wb)`` and mark them in ``cov (B, Hb, Wb)``, in place:
    each shape's box is scattered into flat canvases, pixels outside it go to a trash element."""
    xp = _xp.namespace(val)
    dev = _xp.device_of(val)
    b, c, big_h, big_w = val.shape
    n = shapes.present.shape[1]
    if n == 0:
        return
    s = int(xp.max(shapes.size)) if b else 0
    r = xp.arange(s, device=dev)
    hw = big_h * big_w
    trash = b * hw
    cov_flat = xp.zeros(trash + 1, dtype=xp.uint8, device=dev)
    cov_flat[:trash] = xp.reshape(cov, (-1,))
    val_flat = xp.zeros(c * trash + 1, dtype=xp.uint8, device=dev)
    val_flat[: c * trash] = xp.reshape(xp.permute_dims(val, (1, 0, 2, 3)), (-1,))  # channel-major: (C, B, Hb, Wb)
    plane = xp.reshape(xp.arange(b, device=dev), (b, 1, 1)) * hw

    def column(a: Any, j: int) -> Any:
        return xp.reshape(a[:, j], (b, 1, 1))

    for j in range(n):
        slot = ShapeSlot(
            kind=column(shapes.kind, j), width=column(shapes.size[..., 0], j), height=column(shapes.size[..., 1], j),
            apex=column(shapes.apex, j), present=column(shapes.present, j), x0=column(shapes.topleft[..., 0], j),
            y0=column(shapes.topleft[..., 1], j),
        )
        inside, idx = kernel(slot, r, (big_h, big_w), plane, trash)
        cov_flat[idx] = 1
        for ch in range(c):
            target = xp.where(inside, idx + ch * trash, c * trash)
            val_flat[target] = xp.broadcast_to(column(shapes.value[..., ch], j), (b, s, s))
    cov[...] = xp.reshape(cov_flat[:trash], (b, big_h, big_w))
    val[...] = xp.permute_dims(xp.reshape(val_flat[: c * trash], (c, b, big_h, big_w)), (1, 0, 2, 3))


# -- images ----------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def load_image_bank(folder: str, channels: int, side: int) -> np.ndarray:
    """Images of ``folder`` (sorted by path, recursively) as ``(n, C, side, side)`` uint8: converted to grey or RGB,
    resized (bilinear) so that the shorter side is ``side``, centre-cropped to a square."""
    from PIL import Image

    from ..sources.folder import check_inside, open_image

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SourceError(f"background.image_folder={folder!r} is not allowed: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SourceError(
            f"background.image_folder={folder!r} is not allowed: it holds no images ({', '.join(IMAGE_SUFFIXES)})"
        )
    check_memory(
        "background.image_folder", folder, len(files) * channels * side * side,
        f"{len(files):,} background images of {channels}x{side}x{side} (twice the canvas' longer side)",
        "use fewer images or a smaller canvas",
    )
    out = np.empty((len(files), channels, side, side), dtype=np.uint8)
    real_root = os.path.realpath(root)
    for i, path in enumerate(files):
        check_inside(path, real_root)  # as for glyph folders: no links out, no image past the pixel cap
        with open_image(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            w, h = image.size
            scale = side / min(w, h)
            nw, nh = max(side, round(w * scale)), max(side, round(h * scale))
            image = image.resize((nw, nh), Image.BILINEAR)
            left, top = (nw - side) // 2, (nh - side) // 2
            array = np.asarray(image.crop((left, top, left + side, top + side)))
        out[i] = array.reshape(side, side, channels).transpose(2, 0, 1)
    out.setflags(write=False)
    return out


def _image_crops(spec: Spec, seed: int, index: Any, big_h: int, big_w: int) -> Any:
    """A random crop ``(B, C, Hb, Wb)`` of a random image of the folder per sequence."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    side = 2 * max(big_h, big_w)
    bank = _xp.on_device(xp, load_image_bank(str(spec.background.image_folder), spec.canvas.channels, side), dev)
    n, c = bank.shape[:2]
    choice = rng.integers(seed, "background.image", index, (), 0, n - 1)
    oy = rng.integers(seed, "background.image.crop", index, (), 0, side - big_h)
    ox = rng.integers(seed, "background.image.crop_x", index, (), 0, side - big_w)
    ch = xp.reshape(xp.arange(c, device=dev), (1, c, 1, 1))
    ry = xp.reshape(xp.arange(big_h, device=dev), (1, 1, big_h, 1))
    rx = xp.reshape(xp.arange(big_w, device=dev), (1, 1, 1, big_w))
    rows = xp.reshape(oy, (-1, 1, 1, 1)) + ry
    cols = xp.reshape(ox, (-1, 1, 1, 1)) + rx
    return bank[xp.reshape(choice, (-1, 1, 1, 1)), ch, rows, cols]
