"""``glyphs@2`` and ``glyphs@3``: procedural digits written like MNIST's, needing no download.

A model of handwriting rather than of a font. Each digit has several allographs (ways people write it: a plain,
bowed or flagged ``1``, a ``2`` with a curl, a loop or an angular base, an open or a closed ``4``, a ``7`` with a
hook, a crossbar or a curved stem, an ``8`` as an S and a line back...): strokes as Catmull-Rom splines through
control points in a unit box (:mod:`.allographs`). Per glyph, a style is drawn and applied to the skeleton:

- the allograph (weighted by how often MNIST's digits are nearest each) and control-point jitter, whose size varies
  by writer; pen lifts: the end of each open stroke pulled back or pushed on (loops left open or overshot, bars
  and tails of varying length);
- smooth warps: proportions of the upper and lower parts, taper, bow, and a smooth random displacement field over
  the box (quadratic Bernstein coefficients: an elastic distortion);
- an affine map: aspect and slant (both bell-shaped, around the digit's habit: MNIST's writers make 2s wider and
  6s more upright than 5s...), a small rotation;
- the pen: width (the blur kernel; a tail of bold pens, as MNIST has), ink gain (how much of the stroke saturates,
  independent of the width), pressure per control point, a trend along each stroke, lighter ends.

Rendering follows how MNIST was made, vectorised over the glyphs of one allograph (a Python loop over allographs
and chunks of glyphs, never over glyphs):

1. sample each stroke (~0.7 px apart) and weight each sample by its arc length x pressure x gain;
2. splat the samples bilinearly, blur along each axis with two passes of the pen's 3-tap kernel, and map the ink
   density through a tone table: faint anti-aliased edges around a saturated core;
3. fit the ink's box (every pixel above 0) to 20 px along its larger side, as MNIST's 20x20 box: a first render
   guesses the scale from the pen, glyphs whose box missed are rendered again with the centre lines' extent
   changed by the whole pixels missing (which keeps the sub-pixel phase of both ends, so the halo stays as
   measured), at most _FIT_PASSES renders in all;
4. shift the image by whole pixels so that its centre of mass (integer moments) is the pixel nearest (14, 14) of
   the 28x28 canvas, as MNIST.

``glyphs@3`` is the same model with the control points drawn from a shape model instead of jittered around the
skeleton: per allograph, the mean and principal modes of the skeleton's control points as fitted to MNIST's test
digits (``shapes3.json``, :mod:`.shape_model`, written by ``benchmarks/fit_glyph_shapes.py``), with smaller style
spreads around them
(:class:`_Model` holds each version's constants).

Glyph ``i`` of a split is a pure function of ``(split, i)``: every random number is a counter-based hash
(splitmix64) of the split's key, ``i`` and the draw's slot, never a global random state, so a glyph does not
depend on which or how many glyphs are rendered with it, nor on the chunking. Only additions, multiplications,
divisions and square roots touch random values, elementwise and in a fixed order (no sin, exp, pow or einsum:
the rotation and the tone curve are rational), so the bytes should not depend on the platform; the tests pin a
hash. Any change of the pixels is a new version (``glyphs@4``): ``glyphs@1`` (:mod:`.glyphs`), ``glyphs@2`` and
``glyphs@3`` stay reproducible byte for byte.

Splits: ``train`` 60,000 and ``test`` 10,000 glyphs (different keys), ``val`` carved from the end of ``train``;
labels are ``index % 10``. Rendering the 60,000 of train takes about 1.6 s on one core (about 1.6 renders per
glyph, for the fit). How close the digits come to MNIST's is measured by ``benchmarks/bench_glyphs.py``
(docs/glyphs.md).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterator, Mapping

import numpy as np

from .allographs import ALLOGRAPHS, ALLOGRAPHS_3, CLASS_HABITS, SAMPLINGS, SAMPLINGS_3, StrokeSampling
from .bank import GlyphBank, procedural_bank
from .glyphs import _splitmix64, _Style, check_request, spline_samples, style_chunks
from .shape_model import ShapeTable, load_shapes3

__all__ = ["CLASS_NAMES", "SPLIT_SIZES", "VERSION", "VERSIONS", "load_handwriting", "render_handwriting"]

VERSION = 2  # the first version of this model; glyphs@1 is sources/glyphs.py
VERSIONS = (2, 3)
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
CLASS_NAMES = tuple(str(d) for d in range(10))
SIZE = 28  # canvas side, as MNIST
BOX = 20.0  # MNIST fits each digit's larger side into 20 px
CENTRE = SIZE // 2  # where MNIST puts the centre of mass, in pixel-index coordinates (14, 14)
_CHUNK = 128  # glyphs rendered at once: keeps the working set in cache; does not change the output
_WORK = 26  # side of the canvas a glyph is drawn on before it is centred
_PAD = _WORK + 4  # canvases carry a 2-pixel zero border so that the blur needs no edge cases

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


def _split_key(name: str, split: str) -> np.ndarray:
    digest = hashlib.sha256(f"movingmnist.{name}/{split}".encode()).digest()
    return np.array([int.from_bytes(digest[:8], "little")], _U64)


# Slots of the per-glyph random draws: a draw depends only on (split, index, slot), so a new slot never
# changes the others (_SPARE is drawn by no one). Control-point jitter uses 3 slots per point from _JITTER on.
(_STYLE, _SLANT_A, _SLANT_B, _ROTATE, _ASPECT, _SPARE, _WIDTH, _GAIN, _WOBBLE, _BEND, _TAPER, _BOW, _CLOSE,
 _TILT, _ENDS, _PHASE, _GAIN_B, _ASPECT_B) = range(18)  # fmt: skip
_FIELD = 20  # 18 slots: a smooth displacement field, 3 x 3 quadratic Bernstein coefficients per axis
_JITTER = 38
_MAX_POINTS = max(s.points.shape[0] for table in (ALLOGRAPHS, ALLOGRAPHS_3) for d in table for s in table[d])
_MODES = _JITTER + 3 * _MAX_POINTS  # glyphs@3: 2 slots per mode of its shape model

# The pen and the frame, shared by the versions, tuned against MNIST's test digits (benchmarks/bench_glyphs.py
# measures the result); the style's spreads are each version's (_Model).
_BETA0, _BETA1 = 0.09, 0.224  # pen: each blur pass is [b, 1 - 2b, b], b = _BETA0 + _BETA1 pen^2
_G0, _G1 = 0.84, 0.987  # ink gain per unit of the kernel's centre tap: _G0 + _G1 x (bell-shaped draw in [0, 1])
_TOE, _KNEE, _BEND_K = 0.165, 0.9, 1.48  # tone: densities of the first visible and the first saturated level
_TONE_MAX, _LEVELS = 1.2, 1024  # the tone table's range and steps
_FIT_PASSES = 3  # renders at most, to fit the ink's box to BOX px
# The first guess of the ink beyond the centre lines (a fit of the measured halo), and where their box starts, px.
_HALO, _HALO_PEN, _HALO_GAIN, _ORIGIN = 1.5, 1.4, 1.15, 2.5


def _uniforms(name: str, split: str, indices: np.ndarray, n_draws: int) -> np.ndarray:
    """``(N, n_draws)`` float64 uniforms in [0, 1): draw ``j`` of glyph ``indices[n]`` of ``split`` of version
    ``name``."""
    per_glyph = _splitmix64(_splitmix64(indices.astype(_U64)) ^ _split_key(name, split))
    counters = per_glyph[:, None] + np.arange(1, n_draws + 1, dtype=_U64) * _GOLDEN
    return (_splitmix64(counters) >> _U64(11)).astype(np.float64) * 2.0**-53


@dataclasses.dataclass(frozen=True, eq=False)
class _Model:
    """One version of the handwriting model: its skeletons and how widely a style is drawn around them.

    Attributes:
        version: N of ``glyphs@N``; the split keys and every draw depend on it.
        allographs, samplings, habits: per digit, its skeletons (:mod:`.allographs`), their stroke samplings and its
            habits (slant offset, aspect, ink and bow factors).
        slant: mean and half-range of the shear per unit height. aspect_spread: half-range of the width factor.
        field: amplitude of the smooth displacement field, in units of the box. wobble: control-point jitter
            ``wobble[0] + wobble[1] u``. rotation: half-range of the rotation's parameter. bend: of the proportions
            of the upper and lower parts.
        shapes: glyphs@3's shape model, per ``(digit, allograph)``: ``(mean (m, 2), modes (K, m, 2))``, the
            skeleton's control points as fitted to MNIST's digits and their principal modes (scaled); None: the
            skeletons as drawn.
    """

    version: int
    allographs: Mapping[int, tuple[_Style, ...]]
    samplings: Mapping[int, tuple[StrokeSampling, ...]]
    habits: Mapping[int, tuple[float, float, float, float]]
    slant: tuple[float, float]
    aspect_spread: float
    field: float
    wobble: tuple[float, float]
    rotation: float
    bend: float
    shapes: Mapping[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def name(self) -> str:
        return f"glyphs@{self.version}"

    @property
    def n_draws(self) -> int:
        modes = max((m.shape[0] for _, m in self.shapes.values()), default=0) if self.shapes else 0
        return _MODES + 2 * modes


_V2 = _Model(
    version=2, allographs=ALLOGRAPHS, samplings=SAMPLINGS, habits=CLASS_HABITS, slant=(0.16, 0.5),
    aspect_spread=0.4, field=0.08, wobble=(0.01, 0.04), rotation=0.1, bend=0.5,
)  # fmt: skip


@functools.cache
def _model(version: int) -> _Model:
    """The model of ``glyphs@version`` (glyphs@3's shape model is read on first use)."""
    return _V2 if version == 2 else _shape_model(load_shapes3())


def _shape_model(table: ShapeTable) -> _Model:
    """glyphs@3 with the shape model ``table`` (:func:`.shape_model.read_shapes`)."""
    shapes = {key: (mean, modes) for key, (_, mean, modes) in table.items()}
    weights = {key: float(count) for key, (count, _, _) in table.items()}
    allographs = {
        d: tuple(dataclasses.replace(s, weight=weights.get((d, k), 0.0)) for k, s in enumerate(styles))
        for d, styles in ALLOGRAPHS_3.items()
    }  # an allograph no MNIST digit fitted best is never drawn
    # The fitted shapes carry the writers' slant, width and habits: only small spreads are added around them.
    habits = {d: (0.0, 1.03, ink, bow * 0.3) for d, (_, _, ink, bow) in CLASS_HABITS.items()}
    return _Model(
        version=3, allographs=allographs, samplings=SAMPLINGS_3, habits=habits, slant=(0.0, 0.15),
        aspect_spread=0.15, field=0.03, wobble=(0.005, 0.02), rotation=0.0, bend=0.15, shapes=shapes,
    )  # fmt: skip


def _tone_table() -> np.ndarray:
    """Ink density (0 .. _TONE_MAX in _LEVELS steps) to uint8: a ramp from _TOE (below it, background) to
    _KNEE (above it, saturated), bent up by the rational curve v (1 + k) / (v + k) (no pow: the same table on every
    platform): graded, anti-aliased edges around a saturated core."""
    d = np.linspace(0.0, _TONE_MAX, _LEVELS)
    v = np.clip((d - _TOE) / (_KNEE - _TOE), 0.0, 1.0)
    return np.floor(v * (1 + _BEND_K) / (v + _BEND_K) * 255.0 + 0.5).astype(np.uint8)


_TONE = _tone_table()
_VISIBLE = np.float32(np.flatnonzero(_TONE)[0] * _TONE_MAX / (_LEVELS - 1))  # density below it: tone 0


def _blur(canvas: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``canvas (n, _PAD * _PAD)`` (flat) blurred twice along each axis with the per-glyph kernel [g, 1, g]
    (``gamma``: ``(n, 1)`` float32): [b, 1 - 2b, b] twice, b = g / (1 + 2g), up to the factor (1 - 2b)^4 the caller
    folds into the ink. Returns a new array; ``canvas`` is overwritten.

    Shifts along the flat rows (by 1 for columns, by _PAD for rows) keep numpy's loops long. A column shift crosses
    into the next row only through the border, where ink never is (the splat stays 2 pixels inside and each pass
    spreads it by one), so the inner _WORK x _WORK pixels are exact."""
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


def _base_points(model: _Model, digit: int, k: int, draws: np.ndarray) -> np.ndarray:
    """``(n, m, 2)`` (or ``(1, m, 2)``) control points of allograph ``k`` of ``digit`` before any jitter: the skeleton,
    or (glyphs@3) the fitted mean shape moved along each principal mode by a unit-variance triangular draw."""
    style = model.allographs[digit][k]
    if model.shapes is None or (digit, k) not in model.shapes:
        return style.points[None]
    mean, modes = model.shapes[(digit, k)]
    count = modes.shape[0]
    z = (draws[:, _MODES : _MODES + count] + draws[:, _MODES + count : _MODES + 2 * count] - 1) * 6**0.5
    points = np.repeat(mean[None], draws.shape[0], axis=0)
    for j in range(count):  # a fixed order of elementwise sums: the same bytes on every platform
        points += z[:, j, None, None] * modes[j]
    return points


def _render_style(model: _Model, draws: np.ndarray, digit: int, k: int, out: np.ndarray) -> None:
    """Render glyphs of allograph ``k`` of ``digit`` into ``out (n, 28, 28) uint8`` from their ``draws (n, D)``
    uniforms.

    Geometry is float64 on the control points and float32 on the samples and pixels, every step elementwise
    per glyph, so a glyph's bytes do not depend on ``n``.
    """
    sampling = model.samplings[digit][k]
    base = _base_points(model, digit, k, draws)
    n, m = draws.shape[0], base.shape[1]
    u = draws[:, _JITTER : _JITTER + 3 * m].reshape(n, m, 3)
    # Control points (n, m): jittered by up to +-wobble (a writer's care), with pen pressure.
    wobble = model.wobble[0] + model.wobble[1] * draws[:, _WOBBLE, None]
    x = base[..., 0] + (2 * u[..., 0] - 1) * wobble
    y = base[..., 1] + (2 * u[..., 1] - 1) * wobble
    pressure = 0.8 + 0.4 * u[..., 2]
    # Pen lifts: the last point of each open stroke pulled back or pushed on along its last segment (loops
    # left open or overshooting, bars and tails of varying length).
    last, before = sampling.lifts
    reach = 0.35 * draws[:, _CLOSE, None] - 0.15
    dx, dy = x[:, last] - x[:, before], y[:, last] - y[:, before]
    x[:, last] += reach * dx
    y[:, last] += reach * dy

    lean, widen, weight, bow = model.habits[digit]
    # Smooth warps: proportions of the upper and lower parts, taper (top wider or narrower), bow.
    middle = y * (1 - y)
    x = x + (2 * draws[:, _TAPER, None] - 1) * 0.45 * (x - 0.4) * (y - 0.5)
    x = x + (2 * draws[:, _BOW, None] - 1) * (0.45 * bow) * middle
    y = y + (2 * draws[:, _BEND, None] - 1) * model.bend * middle
    # A smooth random displacement field over the box (an elastic distortion, as used to augment MNIST).
    field = (2 * draws[:, _FIELD : _FIELD + 18] - 1).reshape(n, 2, 3, 3) * model.field
    bx, by = _bernstein(x), _bernstein(y)  # (n, m, 3)
    shift_x, shift_y = np.zeros_like(x), np.zeros_like(y)
    for i in range(3):  # explicit sums in a fixed order: the same bytes whatever numpy's einsum would do
        for j in range(3):
            basis = bx[..., i] * by[..., j]
            shift_x += field[:, 0, i, j, None] * basis
            shift_y += field[:, 1, i, j, None] * basis
    x, y = x + shift_x, y + shift_y

    # Affine map: aspect, slant (a shear with a bell-shaped spread: the sum of two uniforms), small rotation
    # parametrised rationally (cos = (1 - r^2) / (1 + r^2), sin = 2r / (1 + r^2)): no libm.
    aspect = (1 + model.aspect_spread * (draws[:, _ASPECT, None] + draws[:, _ASPECT_B, None] - 1)) * widen
    slant_mean, slant_spread = model.slant
    slant = slant_mean + lean + slant_spread * (draws[:, _SLANT_A, None] + draws[:, _SLANT_B, None] - 1)
    r = model.rotation * (2 * draws[:, _ROTATE, None] - 1)
    cos, sin = (1 - r * r) / (1 + r * r), 2 * r / (1 + r * r)
    x = x * aspect + slant * (0.5 - y)
    x, y = cos * x - sin * y, sin * x + cos * y

    sx, sy = (spline_samples(c, sampling.taps, sampling.weights) for c in (x, y))
    # Pressure per sample: control points' pressure, a trend along the stroke, lighter ends.
    tilt = (2 * draws[:, _TILT, None] - 1).astype(np.float32) * 0.25
    lift = (0.0 + 0.3 * draws[:, _ENDS, None]).astype(np.float32)
    sp = spline_samples(pressure, sampling.taps, sampling.weights)
    sp = sp * (1 + tilt * sampling.along) * (1 - lift * sampling.ends)
    step_x = sx[:, sampling.next] - sx
    step_y = sy[:, sampling.next] - sy
    step = np.sqrt(step_x * step_x + step_y * step_y)
    arc = (step + step[:, sampling.prev]) * 0.5
    ink = arc * sp

    # Pen: the blur kernel's taps (wider kernel, wider stroke) and the gain (more of the stroke saturates).
    pen = draws[:, _WIDTH]
    beta = _BETA0 + _BETA1 * pen * pen  # each blur pass is [beta, 1 - 2 beta, beta]; a tail of bold pens
    gamma = (beta / (1 - 2 * beta)).astype(np.float32)[:, None]
    # The gain divides by the kernel's centre tap: how much of a stroke saturates does not depend on its width. The
    # passes leave out their factor (1 - 2 beta)^4, put back here.
    centre = (1 - 2 * beta) ** 2 + 2 * beta * beta  # of the 5-tap kernel the two passes make
    gain = weight * (_G0 + _G1 * (draws[:, _GAIN] + draws[:, _GAIN_B]) / 2)
    ink *= (gain * (1 - 2 * beta) ** 4 / centre).astype(np.float32)[:, None]

    # MNIST's frame, in passes. Pass 1: the larger side of the centre lines' box spans BOX - halo px, its
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
    ``ink (n, P)`` x scale (arc length in px), then blurred with the pen kernel ``gamma (n, 1)`` (:func:`_blur`)."""
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


def render_handwriting(split: str, indices: np.ndarray, version: int = VERSION) -> tuple[np.ndarray, np.ndarray]:
    """Render glyphs ``indices`` of ``split`` of ``glyphs@version``; each is a pure function of ``(split, index)``.

    Args:
        split: ``"train"`` or ``"test"`` (different glyphs for the same index).
        indices: ``(N,)`` non-negative integers (any, not only those below the split's size).
        version: 2 or 3 (:data:`VERSIONS`).

    Returns:
        ``images (N, 28, 28) uint8`` (white ink on black, fitted and centred as MNIST) and
        ``labels (N,) int16`` (``index % 10``).
    """
    return _render(_model(version), split, indices)


def _render(model: _Model, split: str, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render_handwriting` with ``model``."""
    indices = check_request(model.name, split, indices, SPLIT_SIZES)
    labels = (indices % 10).astype(np.int16)
    images = np.zeros((indices.size, SIZE, SIZE), np.uint8)
    for _, _, rows, block in _rendered_chunks(model, split, indices, labels):
        images[rows] = block
    return images, labels


def _rendered_chunks(
    model: _Model, split: str, indices: np.ndarray, labels: np.ndarray
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """``(digit, allograph, rows (n,), images (n, 28, 28) uint8)`` for each chunk of glyphs written in one allograph;
    ``rows`` are positions in ``indices``."""
    uniforms = functools.partial(_uniforms, model.name)
    chunks = style_chunks(split, indices, labels, model.allographs, uniforms, model.n_draws, _CHUNK, _STYLE)
    for digit, k, draws, rows in chunks:
        block = np.empty((rows.size, SIZE, SIZE), np.uint8)
        _render_style(model, draws, digit, k, block)
        yield digit, k, rows, block


def load_handwriting(split: str, *, val_size: int | None = None, version: int = VERSION) -> GlyphBank:
    """One split of ``glyphs@version`` (train 60,000 minus val, val carved from its end, test 10,000).

    Returns:
        A GlyphBank named ``"glyphs@N"`` of ``(M, 28, 28) uint8`` images and ``(M,) int16`` labels.
    """
    return procedural_bank(f"glyphs@{version}", _RENDERERS[version], SPLIT_SIZES, CLASS_NAMES, split, val_size)


# One renderer per version, the same object every time: procedural_bank caches a split's images by renderer.
_RENDERERS = {version: functools.partial(render_handwriting, version=version) for version in VERSIONS}
