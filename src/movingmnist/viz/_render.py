"""Composition of grids and animations: choose sequences and frames, lay them out, paint tiles and overlays.

A *tile* is one frame (or its mask) of one sequence, upscaled by ``scale``. A grid puts sequences in rows and
frames in columns on one canvas; an animation tiles sequences on a (rows x cols) grid and has one canvas per frame.
Both are painted the same way (:mod:`movingmnist.viz._paint`): tiles are written with one broadcast assignment per
row of tiles (nearest-neighbour upscaling is a broadcast, never a copy), overlays are scattered as flat pixel
addresses. Captions and legends are drawn by :mod:`movingmnist.viz._labels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MovingMNISTError
from . import _draw as draw
from ._labels import (
    caption_parts,
    caption_width,
    colours_used,
    draw_caption,
    draw_legend,
    legend_entries,
    legend_layout,
    text_size,
)
from ._options import Options
from ._paint import Placement, mask_tiles, paint_overlays, place, rgb_frames
from ._select import Shown, Source, frame_ids, open_source, positions_of


class TooLargeError(MovingMNISTError, ValueError):
    """The requested picture or animation would exceed the pixel limit; the message says how to ask for less."""


def check_pixels(pixels: int, opts: Options, what: str, advice: str) -> None:
    if pixels > opts.max_pixels:
        raise TooLargeError(
            f"{what} would be {pixels / 1e6:,.1f} megapixels, over the limit of {opts.max_pixels / 1e6:,.1f} "
            f"megapixels (about {3 * opts.max_pixels / 2**20:,.0f} MB of RGB). {advice}, a smaller scale "
            "(scale=1 / --scale 1), or pass max_pixels= to raise the limit"
        )


@dataclass
class Picture:
    """A rendered canvas ``(N, H, W, 3)`` and the palette colours it uses (for GIF palettes)."""

    canvas: np.ndarray
    colours: np.ndarray
    grey: bool  # frames are grey (C = 1): everything but the palette colours is grey


# -- grid --------------------------------------------------------------------------------------------------------------
def _gather(source: Source, rows: Any, frames: Any, opts: Options, plan) -> Shown:
    """Check the size with ``plan(B, F) -> (pixels, what, advice)``, then read the chosen sequences."""
    pos = positions_of(rows, source.length)
    if len(pos) == 0:
        raise ValueError("no sequences selected")
    fids = frame_ids(frames, source.shapes.t)
    if len(fids) == 0:
        raise ValueError("no frames selected")
    pixels, what, advice = plan(len(pos), len(fids))
    check_pixels(pixels, opts, what, advice)
    batch = source.take(pos)
    ignore = opts.ignore_label if opts.ignore_label is not None else source.ignore_label
    names = opts.class_names if opts.class_names is not None else source.class_names
    return Shown(batch, fids, names, 255 if ignore is None else ignore)


def grid_canvas(data: Any, rows: Any, frames: Any, opts: Options) -> Picture:
    """The grid picture: a canvas of shape ``(1, H, W, 3)`` uint8."""
    source = open_source(data, opts.class_names, opts.ignore_label)
    sh = source.shapes
    s, g, m = opts.scale, 2, 4
    th, tw = sh.h * s, sh.w * s
    size = text_size(s)
    lh = draw.line_height(size)
    sub = 2 if opts.masks else 1
    cap_h = lh + 3 if opts.captions else 0
    head_h = lh + 2 if opts.captions else 0
    block_h = cap_h + sub * (th + g)

    def plan(b, f):
        width = 2 * m + f * (tw + g)
        height = 2 * m + head_h + b * block_h + 2 * (lh + 4)
        return (width * height, f"a grid of {b} sequences x {f} frames of {sh.h}x{sh.w} at scale {s}",
                f"Show fewer sequences (rows=16 / --num 16), fewer frames (frames={min(f, 10)} / "
                f"--frames {min(f, 10)})")

    shown = _gather(source, rows, frames, opts, plan)
    b, f = shown.b, len(shown.frames)
    captions = [caption_parts(shown, i, opts) for i in range(b)] if opts.captions else []
    width = 2 * m + f * (tw + g) - g
    width = max([width] + [m + caption_width(p, size) for p in captions])
    entries = legend_entries(shown, opts)
    placed, legend_h = legend_layout(entries, width - 2 * m, size)
    body_y = m + head_h
    height = body_y + b * block_h - g + (legend_h + 4 if entries else 0) + m
    canvas = np.empty((1, height, width, 3), dtype=np.uint8)
    canvas[...] = draw.BACKGROUND
    image = canvas[0]

    if opts.captions:
        for j, t in enumerate(shown.frames):
            draw.draw_text(image, m, m + j * (tw + g), f"t={int(t)}", draw.DIM_TEXT, size)
        for i, parts in enumerate(captions):
            draw_caption(image, body_y + i * block_h + 1, m, parts, size)
    tiles_y = body_y + cap_h
    place(canvas, rgb_frames(shown.batch, shown.frames)[None], tiles_y, m, block_h, tw + g, s)
    if opts.masks:
        place(canvas, mask_tiles(shown, opts.masks)[None], tiles_y + th + g, m, block_h, tw + g, s)
    bi = np.arange(b)[:, None]
    fi = np.arange(f)[None, :]
    where = Placement(np.zeros((b, f), dtype=np.int64), np.broadcast_to(tiles_y + bi * block_h, (b, f)),
                      np.broadcast_to(m + fi * (tw + g), (b, f)), th, tw)
    paint_overlays(canvas, where, shown, opts)
    if entries:
        draw_legend(image, body_y + b * block_h + 2, m, placed, size)
    return Picture(canvas, colours_used(shown, opts), sh.c == 1)


# -- animation ---------------------------------------------------------------------------------------------------------
def tile_shape(n: int, tile: tuple[int, int] | None) -> tuple[int, int]:
    if tile is None:
        cols = max(1, math.ceil(math.sqrt(n)))
        return max(1, math.ceil(n / cols)), cols
    rows, cols = (int(v) for v in tile)
    if rows < 1 or cols < 1:
        raise ValueError(f"tile={tile!r} is not allowed: (rows, cols) with both >= 1")
    return rows, cols


def animation_canvas(data: Any, indices: Any, frames: Any, tile, opts: Options) -> Picture:
    """The animation as ``(T, H, W, 3)`` uint8: sequences tiled on a (rows x cols) grid, one canvas per frame."""
    source = open_source(data, opts.class_names, opts.ignore_label)
    sh = source.shapes
    if indices is None and tile is not None:
        r, c = tile_shape(0, tile)
        indices = r * c
    s, g, gg, m = opts.scale, 2, 6, 6
    th, tw = sh.h * s, sh.w * s
    size = text_size(s)
    lh = draw.line_height(size)
    cap_h = lh + 2 if opts.captions else 0
    head_h = lh + 4 if opts.captions else 0
    cell_w = tw * (2 if opts.masks else 1) + (g if opts.masks else 0)
    py, px = cap_h + th + gg, cell_w + gg

    def plan(b, f):
        r, c = tile_shape(b, tile)
        width = 2 * m + c * px
        height = 2 * m + head_h + r * py + 2 * (lh + 4)
        return (f * width * height,
                f"an animation of {b} sequences ({r}x{c} tiles) x {f} frames of {sh.h}x{sh.w} at scale {s}",
                f"Show fewer sequences (indices=16 or tile=(4, 4) / --num 16), fewer frames (frames={min(f, 10)} / "
                f"--frames {min(f, 10)})")

    shown = _gather(source, indices, frames, opts, plan)
    b, f = shown.b, len(shown.frames)
    rows, cols = tile_shape(b, tile)
    if b > rows * cols:
        raise ValueError(f"tile={rows}x{cols} holds {rows * cols} sequences, but {b} were selected")
    width = 2 * m + cols * px - gg
    entries = legend_entries(shown, opts)
    placed, legend_h = legend_layout(entries, width - 2 * m, size)
    width = max(width, 2 * m + max((dx + draw.text_width(e.text, size) + lh + 14 for dx, _, e in placed), default=0))
    body_y = m + head_h
    height = body_y + rows * py + (legend_h if entries else 0) + m

    # The still parts (captions, legend) once, then copied to every frame.
    still = np.empty((height, width, 3), dtype=np.uint8)
    still[...] = draw.BACKGROUND
    for i in range(b):
        r, c = divmod(i, cols)
        y, x = body_y + r * py, m + c * px
        if opts.captions:
            draw_caption(still, y, x, caption_parts(shown, i, opts), size, clip=(y, x, y + cap_h, x + cell_w))
    if entries:
        draw_legend(still, body_y + rows * py, m, placed, size)
    canvas = np.empty((f, height, width, 3), dtype=np.uint8)
    canvas[...] = still
    if opts.captions:
        total = sh.t
        for j, t in enumerate(shown.frames):
            draw.draw_text(canvas[j], m, m, f"t={int(t)}/{total - 1}", draw.DIM_TEXT, size)

    tiles_y = body_y + cap_h
    _place_in_cells(canvas, rgb_frames(shown.batch, shown.frames), cols, (tiles_y, m), (py, px), s)
    if opts.masks:
        _place_in_cells(canvas, mask_tiles(shown, opts.masks), cols, (tiles_y, m + tw + g), (py, px), s)
    bi = np.arange(b)
    where = Placement(np.broadcast_to(np.arange(f)[None, :], (b, f)),
                      np.broadcast_to((tiles_y + (bi // cols) * py)[:, None], (b, f)),
                      np.broadcast_to((m + (bi % cols) * px)[:, None], (b, f)), th, tw)
    paint_overlays(canvas, where, shown, opts)
    return Picture(canvas, colours_used(shown, opts), sh.c == 1)


def _place_in_cells(canvas: np.ndarray, tiles: np.ndarray, cols: int, origin, pitch, scale: int) -> None:
    """Place ``tiles (B, F, H, W, ch)`` on the animation canvases ``(F, ...)``: sequence i in the cell at row
    i // cols, column i % cols of a grid of cells ``pitch = (py, px)`` apart whose first is at ``origin = (y, x)``."""
    (y0, x0), (py, px) = origin, pitch
    tiles = np.moveaxis(tiles, 1, 0)  # (F, B, H, W, ch)
    f, b = tiles.shape[:2]
    full = (b // cols) * cols
    if full:
        place(canvas, tiles[:, :full].reshape(f, full // cols, cols, *tiles.shape[2:]), y0, x0, py, px, scale)
    if b > full:
        place(canvas, tiles[:, None, full:], y0 + (full // cols) * py, x0, py, px, scale)
