"""The options of a picture (masks, boxes, trails, captions, legend, scale, names, pixel limit), checked once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Largest canvas (all frames of an animation together), in pixels, that is rendered without ``max_pixels``:
#: about 200 MB of RGB.
MAX_PIXELS = 64 * 2**20
MASK_KINDS = ("semantic", "instance")


@dataclass
class Options:
    masks: str | None = None
    boxes: bool = False
    trails: int = 0  # frames of history drawn; 0 = off
    captions: bool = True
    legend: bool = True
    scale: int = 2
    class_names: Sequence[str] | None = None
    ignore_label: int | None = None
    max_pixels: int = MAX_PIXELS

    @classmethod
    def make(cls, *, masks=False, boxes=False, trails=False, captions=True, legend=True, scale=2,
             class_names=None, ignore_label=None, max_pixels=None) -> Options:
        if masks in (False, None, "none", ""):
            masks = None
        elif masks is True:
            masks = "semantic"
        elif masks not in MASK_KINDS:
            raise ValueError(f"masks={masks!r} is not allowed: choose False, 'semantic' or 'instance'")
        if isinstance(trails, bool):
            trails = 10**9 if trails else 0
        elif not isinstance(trails, (int, np.integer)) or trails < 0:
            raise ValueError(f"trails={trails!r} is not allowed: True, False or a number of frames >= 0")
        if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or not 1 <= scale <= 32:
            raise ValueError(f"scale={scale!r} is not allowed: an integer in [1, 32] (nearest-neighbour upscaling)")
        if ignore_label is not None and not 0 <= int(ignore_label) <= 255:
            raise ValueError(f"ignore_label={ignore_label!r} is not allowed: an integer in [0, 255]")
        max_pixels = MAX_PIXELS if max_pixels is None else int(max_pixels)
        return cls(masks, bool(boxes), int(trails), bool(captions), bool(legend), int(scale),
                   None if class_names is None else [str(n) for n in class_names],
                   None if ignore_label is None else int(ignore_label), max_pixels)
