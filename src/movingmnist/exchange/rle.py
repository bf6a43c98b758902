"""COCO run-length encoding of binary masks, vectorised over many masks (no pycocotools needed to write).

The counts are those of ``pycocotools.mask.encode``: pixels in column-major order (down each column, columns left to
right), run lengths alternating zeros and ones and starting with zeros (a first count of 0 when the first pixel is
set). The compressed string is pycocotools' ``rleToString``: each count (from the fourth on, its difference to the
count two before) in little-endian groups of 5 bits, 6 bits per character with a continuation bit, offset by 48.
The tests decode every string with pycocotools and compare pixel for pixel.
"""

from __future__ import annotations

import numpy as np

#: 5-bit groups in the longest string of one count: enough for differences of counts up to 2**34.
MAX_GROUPS = 7


def rle_counts(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uncompressed COCO counts of each mask.

    Args:
        masks: ``(M, H, W)`` bool (or 0/1) masks.

    Returns:
        ``(counts, lengths)``: all masks' counts one after the other ``(sum(lengths),)`` int64, and the number of
        counts of each mask ``(M,)`` int64.
    """
    masks = np.asarray(masks, dtype=bool)
    m, h, w = masks.shape
    size = h * w
    flat = np.zeros((m, size + 1), dtype=bool)
    flat[:, 1:] = masks.transpose(0, 2, 1).reshape(m, size)  # column-major pixels, after an implicit 0
    rows, cols = np.nonzero(flat[:, 1:] != flat[:, :-1])  # pixel p differs from pixel p - 1: a run starts at p
    changes = np.bincount(rows, minlength=m)
    lengths = changes + 1
    # Boundaries of each mask: 0, every change, size; counts are their differences (a change at 0 gives count 0).
    ends = np.cumsum(changes + 2)
    starts = ends - changes - 2
    bounds = np.empty(int(ends[-1]) if m else 0, dtype=np.int64)
    bounds[starts] = 0
    bounds[ends - 1] = size
    bounds[np.arange(len(cols)) + 2 * rows + 1] = cols
    steps = np.diff(bounds)
    keep = np.ones(len(steps), dtype=bool)
    keep[ends[:-1] - 1] = False  # the step from one mask's end to the next mask's start
    return steps[keep], lengths


def rle_strings(counts: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Compressed COCO strings (pycocotools' ``rleToString``) of the counts from :func:`rle_counts`."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    position = np.arange(len(counts)) - np.repeat(first, lengths)  # index of each count within its mask
    x = counts.copy()
    later = np.nonzero(position > 2)[0]
    x[later] -= counts[later - 2]
    groups = np.empty((len(x), MAX_GROUPS), dtype=np.uint8)
    used = np.zeros(len(x), dtype=np.int64)
    active = np.ones(len(x), dtype=bool)
    for j in range(MAX_GROUPS):
        c = x & 0x1F
        x >>= 5  # arithmetic shift: negative differences end at -1
        more = np.where(c & 0x10, x != -1, x != 0)
        groups[:, j] = (c | (more << 5)) + 48
        used += active
        active &= more
    if active.any():
        raise ValueError("a mask is too large for COCO run-length strings (a count difference needs > 35 bits)")
    text = groups[np.arange(MAX_GROUPS) < used[:, None]].tobytes().decode("ascii")
    sizes = np.add.reduceat(used, first) if len(lengths) else np.zeros(0, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return [text[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]


def encode(masks: np.ndarray) -> list[dict]:
    """COCO RLE objects ``{"size": [H, W], "counts": str}`` of ``(M, H, W)`` masks, as ``pycocotools.mask.encode``
    gives them (with the counts as text, ready for JSON)."""
    masks = np.asarray(masks, dtype=bool)
    h, w = masks.shape[1:]
    counts, lengths = rle_counts(masks)
    return [{"size": [h, w], "counts": s} for s in rle_strings(counts, lengths)]
