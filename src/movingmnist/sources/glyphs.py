"""``glyphs@1``: built-in procedural digits in the manner of a font, needing no download.

Kept byte for byte for the datasets made with it (``glyphs`` meant this before ``glyphs@2``, :mod:`.handwriting`).

Each digit 0-9 has a few styles (a ``1`` with or without flag and base, an open or a closed ``4``, ...), each
a set of strokes through control points in a unit box. Glyph ``i`` of a split is a pure function of
``(split, i)``: every random number it uses is a counter-based hash (splitmix64) of the split's key, ``i``
and the number of the draw, so it does not depend on which other glyphs are rendered with it, on how many,
or on any global random state. Per glyph the draws pick the style and perturb it: control-point jitter, pen
pressure along the strokes, a smooth warp (proportions, taper, bow), slant, rotation, aspect ratio, size,
stroke width and ink gain.

Rendering, vectorised over the glyphs of one style (a Python loop over styles and chunks, never glyphs):

1. jitter and warp the control points and apply the glyph's affine map;
2. sample each stroke as a Catmull-Rom spline through its points (fixed samples per segment, ~0.6 px apart);
3. fit into MNIST's frame: scale so the larger side of the ink spans the glyph's size (at most 20 px) and
   move the centre of mass (of the stroke centre lines, weighted by arc length) to pixel (14, 14), as MNIST
   does; the rare glyph that would then leave the canvas is shrunk instead of moved;
4. splat the samples bilinearly (weight = arc length x pressure x gain), blur with a per-glyph 3-tap kernel
   along each axis and map through a saturating tone curve: thick, anti-aliased white strokes on black.

Only additions, multiplications, divisions and square roots touch the random values (no sin, exp or other
libm function), so the output should not depend on the platform; the tests pin a hash of it. Any change of
the output is a new :data:`VERSION`.

Splits: ``train`` has 60,000 glyphs and ``test`` 10,000 (drawn with different keys), like MNIST; ``val`` is
carved from the end of ``train``. Labels are ``index % 10``, so every split is balanced. Rendering all
70,000 takes about half a second on one core.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SourceError
from .bank import GlyphBank, procedural_bank

__all__ = ["CLASS_NAMES", "SPLIT_SIZES", "VERSION", "load_glyphs", "render_glyphs"]

VERSION = 1  # of the glyphs' design: bumped by any change of their pixels
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
CLASS_NAMES = tuple(str(d) for d in range(10))
SIZE = 28  # canvas side, as MNIST
BOX = 20.0  # MNIST fits each digit's larger side into 20 px
CENTRE = SIZE // 2  # where MNIST puts the centre of mass, in pixel-index coordinates (14, 14)
SAMPLE_STEP = 0.6  # nominal distance between stroke samples, in pixels at the 20 px scale
THRESHOLD = 0.15  # ink below this is background
_CHUNK = 1024  # glyphs rendered at once: keeps the working set in cache; does not change the output

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser of ``x + golden``, elementwise on uint64 arrays (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _split_key(split: str) -> np.ndarray:
    digest = hashlib.sha256(f"movingmnist.glyphs/{split}".encode()).digest()
    return np.array([int.from_bytes(digest[:8], "little")], _U64)


# Slots of the per-glyph random draws. A draw's value depends only on (split, index, slot), so adding a
# slot never changes the others. Control-point jitter uses 3 slots per point from _JITTER on.
_STYLE, _SLANT, _ROTATE, _ASPECT, _SIZE, _WIDTH, _GAIN, _WOBBLE, _BEND, _TAPER, _BOW = range(11)
_JITTER = 16


def _uniforms(split: str, indices: np.ndarray, n_draws: int) -> np.ndarray:
    """``(N, n_draws)`` float64 uniforms in [0, 1): draw ``j`` of glyph ``indices[n]`` of ``split``."""
    per_glyph = _splitmix64(_splitmix64(indices.astype(_U64)) ^ _split_key(split))
    counters = per_glyph[:, None] + np.arange(1, n_draws + 1, dtype=_U64) * _GOLDEN
    return (_splitmix64(counters) >> _U64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True, eq=False)
class _Style:
    """One way of writing a digit: strokes through shared control points in a unit box (x right, y down).

    Attributes:
        points: ``(M, 2)`` control points; strokes meeting at a corner share the point, so they stay joined.
        strokes: per stroke, the indices into ``points`` it passes through; a stroke whose first and last
            index are equal is a closed loop.
        weight: relative frequency of this style among the digit's styles.
    """

    points: np.ndarray
    strokes: tuple[tuple[int, ...], ...]
    weight: float


def catmull_rom(t: np.ndarray) -> np.ndarray:
    """``(N, 4)`` weights of the uniform Catmull-Rom basis for points p0..p3 at ``t (N,)`` in [0, 1]."""
    t2, t3 = t * t, t * t * t
    return 0.5 * np.stack([-t3 + 2 * t2 - t, 3 * t3 - 5 * t2 + 2, -3 * t3 + 4 * t2 + t, t3 - t2], axis=1)


def _style(weight: float, strokes: str) -> _Style:
    """A style from ``"x,y x,y ... | x,y ..."``: strokes separated by ``|``, points in hundredths of the box.

    Equal coordinates become one shared control point.
    """
    paths = [
        [tuple(int(c) / 100 for c in point.split(",")) for point in stroke.split()]
        for stroke in strokes.split("|")
    ]
    index: dict[tuple[float, ...], int] = {}
    for path in paths:
        for point in path:
            index.setdefault(point, len(index))
    points = np.array(list(index), np.float64)
    return _Style(points, tuple(tuple(index[p] for p in path) for path in paths), weight)


# The digits: (weight, strokes) per style, in a unit-high box (y down); widths are the digit's natural width.
_STYLES: dict[int, tuple[_Style, ...]] = {
    0: (
        _style(1.0, "38,0 10,14 0,50 10,86 38,100 65,86 75,50 65,14 38,0"),
        _style(0.5, "45,2 15,10 0,50 10,88 38,100 65,86 72,45 60,10 32,6"),  # the pen overshoots the start
    ),
    1: (
        _style(1.0, "35,0 33,50 30,100"),
        _style(0.7, "17,15 35,0 | 35,0 33,50 30,100"),  # short flag
        _style(0.3, "17,15 35,0 | 35,0 33,50 30,100 | 10,100 30,100 50,100"),  # flag and base
    ),
    2: (
        _style(1.0, "5,22 30,0 60,5 68,30 50,56 22,80 0,100 | 0,100 38,97 75,100"),
        _style(0.35, "5,22 30,0 60,5 68,30 50,56 20,82 5,97 15,102 30,88 32,96 55,100 78,96"),  # looped base
    ),
    3: (
        _style(1.0, "5,12 35,0 62,12 60,35 30,48 | 30,48 68,62 68,88 38,100 0,90"),
        _style(0.3, "5,0 65,0 | 65,0 30,42 | 30,42 68,60 66,90 35,100 0,88"),  # flat top, like a z
    ),
    4: (
        _style(0.6, "55,0 0,68 | 0,68 40,68 78,68 | 55,0 55,50 55,100"),  # closed, as printed
        _style(1.0, "10,0 2,60 | 2,60 40,62 78,58 | 60,5 58,55 55,100"),  # open top, stem crossing the bar
    ),
    5: (_style(1.0, "70,0 12,2 | 12,2 8,45 | 8,45 40,38 68,55 68,82 40,100 0,90"),),
    6: (_style(1.0, "62,0 35,18 12,45 4,72 16,95 40,100 60,88 62,68 42,56 14,66"),),
    7: (
        _style(1.0, "0,2 75,0 | 75,0 50,45 35,100"),
        _style(0.35, "0,2 75,0 | 75,0 50,45 35,100 | 25,52 72,48"),  # crossbar
    ),
    8: (
        _style(
            1.0, "62,12 35,0 10,12 12,35 38,50 65,68 62,92 35,100 5,90 8,68 38,50 60,35 62,12"
        ),  # one stroke
        _style(0.3, "35,46 12,32 15,8 38,0 60,10 60,32 35,46 | 35,46 68,62 65,92 35,100 5,90 5,62 35,46"),
    ),
    9: (
        _style(1.0, "65,18 40,0 10,10 5,32 30,46 60,38 65,18 | 65,18 62,60 58,100"),  # straight stem
        _style(0.4, "65,18 40,0 10,10 5,32 30,46 60,38 65,18 | 65,18 66,60 50,92 25,100"),  # hooked tail
    ),
}


@dataclass(frozen=True, eq=False)
class _Sampling:
    """How a style's strokes are sampled: each sample is a weighted sum of 4 control points.

    Attributes:
        taps: ``(4, P)`` indices into the style's control points.
        weights: ``(4, P)`` Catmull-Rom basis weights.
        prev, next: ``(P,)`` neighbouring samples along the stroke (at an open end: ``next`` is the sample
            itself and ``prev`` the other end, whose step to its ``next`` is 0); half the distance to each
            is the arc length a sample stands for.
    """

    taps: np.ndarray
    weights: np.ndarray
    prev: np.ndarray
    next: np.ndarray


def stroke_segments(
    style: _Style, ids: list[int], closed: bool, box: float, step: float
) -> Iterator[tuple[list[int], np.ndarray]]:
    """The Catmull-Rom segments of one stroke through ``style.points[ids]``: per segment the four control points
    ``quad`` and the ``(n, 4)`` weights of its samples, about ``step`` px apart at ``box`` px per unit. An open
    stroke's ends get phantom points (2 p0 - p1 and 2 p_end - p_end-1) folded into the weights, so its tangent there
    is never zero; its last segment also samples t = 1."""
    k = len(ids)
    n_segments = k if closed else k - 1
    for s in range(n_segments):
        # Neighbours of segment s; an open end repeats its end point (the phantom point is folded in below).
        quad = [ids[(s + j) % k] if closed else ids[min(max(s + j, 0), k - 1)] for j in (-1, 0, 1, 2)]
        chord = np.linalg.norm(style.points[quad[2]] - style.points[quad[1]])
        n = max(2, int(np.ceil(chord * box / step)))
        last = s == n_segments - 1 and not closed
        w = catmull_rom(np.arange(n + last) / n)
        if not closed and s == 0:  # phantom start point 2 p0 - p1: fold its weight into p0 and p1
            w[:, 1] += 2 * w[:, 0]
            w[:, 2] -= w[:, 0]
            w[:, 0] = 0
        if last:  # phantom end point 2 p_end - p_end-1
            w[:, 2] += 2 * w[:, 3]
            w[:, 1] -= w[:, 3]
            w[:, 3] = 0
        yield quad, w


def spline_samples(c: np.ndarray, taps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(n, P)`` float32 samples along the strokes of one coordinate ``c (n, M)`` of the control points: per sample
    the sum of its 4 control points ``taps (4, P)`` by ``weights (4, P)``, in that order."""
    c = c.astype(np.float32)
    total = c[:, taps[0]] * weights[0]
    for k in range(1, 4):
        total += c[:, taps[k]] * weights[k]
    return total


