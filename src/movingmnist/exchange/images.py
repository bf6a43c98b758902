"""Frames as PNG files (lossless: the pixels read back are the frames' bytes)."""

from __future__ import annotations

import os

import numpy as np

from ..errors import ExportError

#: zlib level of the PNG files: 1 is several times faster than Pillow's default 6 for a few percent more bytes.
PNG_LEVEL = 1


def frame_images(frames: np.ndarray) -> np.ndarray:
    """``(T, C, H, W)`` uint8 frames -> ``(T, H, W)`` grey or ``(T, H, W, 3)`` RGB images."""
    c = frames.shape[1]
    if c == 1:
        return frames[:, 0]
    if c == 3:
        return frames.transpose(0, 2, 3, 1)
    raise ExportError("canvas.channels", c, "1 (grey) or 3 (RGB) to write frames as PNG images (or images=False)")


def write_pngs(frames: np.ndarray, directory: str, names: list[str]) -> None:
    """Write each frame of ``frames`` ``(T, C, H, W)`` uint8 to ``directory/names[t]`` as PNG."""
    from PIL import Image

    os.makedirs(directory, exist_ok=True)
    for image, name in zip(frame_images(frames), names, strict=True):
        Image.fromarray(np.ascontiguousarray(image)).save(
            os.path.join(directory, name), format="PNG", compress_level=PNG_LEVEL
        )
