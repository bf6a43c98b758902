"""Scene sampling: everything random about a sequence that is not motion (object count, glyph choice).

Also prepares the glyph set a spec renders from: the source split resized to ``objects.size`` with the ink
bounding box and ink mass of every glyph precomputed once.
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..resize import bilinear_resize
from ..sources import GlyphBank
from ..spec import Spec
from . import lifetimes, rng
from . import xp as _xp


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


_GLYPH_SETS: collections.OrderedDict[tuple, GlyphSet] = collections.OrderedDict()


def _glyph_set(bank: GlyphBank, size: int | None, threshold: int) -> GlyphSet:
    """Cached by the bank's content checksum, not its identity: ``mm.generate(spec, source=(images, labels))``
    builds a new bank per call, and preparing the glyphs again cost a fifth of a call of 8,192 sequences."""
    key = (bank.checksum or id(bank), size, threshold)
    found = _GLYPH_SETS.get(key)
    if found is None:
        found = _prepare_glyph_set(bank, size, threshold)
        _GLYPH_SETS[key] = found
        while len(_GLYPH_SETS) > 8:
            _GLYPH_SETS.popitem(last=False)
    _GLYPH_SETS.move_to_end(key)
    return found


def _prepare_glyph_set(bank: GlyphBank, size: int | None, threshold: int) -> GlyphSet:
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
    """Per-sequence latents other than motion, in the namespace of ``index`` (numpy or torch).

    Attributes:
        index: ``(B,)`` int64 sequence indices. count: ``(B,)`` int64 objects in each sequence.
        present: ``(B, K)`` bool. glyph_index: ``(B, K)`` int32 (-1 absent). labels: ``(B, K)`` int16 (-1 absent).
    """

    index: Any
    count: Any
    present: Any
    glyph_index: Any
    labels: Any
    schedule: Any = None  # lifetimes.Schedule when the spec has lifetimes (appearance frames, births)

    @property
    def safe_glyph_index(self) -> Any:
        """``(B, K)`` int64 glyph indices with absent slots at glyph 0 (for gathers; mask with ``present``)."""
        xp = _xp.namespace(self.glyph_index)
        gi = xp.astype(self.glyph_index, xp.int64)
        return xp.where(gi < 0, 0, gi)


def sample_scene(spec: Spec, seed: int, index: Any, glyph_labels: Any) -> Scene:
    """Object count and glyph choice of each sequence: a pure function of (spec, seed, index).

    Glyphs are drawn uniformly from the split for each (sequence, slot), independently of the other sequences, so
    that any sequence can be regenerated alone (the 2015 generator drew from a reshuffled pool instead).

    Args:
        index: ``(B,)`` sequence indices (numpy array or torch tensor).
        glyph_labels: ``(M,)`` label of every glyph of the split, in the namespace and on the device of ``index``.
    """
    xp = _xp.namespace(index)
    index = xp.astype(index, xp.int64)
    low, high = spec.objects.count
    choices = spec.objects.choices
    if choices is None:
        count = rng.integers(seed, "objects.count", index, (), low, high)
    else:  # one entry of the list, uniformly: repeated counts weigh more
        pick = rng.integers(seed, "objects.count", index, (), 0, len(choices) - 1)
        table = xp.asarray(list(choices), dtype=xp.int64, device=_xp.device_of(index))
        count = table[pick]
    k = spec.objects.slots  # births add slots after the first count high; their draws extend the same streams
    slots = xp.arange(k, device=_xp.device_of(index))
    present = slots[None, :] < count[:, None]
    schedule = None
    if spec.objects.has_lifetimes:
        schedule = lifetimes.schedule(spec, seed, index, count)
        present = schedule.occupied
    chosen = rng.integers(seed, "objects.glyph", index, (k,), 0, glyph_labels.shape[0] - 1)
    glyph_index = xp.astype(xp.where(present, chosen, -1), xp.int32)
    labels = xp.astype(xp.where(present, xp.astype(glyph_labels[chosen], xp.int64), -1), xp.int16)
    return Scene(
        index=index, count=count, present=present, glyph_index=glyph_index, labels=labels, schedule=schedule
    )