def check_request(name: str, split: str, indices: Any, sizes: Mapping[str, int]) -> np.ndarray:
    """``indices`` as a 1-D integer array after checking the split and the indices of a procedural source."""
    if split not in sizes:
        raise SourceError(f"{name} split={split!r} is not allowed: choose train or test (val is carved from train)")
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and (indices.dtype.kind not in "iu" or indices.min() < 0)):
        raise SourceError("glyph indices must be a 1-D array of non-negative integers")
    return indices


def _sampling(style: _Style) -> _Sampling:
    taps, weights, prev, nxt = [], [], [], []
    for stroke in style.strokes:
        closed = len(stroke) > 2 and stroke[0] == stroke[-1]
        ids = list(stroke[:-1] if closed else stroke)
        for quad, w in stroke_segments(style, ids, closed, BOX, SAMPLE_STEP):
            taps.append(np.broadcast_to(quad, (len(w), 4)))
            weights.append(w)
        start = sum(len(x) for x in prev)
        count = sum(len(x) for x in weights) - start
        pos = np.arange(count)
        # An open stroke's first sample gets its last as "previous", whose step (to itself) is 0.
        prev.append(start + (pos - 1) % count)
        nxt.append(start + ((pos + 1) % count if closed else np.minimum(pos + 1, count - 1)))
    return _Sampling(
        np.ascontiguousarray(np.concatenate(taps).T, dtype=np.intp),
        np.ascontiguousarray(np.concatenate(weights).T, dtype=np.float32),
        np.concatenate(prev),
        np.concatenate(nxt),
    )


