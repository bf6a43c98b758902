"""Scene sampling: everything random about a sequence that is not motion (object count, glyph choice).

Also prepares the glyph set a spec renders from: the source split resized to ``objects.size`` with the ink
bounding box and ink mass of every glyph precomputed once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import rng
from .resize import bilinear_resize
from .sources import GlyphBank
from .spec import Spec


@dataclass(frozen=True, eq=False)
class GlyphSet:
    """Glyphs ready to draw.

    Attributes:
        images: ``(M, h, w)`` uint8. labels: ``(M,)`` int16.
        ink_box: ``(M, 4)`` int64 x0, y0, x1, y1 (exclusive) of the pixels above the mask threshold.
        ink_sum: ``(M,)`` int64 total intensity of those pixels.
        nz_box: ``(M, 4)`` int64 box of the nonzero pixels (what a transformed glyph's sampling must cover).
    """

    images: np.ndarray
    labels: np.ndarray
    ink_box: np.ndarray
    ink_sum: np.ndarray
    nz_box: np.ndarray

    @functools.cached_property
    def padded(self) -> np.ndarray:
        """``(M, h + 2, w + 2)`` uint8 images with one pixel of zeros around them (for bilinear sampling)."""
        out = np.pad(self.images, ((0, 0), (1, 1), (1, 1)))
        out.setflags(write=False)
        return out

    @property
    def glyph_hw(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])


def _box(ink: np.ndarray) -> np.ndarray:
    """x0, y0, x1, y1 (exclusive) of the True pixels of ``(M, h, w)`` masks; zeros for empty masks."""
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    h, w = ink.shape[1:]
    has = rows.any(axis=1)
    return np.stack(
        [
            np.where(has, cols.argmax(axis=1), 0),
            np.where(has, rows.argmax(axis=1), 0),
            np.where(has, w - cols[:, ::-1].argmax(axis=1), 0),
            np.where(has, h - rows[:, ::-1].argmax(axis=1), 0),
        ],
        axis=1,
    ).astype(np.int64)


@functools.lru_cache(maxsize=8)
def _glyph_set(bank: GlyphBank, size: int | None, threshold: int) -> GlyphSet:
    images = bank.images
    if size is not None and (size, size) != bank.glyph_shape:
        images = resize_glyphs(images, size)
    ink = images > threshold
    ink_box = _box(ink)
    nz_box = ink_box if threshold == 0 else _box(images > 0)
    ink_sum = np.where(ink, images, 0).sum(axis=(1, 2), dtype=np.int64)
    for array in (images, ink_box, ink_sum, nz_box):
        array.setflags(write=False)
    return GlyphSet(images, bank.labels, ink_box, ink_sum, nz_box)


def glyph_set(bank: GlyphBank, spec: Spec) -> GlyphSet:
    """The glyphs of ``bank`` prepared for ``spec`` (cached)."""
    return _glyph_set(bank, spec.objects.size, spec.annotations.mask_threshold)


def resize_glyphs(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(M, h, w)`` uint8 glyphs to ``(M, size, size)`` with Pillow's bilinear filter (as torchvision's
    ``Resize``/``Scale`` used by the SVG generator), computed by :mod:`movingmnist.resize` so that the bytes do not
    depend on the installed imaging library."""
    return bilinear_resize(images, size, size)


@dataclass(frozen=True)
class Scene:
    """Per-sequence latents other than motion, ``(B, K)`` each.

    Attributes:
        index: ``(B,)`` int64 sequence indices. count: ``(B,)`` objects in each sequence.
        present: ``(B, K)`` bool. glyph_index: ``(B, K)`` int32 (-1 absent). labels: ``(B, K)`` int16 (-1 absent).
    """

    index: np.ndarray
    count: np.ndarray
    present: np.ndarray
    glyph_index: np.ndarray
    labels: np.ndarray


def sample_scene(spec: Spec, seed: int, index: np.ndarray, glyphs: GlyphSet) -> Scene:
    """Object count and glyph choice of each sequence: a pure function of (spec, seed, index).

    Glyphs are drawn uniformly from the split for each (sequence, slot), independently of the other sequences, so
    that any sequence can be regenerated alone (the 2015 generator drew from a reshuffled pool instead).
    """
    index = np.asarray(index, dtype=np.int64)
    k = spec.objects.count[1]
    low, high = spec.objects.count
    count = rng.integers(seed, "objects.count", index, (), low, high)
    present = np.arange(k)[None, :] < count[:, None]
    m = glyphs.images.shape[0]
    chosen = rng.integers(seed, "objects.glyph", index, (k,), 0, m - 1)
    glyph_index = np.where(present, chosen, -1).astype(np.int32)
    labels = np.where(present, glyphs.labels[chosen], -1).astype(np.int16)
    return Scene(index=index, count=count, present=present, glyph_index=glyph_index, labels=labels)
