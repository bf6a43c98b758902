"""Writing pictures: one shared GIF palette for all frames (vectorised, no per-frame quantisation), MP4 via ffmpeg."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np

from ..errors import require

GIF_COLOURS = 256


def _key15(rgb: np.ndarray) -> np.ndarray:
    """5 bits per channel: ``(..., 3)`` uint8 -> ``(...)`` uint16 key."""
    r = (rgb[..., 0] >> 3).astype(np.uint16)
    g = (rgb[..., 1] >> 3).astype(np.uint16)
    b = (rgb[..., 2] >> 3).astype(np.uint16)
    return (r << 10) | (g << 5) | b


@functools.lru_cache(maxsize=8)
def _nearest15(palette_bytes: bytes) -> np.ndarray:
    """For every 15-bit colour, the index of the nearest palette entry (exact palette colours map to themselves)."""
    palette = np.frombuffer(palette_bytes, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    keys = np.arange(1 << 15, dtype=np.int32)
    centres = np.stack([(keys >> 10) & 31, (keys >> 5) & 31, keys & 31], axis=1) * 8 + 4
    lut = np.empty(1 << 15, dtype=np.uint8)
    for lo in range(0, 1 << 15, 4096):
        d = ((centres[lo : lo + 4096, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
        lut[lo : lo + 4096] = d.argmin(axis=1)
    lut[_key15(palette.astype(np.uint8))] = np.arange(len(palette), dtype=np.uint8)
    lut.setflags(write=False)
    return lut


def quantise(canvas: np.ndarray, colours: np.ndarray, grey: bool) -> tuple[np.ndarray, np.ndarray]:
    """One palette of at most 256 colours for all frames of ``canvas (N, H, W, 3)``; returns (indices, palette).

    The palette holds ``colours`` exactly (masks, boxes, trails). With ``grey`` frames the rest of the palette is a
    grey ramp, and grey pixels keep (almost) their 8-bit value; otherwise the rest is a median-cut palette of a
    sample of all frames. Either way every frame shares the palette, so nothing flickers.
    """
    colours = np.unique(np.asarray(colours, dtype=np.uint8).reshape(-1, 3), axis=0)
    colours = colours[:128]
    if grey:
        levels = GIF_COLOURS - len(colours)
        ramp = np.round(np.linspace(0, 255, levels)).astype(np.uint8)
        palette = np.concatenate([np.repeat(ramp[:, None], 3, axis=1), colours])
        grey_lut = np.round(np.arange(256) * (levels - 1) / 255).astype(np.uint8)
        r, g, b = canvas[..., 0], canvas[..., 1], canvas[..., 2]
        index = grey_lut[r]
        coloured = (r != g) | (g != b)
        if coloured.any():
            lut = _nearest15(palette.tobytes())
            index[coloured] = lut[_key15(canvas[coloured])]
        return index, palette
    from PIL import Image

    flat = canvas.reshape(-1, 3)
    step = max(1, flat.shape[0] // 250_000)
    sample = np.ascontiguousarray(flat[::step])
    image = Image.fromarray(sample.reshape(1, -1, 3))
    wanted = GIF_COLOURS - len(colours)
    quant = image.quantize(colors=wanted, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    found = np.asarray(quant.getpalette()[: 3 * wanted], dtype=np.uint8).reshape(-1, 3)
    palette = np.concatenate([found, colours])
    lut = _nearest15(palette.tobytes())
    return lut[_key15(canvas)], palette


def gif_bytes(canvas: np.ndarray, colours: np.ndarray, grey: bool, fps: float, loop: int = 0) -> bytes:
    """An animated GIF of ``canvas (N, H, W, 3)`` with one shared palette."""
    from PIL import Image

    index, palette = quantise(canvas, colours, grey)
    pal = palette.reshape(-1).tolist()
    pal += [0] * (3 * GIF_COLOURS - len(pal))
    images = []
    for frame in index:
        image = Image.fromarray(frame)
        image.putpalette(pal)
        images.append(image)
    out = io.BytesIO()
    duration = max(int(round(1000.0 / fps)), 20)
    extra = {"append_images": images[1:], "save_all": True, "loop": loop} if len(images) > 1 else {}
    images[0].save(out, format="GIF", duration=duration, optimize=False, disposal=1, **extra)
    return out.getvalue()


def write_png(canvas: np.ndarray, path: str | Path) -> None:
    from PIL import Image

    Image.fromarray(canvas).save(path, format="PNG", optimize=False, compress_level=6)


def write_mp4(canvas: np.ndarray, path: str | Path, fps: float, quality: float = 8.0) -> None:
    """H.264 MP4 of ``canvas (N, H, W, 3)``; the canvas is padded to a multiple of 16 pixels (codec blocks)."""
    ffmpeg = require("imageio_ffmpeg", "viz", "Writing MP4 (save_mp4)")
    n, h, w, _ = canvas.shape
    ph, pw = -h % 16, -w % 16
    if ph or pw:
        canvas = np.pad(canvas, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    writer = ffmpeg.write_frames(
        str(path), (w + pw, h + ph), fps=float(fps), codec="libx264", quality=quality, pix_fmt_out="yuv420p",
        macro_block_size=16, ffmpeg_log_level="error",
    )
    writer.send(None)
    try:
        for frame in canvas:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