_SAMPLINGS = {d: tuple(_sampling(s) for s in styles) for d, styles in _STYLES.items()}


_PAD = SIZE + 2  # canvases carry a 1-pixel zero border so that the blur needs no edge cases


class _Workspace:
    """Buffers reused from chunk to chunk (writing into fresh memory costs more than the arithmetic)."""

    def __init__(self, glyphs: int, samples: int):
        self.index = np.empty(glyphs * samples * 4, np.intp)
        self.weight = np.empty(glyphs * samples * 4, np.float32)
        self.canvas = np.empty((glyphs, _PAD, _PAD), np.float32)
        self.blurred = np.empty((glyphs, _PAD, _PAD), np.float32)
        self.levels = np.empty((glyphs, _PAD, _PAD), np.int32)


def _render_style(
    draws: np.ndarray, style: _Style, sampling: _Sampling, out: np.ndarray, work: _Workspace
) -> None:
    """Render glyphs of one style into ``out (n, 28, 28) uint8`` from their ``draws (n, D)`` uniforms.

    Geometry is float64 on the few control points and float32 on the samples and pixels (struct of arrays:
    ``(n, P)`` per coordinate), every step elementwise per glyph, so a glyph's bytes do not depend on ``n``.
    """
    n = draws.shape[0]
    m = style.points.shape[0]
    u = draws[:, _JITTER : _JITTER + 3 * m].reshape(n, m, 3)
    # Control points (n, m): x, y jittered by up to +-wobble, and pen pressure.
    wobble = 0.02 + 0.05 * draws[:, _WOBBLE, None]
    x = style.points[:, 0] + (2 * u[..., 0] - 1) * wobble
    y = style.points[:, 1] + (2 * u[..., 1] - 1) * wobble
    pressure = 0.75 + 0.5 * u[..., 2]

    # Smooth warp per glyph: move the middle up or down (the proportions of the upper and lower parts),
    # taper (top wider or narrower than the bottom) and bow.
    middle = y * (1 - y)
    x = x + (2 * draws[:, _TAPER, None] - 1) * 0.5 * (x - 0.35) * (y - 0.5)
    x = x + (2 * draws[:, _BOW, None] - 1) * 0.25 * middle
    y = y + (2 * draws[:, _BEND, None] - 1) * 0.35 * middle

    # Affine map per glyph: aspect (x scale), slant (x shear), small rotation. The rotation is
    # parametrised rationally (cos = (1 - r^2) / (1 + r^2), sin = 2r / (1 + r^2)): no libm.
    aspect = 0.7 + 0.6 * draws[:, _ASPECT, None]
    slant = -0.15 + 0.6 * draws[:, _SLANT, None]
    r = 0.07 * (2 * draws[:, _ROTATE, None] - 1)
    cos, sin = (1 - r * r) / (1 + r * r), 2 * r / (1 + r * r)
    x = x * aspect + slant * (0.5 - y)
    x, y = cos * x - sin * y, sin * x + cos * y

    # Samples along the strokes, (n, P) per coordinate: sums of 4 control points.
    sx, sy, sp = (spline_samples(c, sampling.taps, sampling.weights) for c in (x, y, pressure))
    # Arc length each sample stands for: half the distance to each neighbour.
    dx = sx[:, sampling.next] - sx
    dy = sy[:, sampling.next] - sy
    step = np.sqrt(dx * dx + dy * dy)
    arc = step + step[:, sampling.prev]
    arc *= 0.5

    # Fit: the larger side of the centre-line box spans size - width px; centre of mass to the centre.
    width = 1.5 + 1.5 * draws[:, _WIDTH]  # approximate ink around the centre lines, px
    lo = np.stack([sx.min(axis=1), sy.min(axis=1)]).astype(np.float64)
    hi = np.stack([sx.max(axis=1), sy.max(axis=1)]).astype(np.float64)
    mass = arc.sum(axis=1, dtype=np.float64)
    com = (
        np.stack([(sx * arc).sum(axis=1, dtype=np.float64), (sy * arc).sum(axis=1, dtype=np.float64)]) / mass
    )
    scale = (BOX - 2.0 * draws[:, _SIZE] - width) / (hi - lo).max(axis=0)
    # Shrink the rare glyph (a 7 heavy at the top) whose ink would leave the canvas when centred.
    margin = 1.0 + width / 2
    room = np.minimum((CENTRE - margin) / (com - lo), (SIZE - 1 - CENTRE - margin) / (hi - com))
    scale = np.minimum(scale, room.min(axis=0))
    shift = CENTRE - com * scale

    # Bilinear splat into the padded canvases (n, 30 * 30), weighted by arc length (px), pressure, gain.
    # The blur's centre weights (1 - 2a) of both passes are folded into the gain.
    a = 0.06 + 0.2 * draws[:, _WIDTH]
    gain = (2.5 + 6.5 * draws[:, _GAIN]) * scale * (1 - 2 * a) ** 2
    ink = arc * sp
    ink *= gain.astype(np.float32)[:, None]
    index = work.index[: n * sx.shape[1] * 4].reshape(n, sx.shape[1], 4)
    weight = work.weight[: n * sx.shape[1] * 4].reshape(n, sx.shape[1], 4)
    base = index[..., 0]
    scale32, shift32 = scale.astype(np.float32)[:, None], shift.astype(np.float32)[..., None]
    # Pixel coordinates, kept inside the canvas so that all 4 taps are (the fit leaves a margin anyway).
    frac_x = np.clip(sx * scale32 + shift32[0], 0.0, SIZE - 1.001)
    frac_y = np.clip(sy * scale32 + shift32[1], 0.0, SIZE - 1.001)
    cell_x, cell_y = frac_x.astype(np.intp), frac_y.astype(np.intp)
    frac_x -= cell_x
    frac_y -= cell_y
    np.multiply(cell_y + 1, _PAD, out=base)
    base += cell_x + 1
    base += (np.arange(n) * (_PAD * _PAD))[:, None]
    np.add(base, 1, out=index[..., 1])
    np.add(base, _PAD, out=index[..., 2])
    np.add(base, _PAD + 1, out=index[..., 3])
    right = frac_x * ink
    left = ink - right
    np.multiply(left, 1 - frac_y, out=weight[..., 0])
    np.multiply(right, 1 - frac_y, out=weight[..., 1])
    np.multiply(left, frac_y, out=weight[..., 2])
    np.multiply(right, frac_y, out=weight[..., 3])
    canvas = work.canvas[:n]
    np.copyto(
        canvas, np.bincount(index.ravel(), weight.ravel(), minlength=n * _PAD * _PAD).reshape(canvas.shape)
    )

    # Blur c + b (left + right) along each axis, b = a / (1 - 2a): [a, 1 - 2a, a] up to the folded factor.
    b = (a / (1 - 2 * a)).astype(np.float32)[:, None, None]
    blurred = work.blurred[:n]
    blurred[:, [0, -1]] = 0
    np.add(canvas[:, :-2], canvas[:, 2:], out=blurred[:, 1:-1])
    blurred *= b
    blurred += canvas
    np.add(blurred[:, :, :-2], blurred[:, :, 2:], out=canvas[:, :, 1:-1])
    canvas[:, :, 1:-1] *= b
    canvas += blurred

    # Tone curve through a table: v = clip(ink - threshold, 0, 1), then v (2 - v): the faint halo cut,
    # a saturated core.
    np.minimum(canvas, _TONE_MAX, out=canvas)
    canvas *= np.float32((_TONE.size - 1) / _TONE_MAX)
    levels = work.levels[:n]
    np.copyto(levels, canvas, casting="unsafe")  # truncation: canvas >= 0
    np.take(_TONE, levels[:, 1:-1, 1:-1], out=out)


