"""Bilinear resizing of uint8 glyphs, byte for byte what Pillow's ``Image.resize(size, BILINEAR)`` gives.

The SVG generator resized its digits with torchvision's ``Scale``, i.e. Pillow's bilinear filter, so the
``stochastic`` preset must reproduce that filter. Calling Pillow would make the data depend on the installed
imaging library: Pillow-SIMD rounds differently, and Pillow 13 runs the vertical pass first when the height
shrinks much more than the width (python-pillow/Pillow#9549), which changes some pixels by one grey level. This
module computes the classic rule's integers itself (horizontal pass first, as every Pillow before 13).

Pillow's rule (``libImaging/Resample.c``, 8-bit images), per axis: output pixel ``o`` of ``n_out`` is centred at
``c = (o + 1/2) * s`` with ``s = n_in / n_out``; the triangle filter is widened by ``f = max(s, 1)`` (so shrinking
averages, i.e. anti-aliases); taps ``i`` in ``[trunc(c - f + 1/2), trunc(c + f + 1/2))`` clipped to the image,
weights ``1 - |(i - c + 1/2) / f|`` (zero outside) normalised to sum 1, then rounded to 22-bit fixed point
(``trunc(w * 2**22 + 1/2)``). Each pass accumulates ``2**21 + sum(pixel * weight)``, shifts right by 22 and clips
to 0..255; the horizontal pass runs first (its result is stored as uint8), then the vertical one; an axis whose
size does not change is not resampled.
"""

from __future__ import annotations

import numpy as np

PRECISION_BITS = 22  # Pillow's 32 - 8 - 2


def bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` int64 fixed-point weights (scaled by 2**22) of Pillow's bilinear filter along one axis."""
    scale = n_in / n_out
    support = max(scale, 1.0)  # the filter's support (1) widened when shrinking
    inv = 1.0 / support
    weights = np.zeros((n_out, n_in), dtype=np.int64)
    for o in range(n_out):
        center = (o + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)  # int() truncates toward zero, as C's cast
        hi = min(int(center + support + 0.5), n_in)
        taps = np.arange(lo, hi, dtype=np.float64)
        w = np.maximum(1.0 - np.abs((taps - center + 0.5) * inv), 0.0)
        total = 0.0
        for value in w.tolist():  # summed in order, as Pillow does (numpy's pairwise sum may round differently)
            total += value
        if total != 0.0:
            w = w / total
        weights[o, lo:hi] = (w * (1 << PRECISION_BITS) + 0.5).astype(np.int64)
    return weights


def _pass(images: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """One resampling pass of ``(M, h, w)`` uint8 along ``axis`` (1: rows, 2: columns) -> uint8.

    float64 products and sums are exact here (255 * 2**22 * taps < 2**53), so BLAS gives Pillow's integers."""
    m, h, w = images.shape
    k = weights.astype(np.float64)
    if axis == 2:  # one matrix product over every row of every image
        acc = (images.reshape(m * h, w).astype(np.float64) @ k.T).reshape(m, h, -1)
    else:  # rows of all images side by side: (h, m * w), one product, then back
        acc = (k @ images.transpose(1, 0, 2).reshape(h, m * w).astype(np.float64)).reshape(-1, m, w)
        acc = acc.transpose(1, 0, 2)
    acc += 1 << (PRECISION_BITS - 1)
    acc *= 1.0 / (1 << PRECISION_BITS)  # exact: a power of two
    np.floor(acc, out=acc)
    np.clip(acc, 0, 255, out=acc)
    return acc.astype(np.uint8)


def bilinear_resize(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``(M, h, w)`` (or ``(h, w)``) uint8 images to ``(M, height, width)`` exactly as Pillow's
    ``Image.resize((width, height), Image.BILINEAR)`` does for mode ``L`` (every Pillow before 13; Pillow 13 too
    unless the height shrinks much more than the width, where it resamples vertically first).

    >>> import numpy as np
    >>> bilinear_resize(np.array([[0, 255]], dtype=np.uint8), 1, 4)
    array([[  0,  64, 191, 255]], dtype=uint8)
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (2, 3):
        raise ValueError(f"images must be (M, h, w) or (h, w) uint8, got {images.shape} {images.dtype}")
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")
    single = images.ndim == 2
    stack = images[None] if single else images
    height, width = int(height), int(width)
    _, h, w = stack.shape
    out = np.empty((len(stack), height, width), dtype=np.uint8)
    across = bilinear_weights(w, width) if w != width else None
    down = bilinear_weights(h, height) if h != height else None
    # Blocks of images bound the float64 temporaries (~32 MB) whatever the number of glyphs.
    block = max(1, (4 << 20) // max(h * max(w, width), height * width, 1))
    for lo in range(0, len(stack), block):
        part = stack[lo : lo + block]
        if across is not None:
            part = _pass(part, across, axis=2)
        if down is not None:
            part = _pass(part, down, axis=1)
        out[lo : lo + block] = part  # a copy even when no pass ran, as Pillow returns
    return out[0] if single else out
