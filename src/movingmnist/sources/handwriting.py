"""``glyphs@2``: procedural digits written like MNIST's, needing no download.

A model of handwriting rather than of a font. Each digit has several allographs (ways people write it: a plain
or a flagged ``1``, a ``2`` with a curl or a loop at its base, an open or a closed ``4``, a ``7`` with a hook or a
crossbar, a ``0`` that overshoots or stays open...): strokes as Catmull-Rom splines through control points in a
unit box. Per glyph, style is drawn and applied to the skeleton:

- allograph (weighted by how often MNIST's writers use it) and control-point jitter, whose size varies by writer;
- smooth warps: proportions of the upper and lower parts, taper, bow, how far loops close (the end of a stroke
  pulled back or pushed past its start);
- slant (shear, bell-shaped around MNIST's mean lean to the right), a small rotation and the aspect ratio;
- pen: width (the blur kernel), ink gain (how much of the stroke saturates), pressure along each stroke (per
  control point, a trend from start to end, and lighter ends where the pen lands and lifts).

Rendering follows MNIST's conventions, vectorised over the glyphs of one allograph (a Python loop over allographs
and chunks, never over glyphs):

1. sample each stroke (~0.5 px apart), weight each sample by its arc length x pressure;
2. fit the larger side of the centre lines' box into 20 px less the pen width (the ink then spans ~20 px, as
   MNIST's 20x20 box) and move the ink's centre of mass to pixel (14, 14) of the 28x28 canvas; a glyph that
   would leave the canvas is shrunk instead;
3. splat the samples bilinearly, blur with the glyph's 5-tap pen kernel along each axis, and map the ink density
   through a tone curve: a saturated core with graded, anti-aliased edges, as MNIST's downsampled strokes.

Glyph ``i`` of a split is a pure function of ``(split, i)``: every random number is a counter-based hash
(splitmix64) of the split's key, ``i`` and the draw's slot, never a global random state, so a glyph does not
depend on which or how many glyphs are rendered with it. Only additions, multiplications, divisions and square
roots touch random values (no sin, exp or other libm function: the rotation is parametrised rationally), so
the bytes should not depend on the platform; the tests pin a hash. Any change of the pixels is a new version
(``glyphs@3``): ``glyphs@1`` (:mod:`.glyphs`) and this one stay reproducible byte for byte.

Splits: ``train`` 60,000 and ``test`` 10,000 glyphs (different keys), ``val`` carved from the end of ``train``;
labels are ``index % 10``. Rendering the 60,000 of train takes about a second on one core.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from ..errors import SourceError
from .bank import GlyphBank, carve_split
from .glyphs import _splitmix64, _Style, _style

__all__ = ["CLASS_NAMES", "NAME", "SPLIT_SIZES", "VERSION", "load_handwriting", "render_handwriting"]

VERSION = 2  # of the glyphs' design; glyphs@1 is sources/glyphs.py
NAME = f"glyphs@{VERSION}"
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
CLASS_NAMES = tuple(str(d) for d in range(10))
SIZE = 28  # canvas side, as MNIST
BOX = 20.0  # MNIST fits each digit's larger side into 20 px
CENTRE = SIZE // 2  # where MNIST puts the centre of mass, in pixel-index coordinates (14, 14)
SAMPLE_STEP = 0.7  # nominal distance between stroke samples, in pixels at the 20 px scale
END_SAMPLES = 6  # samples over which a stroke's ends get lighter (the pen landing and lifting)
_CHUNK = 128  # glyphs rendered at once: keeps the working set in cache; does not change the output
_WORK = 26  # side of the canvas a glyph is drawn on before it is centred
_PAD = _WORK + 4  # canvases carry a 2-pixel zero border so that the 5-tap blur needs no edge cases

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


def _split_key(split: str) -> np.ndarray:
    digest = hashlib.sha256(f"movingmnist.glyphs@2/{split}".encode()).digest()
    return np.array([int.from_bytes(digest[:8], "little")], _U64)


# Slots of the per-glyph random draws: a draw depends only on (split, index, slot), so a new slot never
# changes the others. Control-point jitter uses 3 slots per point from _JITTER on.
(_STYLE, _SLANT_A, _SLANT_B, _ROTATE, _ASPECT, _SIZE, _WIDTH, _GAIN, _WOBBLE, _BEND, _TAPER, _BOW, _CLOSE,
 _TILT, _ENDS, _PHASE, _GAIN_B, _ASPECT_B) = range(18)  # fmt: skip
_FIELD = 20  # 18 slots: a smooth displacement field, 3 x 3 quadratic Bernstein coefficients per axis
_JITTER = 38


def _uniforms(split: str, indices: np.ndarray, n_draws: int) -> np.ndarray:
    """``(N, n_draws)`` float64 uniforms in [0, 1): draw ``j`` of glyph ``indices[n]`` of ``split``."""
    per_glyph = _splitmix64(_splitmix64(indices.astype(_U64)) ^ _split_key(split))
    counters = per_glyph[:, None] + np.arange(1, n_draws + 1, dtype=_U64) * _GOLDEN
    return (_splitmix64(counters) >> _U64(11)).astype(np.float64) * 2.0**-53


# The allographs: (weight, strokes) per digit, in a unit-high box (y down), points in hundredths; strokes are
# separated by "|" and meet at shared points (corners). The last point of an open stroke is its pen lift: the
# _CLOSE draw pulls it back or pushes it on, which opens or overshoots loops.
_STYLES: dict[int, tuple[_Style, ...]] = {
    0: (
        _style(1.08, "52,2 22,10 4,45 12,85 40,100 68,88 78,50 70,14 50,2"),
        _style(0.72, "58,8 34,0 10,15 2,52 14,88 42,100 68,86 76,48 64,10 40,4"),  # overshoots the start
        _style(0.33, "46,4 18,16 4,54 16,90 44,100 70,82 74,44 62,12 54,6"),  # left open at the top
        _style(0.47, "60,2 30,4 8,30 4,66 22,96 50,98 70,70 72,30 58,6 40,8"),  # pointed at the top
    ),
    1: (
        _style(1.33, "40,0 38,50 35,100"),
        _style(0.42, "42,0 40,40 36,70 30,100"),  # bowed
        _style(0.05, "20,18 40,0 | 40,0 38,50 35,100"),  # flag
        _style(0.06, "20,18 40,0 | 40,0 38,50 35,100 | 15,100 35,100 55,100"),  # flag and base
    ),
    2: (
        _style(1.05, "4,22 24,2 54,0 70,16 64,40 40,66 2,100 | 2,100 44,97 92,98"),
        _style(0.95, "4,20 26,0 56,0 70,18 60,44 36,68 12,88 6,98 16,102 28,92 20,82 8,92 26,98 56,98 90,96"),  # loop
        _style(0.46, "10,22 36,0 62,8 66,34 44,62 14,92 | 14,92 6,100 30,96 | 30,96 60,98 86,96"),  # curl
        _style(0.53, "10,14 36,0 62,10 60,36 4,100 | 4,100 50,98 92,100"),  # angular, like an L below
        _style(0.30, "2,16 26,0 56,2 66,20 50,48 20,80 8,94 16,98 | 16,98 50,92 86,100"),  # small curl, long tail
        _style(0.20, "8,20 28,0 58,0 72,16 64,36 44,54 20,70 4,86 14,100 36,98 42,80 28,70 14,82 24,98 56,98 88,96"),
    ),
    3: (
        _style(0.69, "6,14 34,0 62,10 62,32 34,46 | 34,46 66,58 70,84 44,100 4,90"),
        _style(0.50, "4,12 36,0 64,12 56,36 30,48 58,54 72,76 58,96 28,100 2,88"),  # one stroke
        _style(0.22, "6,2 64,2 | 64,2 32,42 | 32,42 66,58 66,88 36,100 2,88"),  # flat top
        _style(0.80, "2,8 30,0 58,4 64,22 44,42 24,46 | 24,46 54,52 70,72 60,94 30,100 4,92"),  # big bowl
        _style(0.54, "8,6 38,0 62,8 56,28 30,44 | 30,44 60,46 | 60,46 68,70 52,94 24,100 2,90"),  # pointed middle
    ),
    4: (
        _style(1.02, "14,0 4,58 | 4,58 44,60 84,56 | 62,8 60,55 58,100"),  # open: L and a stem
        _style(0.16, "58,0 2,66 | 2,66 44,66 82,64 | 58,0 58,50 56,100"),  # closed, a triangle
        _style(0.72, "20,0 6,40 10,58 | 10,58 40,58 80,54 | 66,0 62,50 60,100"),  # open, rounded corner
    ),
    5: (
        _style(1.15, "72,0 16,2 | 16,2 10,44 | 10,44 40,36 68,52 70,80 44,100 2,90"),
        _style(0.54, "16,0 10,44 | 10,44 40,36 68,52 70,80 44,100 2,90 | 16,0 76,2"),  # bar drawn last
        _style(0.21, "70,0 20,4 | 20,4 12,48 | 12,48 50,40 70,64 56,92 28,100 4,86"),  # round belly
    ),
    6: (
        _style(1.22, "64,0 36,18 12,46 4,74 16,96 42,100 62,86 60,64 40,56 12,68"),
        _style(0.74, "56,0 26,30 8,62 10,88 32,100 58,92 62,70 42,58 16,70"),  # straight stem
        _style(0.19, "70,4 40,10 16,36 4,70 18,96 46,98 62,80 52,58 24,62 10,80"),  # curled top
        _style(0.56, "50,0 30,30 16,60 14,84 28,100 48,96 52,78 36,68 16,78"),  # small loop, long stem
        _style(0.36, "46,0 26,34 14,66 18,92 36,100 54,90 50,70 30,66 14,76"),  # upright, small loop
    ),
    7: (
        _style(0.88, "2,4 78,2 | 78,2 56,46 42,100"),
        _style(0.45, "4,14 6,2 | 6,2 44,4 82,0 | 82,0 60,48 48,100"),  # hook at the start of the bar
        _style(0.35, "2,6 80,4 | 80,4 66,30 52,64 46,100"),  # straight stem
        _style(0.3, "2,4 78,2 | 78,2 60,46 50,100 | 40,54 60,52 78,50"),  # crossbar
        _style(0.5, "2,4 78,2 | 78,2 58,34 46,66 44,100"),  # stem curving down
        _style(0.82, "6,8 40,2 74,4 | 74,4 64,40 56,70 54,100"),  # short bar, steep stem
        _style(0.29, "2,2 60,4 80,0 | 80,0 62,30 44,62 30,100"),  # long diagonal
    ),
    8: (
        _style(0.79, "66,10 38,0 12,10 14,34 40,50 66,68 62,92 36,100 8,90 10,68 40,50 62,32 66,10"),
        _style(0.79, "60,14 36,0 12,12 18,34 44,52 64,74 56,96 28,98 10,80 24,60 46,48 60,30 64,6"),  # open top
        _style(0.09, "38,46 14,32 16,8 40,0 62,10 60,32 38,46 | 38,46 68,62 66,92 36,100 6,90 8,62 38,46"),
        _style(0.41, "56,10 36,0 18,8 20,28 38,42 58,62 56,90 34,100 14,88 18,64 38,42 52,24 56,6"),  # small top
        _style(0.92, "64,10 40,0 14,8 16,28 40,46 62,64 62,90 38,100 12,90 14,70 | 14,70 38,46 64,8"),  # S, then back
    ),
    9: (
        _style(1.21, "66,16 40,0 10,8 4,30 28,46 58,38 66,16 | 66,16 64,58 60,100"),
        _style(0.45, "64,12 36,0 8,14 8,36 34,44 62,30 66,8 | 66,8 64,54 52,100"),  # slanted stem
        _style(0.38, "66,16 40,0 10,10 6,32 30,44 60,36 66,16 | 66,16 66,62 52,92 26,100"),  # hooked tail
        _style(0.47, "60,10 36,0 14,10 14,30 36,38 58,26 60,8 | 60,8 56,50 50,100"),  # small loop
        _style(0.31, "62,4 30,2 8,22 28,40 60,20 | 60,20 62,4 | 62,4 58,54 56,100"),  # angular loop
        _style(0.67, "56,6 32,0 8,12 8,34 32,42 58,30 | 64,0 62,50 58,100"),  # loop open, stem apart
    ),
}


class _Sampling:
    """How an allograph's strokes are sampled: each sample is a weighted sum of 4 control points.

    Attributes:
        taps: ``(4, P)`` indices into the control points. weights: ``(4, P)`` Catmull-Rom basis weights.
        prev, next: ``(P,)`` neighbouring samples along the stroke (at an open end: ``next`` is the sample itself,
            ``prev`` the other end, whose step to its ``next`` is 0); half the distance to each is a sample's arc.
        ends: ``(P,)`` 1 at an open stroke's first and last sample, falling to 0 over END_SAMPLES samples.
        along: ``(P,)`` position along the stroke, -1 at its start to 1 at its end.
        lifts: ``(2, L)`` per open stroke, its last control point and the one before (the pen lift's direction).
    """

    def __init__(self, style: _Style) -> None:
        taps, weights, prev, nxt, ends, along, lifts = [], [], [], [], [], [], []
        for stroke in style.strokes:
            closed = len(stroke) > 2 and stroke[0] == stroke[-1]
            ids = list(stroke[:-1] if closed else stroke)
            k = len(ids)
            if not closed:
                lifts.append((ids[-1], ids[-2]))
            n_segments = k if closed else k - 1
            start = sum(len(w) for w in weights)
            for s in range(n_segments):
                # Neighbours of segment s; an open end repeats its end point (a phantom point is folded in below).
                quad = [ids[(s + j) % k] if closed else ids[min(max(s + j, 0), k - 1)] for j in (-1, 0, 1, 2)]
                chord = np.linalg.norm(style.points[quad[2]] - style.points[quad[1]])
                n = max(2, int(np.ceil(chord * BOX / SAMPLE_STEP)))
                last = s == n_segments - 1 and not closed
                t = np.arange(n + last) / n
                t2, t3 = t * t, t * t * t
                w = 0.5 * np.stack([-t3 + 2 * t2 - t, 3 * t3 - 5 * t2 + 2, -3 * t3 + 4 * t2 + t, t3 - t2], axis=1)
                if not closed and s == 0:  # phantom start point 2 p0 - p1
                    w[:, 1] += 2 * w[:, 0]
                    w[:, 2] -= w[:, 0]
                    w[:, 0] = 0
                if last:  # phantom end point 2 p_end - p_end-1
                    w[:, 2] += 2 * w[:, 3]
                    w[:, 1] -= w[:, 3]
                    w[:, 3] = 0
                taps.append(np.broadcast_to(quad, (len(t), 4)))
                weights.append(w)
            count = sum(len(w) for w in weights) - start
            pos = np.arange(count)
            prev.append(start + (pos - 1) % count)
            nxt.append(start + ((pos + 1) % count if closed else np.minimum(pos + 1, count - 1)))
            from_end = np.minimum(pos, count - 1 - pos)
            ends.append(np.zeros(count) if closed else np.clip(1 - from_end / END_SAMPLES, 0, 1) ** 2)
            along.append(2 * pos / max(count - 1, 1) - 1)
        self.taps = np.ascontiguousarray(np.concatenate(taps).T, dtype=np.intp)
        self.weights = np.ascontiguousarray(np.concatenate(weights).T, dtype=np.float32)
        self.prev, self.next = np.concatenate(prev), np.concatenate(nxt)
        self.ends = np.concatenate(ends).astype(np.float32)
        self.along = np.concatenate(along).astype(np.float32)
        self.lifts = np.array(lifts, np.intp).reshape(-1, 2).T


_SAMPLINGS = {d: tuple(_Sampling(s) for s in styles) for d, styles in _STYLES.items()}


def _tone_table() -> np.ndarray:
    """Ink density (0 .. _TONE_MAX in _LEVELS steps) to uint8: a ramp from _TOE (below it, background) to
    _KNEE (above it, saturated), bent by _GAMMA: graded, anti-aliased edges around a saturated core."""
    d = np.linspace(0.0, _TONE_MAX, _LEVELS)
    v = np.clip((d - _TOE) / (_KNEE - _TOE), 0.0, 1.0)
    return np.floor(v**_GAMMA * 255.0 + 0.5).astype(np.uint8)


_TOE, _KNEE, _GAMMA, _TONE_MAX, _LEVELS = 0.165, 0.9, 0.674, 1.2, 1024
_TONE = _tone_table()
_VISIBLE = np.float32(np.flatnonzero(_TONE)[0] * _TONE_MAX / (_LEVELS - 1))  # density below it: tone 0


def _blur(canvas: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``canvas (n, _PAD * _PAD)`` (flat) blurred twice along each axis with the per-glyph kernel [g, 1, g]
    (``gamma``: ``(n, 1)`` float32): [b, 1 - 2b, b] twice, b = g / (1 + 2g), up to the factor (1 - 2b)^4 the caller
    folds into the ink. Returns a new array; ``canvas`` is overwritten.

    Shifts along the flat rows (by 1 for columns, by _PAD for rows) keep numpy's loops long. A column shift crosses
    into the next row only through the border, where ink never is (the splat stays 2 pixels inside and each pass
    spreads it by one), so the inner 28 x 28 pixels are exact."""
    other = np.zeros_like(canvas)
    src, dst = canvas, other
    for step in (_PAD, _PAD, 1, 1):
        out = dst[:, step:-step]
        np.add(src[:, : -2 * step], src[:, 2 * step :], out=out)
        out *= gamma
        out += src[:, step:-step]
        src, dst = dst, src
    return src


def _bernstein(t: np.ndarray) -> np.ndarray:
    """``(..., 3)`` the quadratic Bernstein basis (1 - t)^2, 2t(1 - t), t^2 at ``t``."""
    s = 1 - t
    return np.stack([s * s, 2 * t * s, t * t], axis=-1)


def _render_style(draws: np.ndarray, digit: int, style: _Style, sampling: _Sampling, out: np.ndarray) -> None:
    """Render glyphs of one allograph into ``out (n, 28, 28) uint8`` from their ``draws (n, D)`` uniforms.

    Geometry is float64 on the control points and float32 on the samples and pixels, every step elementwise
    per glyph, so a glyph's bytes do not depend on ``n``.
    """
    n, m = draws.shape[0], style.points.shape[0]
    u = draws[:, _JITTER : _JITTER + 3 * m].reshape(n, m, 3)
    # Control points (n, m): jittered by up to +-wobble (a writer's care), with pen pressure.
    wobble = 0.01 + 0.04 * draws[:, _WOBBLE, None]
    x = style.points[:, 0] + (2 * u[..., 0] - 1) * wobble
    y = style.points[:, 1] + (2 * u[..., 1] - 1) * wobble
    pressure = 0.8 + 0.4 * u[..., 2]
    # Pen lifts: the last point of each open stroke pulled back or pushed on along its last segment (loops
    # left open or overshooting, bars and tails of varying length).
    last, before = sampling.lifts
    reach = 0.35 * draws[:, _CLOSE, None] - 0.15
    dx, dy = x[:, last] - x[:, before], y[:, last] - y[:, before]
    x[:, last] += reach * dx
    y[:, last] += reach * dy

    lean, widen, weight, bow = _CLASS_HABITS[digit]
    # Smooth warps: proportions of the upper and lower parts, taper (top wider or narrower), bow.
    middle = y * (1 - y)
    x = x + (2 * draws[:, _TAPER, None] - 1) * 0.45 * (x - 0.4) * (y - 0.5)
    x = x + (2 * draws[:, _BOW, None] - 1) * (0.45 * bow) * middle
    y = y + (2 * draws[:, _BEND, None] - 1) * 0.5 * middle
    # A smooth random displacement field over the box (an elastic distortion, as used to augment MNIST).
    field = (2 * draws[:, _FIELD : _FIELD + 18] - 1).reshape(n, 2, 3, 3) * _FIELD_AMPLITUDE
    bx, by = _bernstein(x), _bernstein(y)  # (n, m, 3)
    x = x + np.einsum('nmi,nij,nmj->nm', bx, field[:, 0], by)
    y = y + np.einsum('nmi,nij,nmj->nm', bx, field[:, 1], by)

    # Affine map: aspect, slant (a shear with a bell-shaped spread: the sum of two uniforms), small rotation
    # parametrised rationally (cos = (1 - r^2) / (1 + r^2), sin = 2r / (1 + r^2)): no libm.
    aspect = (1 + _ASPECT_SPREAD * (draws[:, _ASPECT, None] + draws[:, _ASPECT_B, None] - 1)) * widen
    slant = _SLANT_MEAN + lean + _SLANT_SPREAD * (draws[:, _SLANT_A, None] + draws[:, _SLANT_B, None] - 1)
    r = 0.1 * (2 * draws[:, _ROTATE, None] - 1)
    cos, sin = (1 - r * r) / (1 + r * r), 2 * r / (1 + r * r)
    x = x * aspect + slant * (0.5 - y)
    x, y = cos * x - sin * y, sin * x + cos * y

    def spline(c: np.ndarray) -> np.ndarray:
        c = c.astype(np.float32)
        total = c[:, sampling.taps[0]] * sampling.weights[0]
        for k in range(1, 4):
            total += c[:, sampling.taps[k]] * sampling.weights[k]
        return total

    sx, sy = spline(x), spline(y)
    # Pressure per sample: control points' pressure, a trend along the stroke, lighter ends.
    tilt = (2 * draws[:, _TILT, None] - 1).astype(np.float32) * 0.25
    lift = (0.0 + 0.3 * draws[:, _ENDS, None]).astype(np.float32)
    sp = spline(pressure) * (1 + tilt * sampling.along) * (1 - lift * sampling.ends)
    step_x = sx[:, sampling.next] - sx
    step_y = sy[:, sampling.next] - sy
    step = np.sqrt(step_x * step_x + step_y * step_y)
    arc = (step + step[:, sampling.prev]) * 0.5
    ink = arc * sp

    # Pen: the blur kernel's taps (wider kernel, wider stroke) and the gain (more of the stroke saturates).
    pen = draws[:, _WIDTH]
    beta = _BETA0 + _BETA1 * pen * pen  # each blur pass is [beta, 1 - 2 beta, beta]; a tail of bold pens
    gamma = (beta / (1 - 2 * beta)).astype(np.float32)[:, None]
    # The gain divides by the kernel's centre tap: how much of a stroke saturates does not depend on its width.
    centre = (1 - 2 * beta) ** 2 + 2 * beta * beta  # of the 5-tap kernel the two passes make
    ink *= (weight * (_G0 + _G1 * (draws[:, _GAIN] + draws[:, _GAIN_B]) / 2) * (1 - 2 * beta) ** 4 / centre).astype(np.float32)[:, None]

    # MNIST's frame, in two passes. Pass 1: the larger side of the centre lines' box spans BOX - halo px, its
    # corner at a random sub-pixel phase; measure the ink's box (pixels that will not be 0).
    lo = np.stack([sx.min(axis=1), sy.min(axis=1)])
    extent = (np.stack([sx.max(axis=1), sy.max(axis=1)]) - lo).max(axis=0).astype(np.float64)
    halo = _HALO + _HALO_PEN * pen + _HALO_GAIN * draws[:, _GAIN]  # a fit of the measured halo
    scale = (BOX - halo) / extent
    origin = (_ORIGIN + draws[:, _PHASE]).astype(np.float32)[:, None]
    px, py = sx - lo[0][:, None], sy - lo[1][:, None]
    canvas = _paint(px, py, ink, scale, origin, gamma)
    # Later passes, for glyphs whose box is not BOX px: change the centre lines' extent by the whole pixels
    # missing, keeping the phase of both ends, so the halo around them stays as measured. The last pass only
    # shrinks boxes still too large, by a pixel more than measured.
    redo = np.arange(n)
    for attempt in range(_FIT_PASSES):
        box = _ink_box(canvas if attempt == 0 else canvas[redo])
        last = attempt == _FIT_PASSES - 1
        wrong = box > BOX if last else box != BOX
        redo, box = redo[wrong], box[wrong]
        if redo.size == 0:
            break
        scale[redo] += (BOX - box - last) / extent[redo]
        canvas[redo] = _paint(px[redo], py[redo], ink[redo], scale[redo], origin[redo], gamma[redo])
    # Tone, then an integer shift that puts the centre of mass nearest pixel (14, 14), as MNIST.
    canvas = canvas[:, 2:-2, 2:-2]
    np.minimum(canvas, _TONE_MAX, out=canvas)
    canvas *= np.float32((_LEVELS - 1) / _TONE_MAX)
    image = _TONE[canvas.astype(np.int32)]
    _centre(image, out)


def _paint(
    px: np.ndarray, py: np.ndarray, ink: np.ndarray, scale: np.ndarray, origin: np.ndarray, gamma: np.ndarray
) -> np.ndarray:
    """Ink density ``(n, _PAD, _PAD)`` float32 of samples at ``(px, py) (n, P)`` (box units from the centre lines'
    corner) scaled by ``scale (n,)`` and moved to ``origin (n, 1)`` px: splatted bilinearly with weight
    ``ink (n, P)`` x scale (arc length in px), then blurred with the pen kernel (``gamma (n, 1)``, see :func:`_blur`)."""
    n = px.shape[0]
    scale32 = scale.astype(np.float32)[:, None]
    fx = np.clip(px * scale32 + origin, 0.0, _WORK - 1.001)
    fy = np.clip(py * scale32 + origin, 0.0, _WORK - 1.001)
    cx, cy = fx.astype(np.intp), fy.astype(np.intp)
    fx -= cx
    fy -= cy
    base = (cy + 2) * _PAD + cx + 2 + (np.arange(n) * (_PAD * _PAD))[:, None]
    weight = ink * scale32
    right = fx * weight
    left = weight - right
    index = np.concatenate([base, base + 1, base + _PAD, base + _PAD + 1], axis=1)
    weights = np.concatenate([left * (1 - fy), right * (1 - fy), left * fy, right * fy], axis=1)
    canvas = np.bincount(index.ravel(), weights.ravel(), minlength=n * _PAD * _PAD)
    return _blur(canvas.astype(np.float32).reshape(n, _PAD * _PAD), gamma).reshape(n, _PAD, _PAD)


def _ink_box(canvas: np.ndarray) -> np.ndarray:
    """``(n,)`` the larger side, in pixels, of the box of the pixels of ``canvas`` that the tone keeps above 0."""
    ink = canvas > _VISIBLE
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    size = canvas.shape[1]
    height = size - rows.argmax(axis=1) - rows[:, ::-1].argmax(axis=1)
    width = size - cols.argmax(axis=1) - cols[:, ::-1].argmax(axis=1)
    return np.maximum(height, width)


def _centre(image: np.ndarray, out: np.ndarray) -> None:
    """Copy ``image (n, W, W) uint8`` into ``out (n, 28, 28)`` shifted by whole pixels so that its centre of
    mass lands nearest pixel (14, 14); ink shifted off the canvas is lost, as in MNIST."""
    n, size = image.shape[0], image.shape[1]
    mass = image.sum(axis=(1, 2), dtype=np.int64)
    line = np.arange(size, dtype=np.int64)
    # Integer moments, rounded half up by integer division: the same bytes on every platform.
    ys = (image.sum(axis=2, dtype=np.int64) * line).sum(axis=1)
    xs = (image.sum(axis=1, dtype=np.int64) * line).sum(axis=1)
    safe = np.maximum(mass, 1)
    row0 = (2 * ys + safe) // (2 * safe) - CENTRE  # first image row in the window
    col0 = (2 * xs + safe) // (2 * safe) - CENTRE
    # One flat gather: the window of each glyph in its image padded by CENTRE (the farthest a shift can reach).
    side = size + 2 * CENTRE
    padded = np.zeros((n, side, side), np.uint8)
    padded[:, CENTRE:-CENTRE, CENTRE:-CENTRE] = image
    start = np.arange(n) * (side * side) + (row0 + CENTRE) * side + (col0 + CENTRE)
    window = (np.arange(SIZE)[:, None] * side + np.arange(SIZE)).ravel()
    out[...] = padded.ravel()[start[:, None] + window].reshape(n, SIZE, SIZE)


_SLANT_MEAN, _SLANT_SPREAD, _ASPECT_SPREAD = 0.16, 0.5, 0.5
# Per digit, how MNIST's writers differ from the average (measured on its test digits): a slant offset, an aspect
# factor and an ink factor (2s and 5s are written wider, 6s more upright, 8s with less ink than 0s...).
_CLASS_HABITS = {  # (slant offset, aspect factor, ink factor, bow factor)
    0: (0.05, 1.06, 1.15, 1.0), 1: (0.0, 1.0, 1.2, 0.3), 2: (-0.13, 1.1, 1.12, 1.0), 3: (-0.08, 1.0, 1.12, 1.0),
    4: (0.08, 0.94, 1.0, 1.0), 5: (0.16, 1.1, 1.0, 1.0), 6: (-0.19, 1.14, 1.1, 1.0), 7: (-0.09, 1.0, 1.12, 0.6),
    8: (-0.02, 1.07, 0.92, 1.0), 9: (0.08, 0.93, 0.97, 1.0),
}
_BETA0, _BETA1, _G0, _G1 = 0.086, 0.224, 0.869, 0.987
_FIT_PASSES = 3
_FIELD_AMPLITUDE = 0.08
# The first guess of the ink beyond the centre lines (a fit of the measured halo), and where their box starts, px.
_HALO, _HALO_PEN, _HALO_GAIN, _ORIGIN = 1.5, 1.4, 1.15, 2.5


def render_handwriting(split: str, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Render glyphs ``indices`` of ``split``; each is a pure function of ``(split, index)``.

    Args:
        split: ``"train"`` or ``"test"`` (different glyphs for the same index).
        indices: ``(N,)`` non-negative integers (any, not only those below the split's size).

    Returns:
        ``images (N, 28, 28) uint8`` (white ink on black, fitted and centred as MNIST) and
        ``labels (N,) int16`` (``index % 10``).
    """
    if split not in SPLIT_SIZES:
        raise SourceError(
            f"{NAME} split={split!r} is not allowed: choose train or test (val is carved from train)"
        )
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and (indices.dtype.kind not in "iu" or indices.min() < 0)):
        raise SourceError("glyph indices must be a 1-D array of non-negative integers")
    labels = (indices % 10).astype(np.int16)
    images = np.zeros((indices.size, SIZE, SIZE), np.uint8)
    n_draws = _JITTER + 3 * max(s.points.shape[0] for styles in _STYLES.values() for s in styles)
    for digit, styles in _STYLES.items():
        rows = np.flatnonzero(labels == digit)
        if rows.size == 0:
            continue
        draws = _uniforms(split, indices[rows], n_draws)
        weights = np.array([s.weight for s in styles])
        cumulative = np.cumsum(weights) / weights.sum()
        style_of = np.minimum(np.searchsorted(cumulative, draws[:, _STYLE], side="right"), len(styles) - 1)
        for k, style in enumerate(styles):
            mine = np.flatnonzero(style_of == k)
            for start in range(0, mine.size, _CHUNK):
                chunk = mine[start : start + _CHUNK]
                block = np.empty((chunk.size, SIZE, SIZE), np.uint8)
                _render_style(draws[chunk], digit, style, _SAMPLINGS[digit][k], block)
                images[rows[chunk]] = block
    return images, labels


@functools.lru_cache(maxsize=2)
def _whole_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """All glyphs of ``split``, rendered once per process (train and val are both views of train's)."""
    images, labels = render_handwriting(split, np.arange(SPLIT_SIZES[split]))
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_handwriting(split: str, *, val_size: int | None = None) -> GlyphBank:
    """One split of ``glyphs@2`` (train 60,000 minus val, val carved from its end, test 10,000).

    Returns:
        A GlyphBank named ``"glyphs@2"`` of ``(M, 28, 28) uint8`` images and ``(M,) int16`` labels.
    """
    file_split = "test" if split == "test" else "train"
    images, labels = _whole_split(file_split)
    bank = GlyphBank(NAME, file_split, images, labels, CLASS_NAMES)
    return bank if split == "test" else carve_split(bank, split, val_size)