def _tone_table(levels: int = 1024) -> tuple[np.ndarray, float]:
    top = 1.0 + THRESHOLD
    v = np.clip(np.linspace(0.0, top, levels) - THRESHOLD, 0.0, 1.0)
    return np.floor(v * (2.0 - v) * 255.0 + 0.5).astype(np.uint8), top


_TONE, _TONE_MAX = _tone_table()


def render_glyphs(split: str, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Render glyphs ``indices`` of ``split``; each is a pure function of ``(split, index)``.

    Args:
        split: ``"train"`` or ``"test"`` (different glyphs for the same index).
        indices: ``(N,)`` non-negative integers (any, not only those below the split's size).

    Returns:
        ``images (N, 28, 28) uint8`` (white ink on black, fitted and centred as MNIST) and
        ``labels (N,) int16`` (``index % 10``).
    """
    indices = check_request("glyphs", split, indices, SPLIT_SIZES)
    labels = (indices % 10).astype(np.int16)
    images = np.zeros((indices.size, SIZE, SIZE), np.uint8)
    n_draws = _JITTER + 3 * max(s.points.shape[0] for styles in _STYLES.values() for s in styles)
    max_samples = max(s.taps.shape[1] for samplings in _SAMPLINGS.values() for s in samplings)
    work = _Workspace(min(_CHUNK, indices.size), max_samples)
    for digit, k, draws, rows in style_chunks(split, indices, labels, _STYLES, _uniforms, n_draws, _CHUNK):
        block = np.empty((rows.size, SIZE, SIZE), np.uint8)
        _render_style(draws, _STYLES[digit][k], _SAMPLINGS[digit][k], block, work)
        images[rows] = block
    return images, labels


def style_chunks(
    split: str,
    indices: np.ndarray,
    labels: np.ndarray,
    styles_by_digit: Mapping[int, Sequence[_Style]],
    uniforms: Callable[[str, np.ndarray, int], np.ndarray],
    n_draws: int,
    chunk: int,
    style_slot: int = _STYLE,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """The glyphs to render, grouped: ``(digit, k, draws (n, n_draws), rows (n,))`` for each chunk of at most
    ``chunk`` glyphs of one digit written in its style ``k`` (drawn from slot ``style_slot`` of each glyph's draws by
    the styles' weights); ``rows`` are positions in ``indices``. Vectorised per style, a loop over styles and chunks,
    never over glyphs."""
    for digit, styles in styles_by_digit.items():
        rows = np.flatnonzero(labels == digit)
        if rows.size == 0:
            continue
        draws = uniforms(split, indices[rows], n_draws)
        weights = np.array([s.weight for s in styles])
        cumulative = np.cumsum(weights) / weights.sum()
        style_of = np.minimum(np.searchsorted(cumulative, draws[:, style_slot], side="right"), len(styles) - 1)
        for k in range(len(styles)):
            mine = np.flatnonzero(style_of == k)
            for start in range(0, mine.size, chunk):
                part = mine[start : start + chunk]
                yield digit, k, draws[part], rows[part]


def load_glyphs(split: str, *, val_size: int | None = None) -> GlyphBank:
    """One split of ``glyphs@1`` (train 60,000 minus val, val carved from its end, test 10,000).

    Returns:
        A GlyphBank of ``(M, 28, 28) uint8`` images and ``(M,) int16`` labels, classes ``"0"`` .. ``"9"``.
    """
    return procedural_bank(f"glyphs@{VERSION}", render_glyphs, SPLIT_SIZES, CLASS_NAMES, split, val_size)
