"""Background images: a folder of images loaded once per process as a bank of squares, and a random crop of one of
them per sequence (a pure function of (seed, index), in the namespace and on the device of the indices)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SourceError
from ..limits import check_memory
from ..spec import Spec
from . import rng
from . import xp as _xp

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


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


def image_crops(spec: Spec, seed: int, index: Any, big_h: int, big_w: int) -> Any:
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
