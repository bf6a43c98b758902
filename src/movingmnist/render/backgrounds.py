"""Background latents: a static background canvas per sequence (constant level, static noise or an image crop,
with random shapes painted over it), the view's pan offsets, dynamic noise parameters, and moving distractors.

Everything here is a pure function of (spec, seed, index): draws come from :mod:`movingmnist.rng` streams. The
numpy functions in this module are the reference; :mod:`movingmnist.render.fused` computes the same bytes.

Noise: a uniform random byte per pixel (splitmix64 words keyed like every other draw, 8 bytes per word) through a
256-entry lookup table of clipped Gaussian quantiles: ``lut[i] = clip(round(mean + std * Phi^-1((i + 0.5) / 256)),
0, 255)``. Clipped, never wrapped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import rng
from ..errors import SourceError
from ..spec import Spec

SHAPE_CODES = {"rectangle": 0, "ellipse": 1, "circle": 1, "triangle": 2}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@functools.lru_cache(maxsize=32)
def noise_lut(mean: float, std: float) -> np.ndarray:
    """256 clipped Gaussian quantiles (uint8): a uniform byte through it is N(mean, std), quantised and clipped."""
    normal = NormalDist()
    z = np.array([normal.inv_cdf((i + 0.5) / 256.0) for i in range(256)])
    lut = np.clip(np.floor(mean + std * z + 0.5), 0, 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def noise_bytes(seed: int, stream: str, index: np.ndarray, frames: int, rows: int, width: int) -> np.ndarray:
    """Uniform random bytes ``(B, frames, rows, width)`` uint8: row ``r`` of frame ``t`` is the little-endian bytes
    of the splitmix64 words at counters (t, r, 0..ceil(width / 8) - 1) of the stream."""
    words = (width + 7) // 8
    bits = rng.random_bits(seed, stream, index, (frames, rows, words))
    raw = bits.astype("<u8", copy=False).view(np.uint8).reshape(len(index), frames, rows, words * 8)
    return raw[..., :width]


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

    present: np.ndarray
    kind: np.ndarray
    size: np.ndarray
    apex: np.ndarray
    value: np.ndarray
    grey: np.ndarray
    position: np.ndarray
    occlude: bool
    mask: np.ndarray

    @property
    def count(self) -> int:
        return int(self.present.shape[1])


@dataclass(frozen=True)
class BackgroundPlan:
    """Background of a batch of sequences.

    Attributes:
        static_val: ``(B, C, Hb, Wb)`` uint8 background canvas, or None (nothing static).
        static_cov: ``(B, Hb, Wb)`` uint8, 1 where ``static_val`` shows, 0 where the dynamic base shows.
        pan: ``(B, T1, 2)`` int64 (x, y) offset of the view into the background canvas.
        dynamic_noise: noise redrawn each frame (in view coordinates) where ``static_cov`` is 0.
        noise_key: the 64-bit key of the dynamic noise stream. lut: ``(256,)`` uint8 noise lookup table.
        distractors: moving shapes or None.
    """

    static_val: np.ndarray | None
    static_cov: np.ndarray | None
    pan: np.ndarray
    dynamic_noise: bool
    noise_key: np.uint64
    lut: np.ndarray
    distractors: Distractors | None

    @property
    def panned(self) -> bool:
        return bool((self.pan != self.pan[:, :1]).any())


def plan_background(spec: Spec, seed: int, index: np.ndarray, num_frames: int, shapes_kernel=None) -> BackgroundPlan:
    """Background latents of sequences ``index (B,)`` over ``num_frames`` frames (T1)."""
    bg = spec.background
    index = np.asarray(index, dtype=np.int64)
    b = len(index)
    c = spec.canvas.channels
    big_h, big_w = spec.canvas.height + bg.extent, spec.canvas.width + bg.extent
    per_channel = bg.colour

    static_val = static_cov = None
    if bg.kind == "constant":
        level = _levels(seed, "background.level", index, (), bg.level, c, per_channel)  # (B, C)
        static_val = np.broadcast_to(level[:, :, None, None], (b, c, big_h, big_w)).copy()
    elif bg.kind == "noise" and not bg.noise.dynamic:
        lut = noise_lut(bg.noise.mean, bg.noise.std)
        rows = c * big_h if per_channel else big_h
        raw = noise_bytes(seed, "background.noise.static", index, 1, rows, big_w)[:, 0]
        static_val = lut[raw].reshape(b, -1, big_h, big_w)
        if static_val.shape[1] != c:
            static_val = np.broadcast_to(static_val, (b, c, big_h, big_w)).copy()
    elif bg.kind == "image":
        static_val = _image_crops(spec, seed, index, big_h, big_w)
    if static_val is not None:
        static_cov = np.ones((b, big_h, big_w), dtype=np.uint8)

    if bg.shapes.count[1] > 0:
        if static_val is None:
            static_val = np.zeros((b, c, big_h, big_w), dtype=np.uint8)
            static_cov = np.zeros((b, big_h, big_w), dtype=np.uint8)
        shapes = _sample_shapes(spec, seed, index, big_h, big_w)
        (shapes_kernel or paint_shapes_numpy)(static_val, static_cov, *shapes)

    pan = _pan(spec, seed, index, num_frames)
    dynamic = bg.kind == "noise" and bg.noise.dynamic
    lut = noise_lut(bg.noise.mean, bg.noise.std) if dynamic else np.zeros(256, dtype=np.uint8)
    distractors = _distractors(spec, seed, index, num_frames) if bg.distractors.count[1] > 0 else None
    return BackgroundPlan(
        static_val=static_val,
        static_cov=static_cov,
        pan=pan,
        dynamic_noise=dynamic,
        noise_key=rng.stream_key(seed, "background.noise"),
        lut=lut,
        distractors=distractors,
    )


def _levels(seed, stream, index, shape, bounds, c, per_channel) -> np.ndarray:
    """Grey or per-channel levels ``(B, *shape, C)`` uint8 in bounds (inclusive)."""
    low, high = bounds
    if per_channel:
        return rng.integers(seed, stream, index, (*shape, c), low, high).astype(np.uint8)
    grey = rng.integers(seed, stream, index, shape, low, high).astype(np.uint8)
    return np.repeat(grey[..., None], c, axis=-1)


def _pan(spec: Spec, seed: int, index: np.ndarray, num_frames: int) -> np.ndarray:
    """View offsets ``(B, T1, 2)``: start U{0..extent // 2 - 1} per axis; before each frame the view moves by
    U{pan} pixels per axis if ``offset + pan_max < extent`` (the segmentation notebook's rule)."""
    bg = spec.background
    b = len(index)
    extent = bg.extent
    start_max = max(extent // 2 - 1, 0)
    offset = rng.integers(seed, "background.pan.start", index, (2,), 0, start_max)
    out = np.empty((b, num_frames, 2), dtype=np.int64)
    low, high = bg.pan
    if high == 0:
        out[:] = offset[:, None]
        return out
    steps = rng.integers(seed, "background.pan.step", index, (num_frames, 2), low, high)
    for t in range(num_frames):
        move = offset + high < extent
        offset = np.where(move, offset + steps[:, t], offset)
        out[:, t] = offset
    return out


def _sample_shapes(spec: Spec, seed: int, index: np.ndarray, big_h: int, big_w: int):
    """Latents of the static shapes: present, kind, size, apex, topleft, value ``(B, N, ...)``."""
    sh = spec.background.shapes
    c = spec.canvas.channels
    n = sh.count[1]
    count = rng.integers(seed, "background.shapes.count", index, (), *sh.count)
    present = np.arange(n)[None, :] < count[:, None]
    kind, size, apex = _shape_geometry(seed, "background.shapes", index, n, sh.kinds, sh.size)
    u = rng.uniform(seed, "background.shapes.position", index, (n, 2))
    room = np.array([big_w, big_h]) - size + 1  # top-left in 0 .. big - size
    topleft = np.floor(u * room).astype(np.int64)
    value = _levels(seed, "background.shapes.intensity", index, (n,), sh.intensity, c, spec.background.colour)
    return present, kind, size, apex, topleft, value


def _shape_geometry(seed, stream, index, n, kinds, size_range):
    codes = np.array([SHAPE_CODES[k] for k in kinds], dtype=np.int64)
    circle = np.array([k == "circle" for k in kinds])
    which = rng.integers(seed, stream + ".kind", index, (n,), 0, len(kinds) - 1)
    kind = codes[which]
    size = rng.integers(seed, stream + ".size", index, (n, 2), *size_range)
    size[..., 1] = np.where(circle[which], size[..., 0], size[..., 1])
    apex = rng.uniform(seed, stream + ".apex", index, (n,))
    return kind, size, apex


def _distractors(spec: Spec, seed: int, index: np.ndarray, num_frames: int) -> Distractors:
    """Moving shapes: start uniform inside the canvas, constant velocity, exact reflection at the canvas edges
    (a triangle wave), whole-pixel positions (rounded)."""
    ds = spec.background.distractors
    c = spec.canvas.channels
    n = ds.count[1]
    big = np.array([spec.canvas.width, spec.canvas.height], dtype=np.float64)
    count = rng.integers(seed, "background.distractors.count", index, (), *ds.count)
    present = np.arange(n)[None, :] < count[:, None]
    kind, size, apex = _shape_geometry(seed, "background.distractors", index, n, ds.kinds, ds.size)
    value = _levels(seed, "background.distractors.intensity", index, (n,), ds.intensity, c, spec.background.colour)
    grey = value.max(axis=-1)
    span = big - size  # (B, N, 2) >= 0
    start = rng.uniform(seed, "background.distractors.start", index, (n, 2)) * span
    speed = rng.uniform(seed, "background.distractors.speed", index, (n,), *ds.speed)
    sin, cos = rng.sincos_turns(rng.uniform(seed, "background.distractors.direction", index, (n,)))
    velocity = np.stack([cos * speed, sin * speed], axis=-1)
    t = np.arange(num_frames, dtype=np.float64).reshape(1, -1, 1, 1)
    pos = start[:, None] + velocity[:, None] * t
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(span[:, None] > 0, pos / span[:, None], 0.0)
    p = np.mod(p, 2.0)
    p = np.minimum(p, 2.0 - p)
    position = np.rint(p * span[:, None]).astype(np.int64)
    side = int(ds.size[1])
    r = np.arange(side)
    mask = shape_covers(
        kind[..., None, None], size[..., 0, None, None], size[..., 1, None, None], apex[..., None, None],
        r[None, None, None, :], r[None, None, :, None],
    )
    mask &= present[..., None, None]
    return Distractors(
        present=present,
        kind=kind,
        size=size,
        apex=apex,
        value=value,
        grey=grey.astype(np.uint8),
        position=position,
        occlude=ds.occlude,
        mask=np.ascontiguousarray(mask),
    )


def shape_covers(kind, sw, sh, apex, rx, ry) -> np.ndarray:
    """Whether pixel (rx, ry) of a shape's box (integer offsets from its top-left) is inside the shape.

    Rectangle: the box. Ellipse: the inscribed ellipse, tested at the pixel centre. Triangle: apex on the top edge
    at ``apex * width``, base along the bottom edge; edge functions at the pixel centre. Arrays broadcast.
    """
    inbox = (rx >= 0) & (rx < sw) & (ry >= 0) & (ry < sh)
    dx = (2.0 * rx + 1.0 - sw) / sw
    dy = (2.0 * ry + 1.0 - sh) / sh
    ellipse = dx * dx + dy * dy <= 1.0
    px = rx + 0.5
    py = ry + 0.5
    ax = apex * sw
    # Edges A -> B (apex to bottom-left) and C -> A (bottom-right to apex); the base is the box's bottom edge.
    e1 = (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax)
    e2 = (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw)
    triangle = (e1 <= 0.0) & (e2 <= 0.0)
    inside = np.where(kind == 0, True, np.where(kind == 1, ellipse, triangle))
    return inbox & inside


def paint_shapes_numpy(val, cov, present, kind, size, apex, topleft, value) -> None:
    """Paint shapes ``(B, N)`` in slot order over ``val (B, C, Hb, Wb)`` and mark them in ``cov (B, Hb, Wb)``."""
    b, c, big_h, big_w = val.shape
    n = present.shape[1]
    if n == 0:
        return
    s = int(size.max())
    r = np.arange(s)
    bi = np.arange(b)[:, None, None]
    for j in range(n):
        sw = size[:, j, 0][:, None, None]
        sh = size[:, j, 1][:, None, None]
        inside = shape_covers(kind[:, j][:, None, None], sw, sh, apex[:, j][:, None, None], r[None, None, :],
                              r[None, :, None])
        inside &= present[:, j][:, None, None]
        ys = topleft[:, j, 1][:, None, None] + r[None, :, None]
        xs = topleft[:, j, 0][:, None, None] + r[None, None, :]
        inside &= (ys < big_h) & (xs < big_w)
        ys, xs = np.minimum(ys, big_h - 1), np.minimum(xs, big_w - 1)
        bb, yy, xx = np.broadcast_arrays(bi, ys, xs)
        bb, yy, xx = bb[inside], yy[inside], xx[inside]
        cov[bb, yy, xx] = 1
        for ch in range(c):
            val[bb, ch, yy, xx] = value[:, j, ch][bb]


# -- images ----------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def load_image_bank(folder: str, channels: int, side: int) -> np.ndarray:
    """Images of ``folder`` (sorted by path, recursively) as ``(n, C, side, side)`` uint8: converted to grey or RGB,
    resized (bilinear) so that the shorter side is ``side``, centre-cropped to a square."""
    from PIL import Image

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SourceError(f"background.image_folder={folder!r} is not allowed: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SourceError(
            f"background.image_folder={folder!r} is not allowed: it holds no images ({', '.join(IMAGE_SUFFIXES)})"
        )
    out = np.empty((len(files), channels, side, side), dtype=np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as image:
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


def _image_crops(spec: Spec, seed: int, index: np.ndarray, big_h: int, big_w: int) -> np.ndarray:
    """A random crop ``(B, C, Hb, Wb)`` of a random image of the folder per sequence."""
    side = 2 * max(big_h, big_w)
    bank = load_image_bank(str(spec.background.image_folder), spec.canvas.channels, side)
    n, c = bank.shape[:2]
    choice = rng.integers(seed, "background.image", index, (), 0, n - 1)
    oy = rng.integers(seed, "background.image.crop", index, (), 0, side - big_h)
    ox = rng.integers(seed, "background.image.crop_x", index, (), 0, side - big_w)
    s = bank.strides
    shape = (n, side - big_h + 1, side - big_w + 1, c, big_h, big_w)
    windows = as_strided(bank, shape, (s[0], s[2], s[3], s[1], s[2], s[3]))
    return np.ascontiguousarray(windows[choice, oy, ox])
