"""Drawing primitives on RGB canvases: the fixed palette, text sprites, and vectorised scatter of overlay pixels.

Everything here works on ``uint8`` RGB arrays. Overlays (boxes, trails, labels) are turned into flat pixel
addresses and written with one fancy-indexing assignment each, so their cost does not grow with a Python loop over
sequences or frames.
"""

from __future__ import annotations

import colorsys
import functools

import numpy as np

#: The fixed qualitative palette (Trubetskoy's "20 simple distinct colours", reordered so that the first ten read
#: well on a black background). Class ``c`` of a semantic mask is drawn in ``PALETTE[c]``; object slot ``k``
#: (instance masks, boxes, trails) in ``PALETTE[k]``. Ids from 20 on get generated colours (golden-angle hues);
#: a colour depends only on its id, never on what else is shown.
PALETTE: tuple[str, ...] = (
    "#e6194b",  # 0 red
    "#3cb44b",  # 1 green
    "#ffe119",  # 2 yellow
    "#4363d8",  # 3 blue
    "#f58231",  # 4 orange
    "#42d4f4",  # 5 cyan
    "#f032e6",  # 6 magenta
    "#bfef45",  # 7 lime
    "#fabed4",  # 8 pink
    "#dcbeff",  # 9 lavender
    "#469990",  # 10 teal
    "#9a6324",  # 11 brown
    "#fffac8",  # 12 beige
    "#aaffc3",  # 13 mint
    "#911eb4",  # 14 purple
    "#ffd8b1",  # 15 apricot
    "#808000",  # 16 olive
    "#800000",  # 17 maroon
    "#000075",  # 18 navy
    "#a9a9a9",  # 19 grey
)

BACKGROUND = (32, 32, 32)  # margins and gaps around the tiles
TEXT = (235, 235, 235)
DIM_TEXT = (150, 150, 150)
BLACK = (0, 0, 0)
IGNORE = (0, 0, 0)  # semantic ignore label and instance background
OUTLINE = (110, 110, 110)  # around black legend swatches


def _hex(code: str) -> tuple[int, int, int]:
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


@functools.lru_cache(maxsize=1)
def color_table() -> np.ndarray:
    """``(256, 3)`` uint8: the colour of every id 0..255 (class of a semantic mask, or object slot)."""
    table = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        if i < len(PALETTE):
            table[i] = _hex(PALETTE[i])
        else:
            hue = (i * 0.618033988749895) % 1.0
            sat = 0.55 + 0.35 * ((i // 2) % 2)
            val = 0.95 - 0.2 * ((i // 3) % 2)
            table[i] = [round(255 * c) for c in colorsys.hsv_to_rgb(hue, sat, val)]
    table.setflags(write=False)
    return table


def color(i: int) -> tuple[int, int, int]:
    """The RGB colour of id ``i`` (a class of a semantic mask, or an object slot): stable, see :data:`PALETTE`."""
    r, g, b = (int(v) for v in color_table()[int(i) % 256])
    return r, g, b


def semantic_lut(ignore_label: int) -> np.ndarray:
    """``(256, 3)`` lookup table of a semantic mask: class colours, the ignore label black."""
    lut = color_table().copy()
    lut[ignore_label] = IGNORE
    return lut


def instance_lut() -> np.ndarray:
    """``(256, 3)`` lookup table of an instance mask: 0 black, ``k + 1`` the colour of slot ``k``."""
    lut = np.empty((256, 3), dtype=np.uint8)
    lut[0] = IGNORE
    lut[1:] = color_table()[:255]
    return lut


# -- text --------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def font(size: int):
    """Pillow's built-in font at ``size`` px (scalable where Pillow >= 10.1 and FreeType are there)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


@functools.lru_cache(maxsize=1024)
def text_sprite(text: str, size: int) -> np.ndarray:
    """Coverage of ``text`` rendered at ``size`` px: ``(h, w)`` uint8 alpha, top-left at the text origin."""
    from PIL import Image, ImageDraw

    f = font(size)
    if not text:
        return np.zeros((line_height(size), 0), dtype=np.uint8)
    width = int(np.ceil(f.getlength(text))) + 2
    image = Image.new("L", (max(width, 1), line_height(size)), 0)
    ImageDraw.Draw(image).text((0, 0), text, fill=255, font=f)
    sprite = np.asarray(image)
    sprite.setflags(write=False)
    return sprite


@functools.lru_cache(maxsize=16)
def line_height(size: int) -> int:
    """Pixels from the top of a line of text to the bottom of its descenders."""
    ascent, descent = font(size).getmetrics()
    return int(ascent + descent)


def text_width(text: str, size: int) -> int:
    return int(np.ceil(font(size).getlength(text))) if text else 0


def blend(image: np.ndarray, y: int, x: int, alpha: np.ndarray, rgb, clip=None) -> None:
    """Paint ``rgb`` through ``alpha (h, w)`` onto ``image (H, W, 3)`` at top-left (y, x), clipped to ``clip``.

    ``clip`` is ``(y0, x0, y1, x1)`` (default the whole image).
    """
    height, width = image.shape[:2]
    cy0, cx0, cy1, cx1 = clip if clip is not None else (0, 0, height, width)
    cy0, cx0, cy1, cx1 = max(cy0, 0), max(cx0, 0), min(cy1, height), min(cx1, width)
    h, w = alpha.shape
    y0, x0 = max(y, cy0), max(x, cx0)
    y1, x1 = min(y + h, cy1), min(x + w, cx1)
    if y1 <= y0 or x1 <= x0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None].astype(np.uint16)
    region = image[y0:y1, x0:x1]
    colour = np.asarray(rgb, dtype=np.uint16)
    region[...] = ((region * (255 - a) + colour * a + 127) // 255).astype(np.uint8)


def draw_text(image: np.ndarray, y: int, x: int, text: str, rgb, size: int, clip=None) -> int:
    """Write ``text`` with its top-left at (y, x); returns its width in pixels."""
    blend(image, y, x, text_sprite(text, size), rgb, clip)
    return text_width(text, size)


def fill(image: np.ndarray, y0: int, x0: int, y1: int, x1: int, rgb) -> None:
    """Fill the rectangle rows y0..y1-1, columns x0..x1-1 (clipped to the image)."""
    image[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = rgb


def outline(image: np.ndarray, y0: int, x0: int, y1: int, x1: int, rgb) -> None:
    """A 1 px outline just inside the rectangle rows y0..y1-1, columns x0..x1-1."""
    fill(image, y0, x0, y0 + 1, x1, rgb)
    fill(image, y1 - 1, x0, y1, x1, rgb)
    fill(image, y0, x0, y1, x0 + 1, rgb)
    fill(image, y0, x1 - 1, y1, x1, rgb)


# -- vectorised overlays -----------------------------------------------------------------------------------------------
def ragged_arange(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(start, start + length)`` for every pair, and which pair each value came from."""
    lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 0)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    if owner.size == 0:
        return np.zeros(0, dtype=np.int64), owner
    offsets = np.cumsum(lengths) - lengths
    values = np.arange(owner.size, dtype=np.int64) - offsets[owner] + np.asarray(starts, dtype=np.int64)[owner]
    return values, owner


def box_outline_pixels(boxes: np.ndarray, scale: int, thickness: int, tile_hw: tuple[int, int]):
    """Pixels of the outlines of boxes ``(N, 4)`` (x0, y0, x1, y1 in canvas pixel edges), scaled by ``scale``.

    Returns ``(y, x, which)``: tile-local pixel coordinates of every outline pixel (inside the tile) and the box
    each belongs to. The outline lies just inside the box's edges: a box of pixels [x0, x1) has its left line on
    column ``x0 * scale`` and its right line on ``x1 * scale - 1``.
    """
    th, tw = tile_hw
    x0 = np.floor(boxes[:, 0] * scale).astype(np.int64)
    y0 = np.floor(boxes[:, 1] * scale).astype(np.int64)
    x1 = np.ceil(boxes[:, 2] * scale).astype(np.int64) - 1
    y1 = np.ceil(boxes[:, 3] * scale).astype(np.int64) - 1
    ys, xs, owners = [], [], []
    for d in range(thickness):
        # Horizontal lines (top, bottom), then vertical lines (left, right), each d pixels inwards.
        for row, c0, c1 in ((y0 + d, x0, x1), (y1 - d, x0, x1)):
            cols, owner = ragged_arange(c0, c1 - c0 + 1)
            ys.append(row[owner])
            xs.append(cols)
            owners.append(owner)
        for col, r0, r1 in ((x0 + d, y0, y1), (x1 - d, y0, y1)):
            rows, owner = ragged_arange(r0, r1 - r0 + 1)
            ys.append(rows)
            xs.append(col[owner])
            owners.append(owner)
    y = np.concatenate(ys)
    x = np.concatenate(xs)
    which = np.concatenate(owners)
    keep = (y >= 0) & (y < th) & (x >= 0) & (x < tw)
    return y[keep], x[keep], which[keep]


def segment_pixels(p0: np.ndarray, p1: np.ndarray, tile_hw: tuple[int, int], thickness: int = 1):
    """Pixels of straight segments ``p0 -> p1`` (``(N, 2)`` float (x, y) in tile pixels), clipped to the tile.

    Returns ``(y, x, which)``. Each segment is sampled at one point per pixel of its longer axis; a
    ``thickness`` of n draws an n x n pen.
    """
    th, tw = tile_hw
    length = np.ceil(np.abs(p1 - p0).max(axis=1)).astype(np.int64) + 1
    step, owner = ragged_arange(np.zeros(len(length), dtype=np.int64), length)
    frac = step / np.maximum(length[owner] - 1, 1)
    pts = p0[owner] + (p1[owner] - p0[owner]) * frac[:, None]
    x = np.floor(pts[:, 0]).astype(np.int64)
    y = np.floor(pts[:, 1]).astype(np.int64)
    if thickness > 1:
        off = np.arange(thickness) - thickness // 2
        dy, dx = (a.reshape(-1) for a in np.meshgrid(off, off, indexing="ij"))
        x = (x[:, None] + dx[None]).reshape(-1)
        y = (y[:, None] + dy[None]).reshape(-1)
        owner = np.repeat(owner, len(dx))
    keep = (y >= 0) & (y < th) & (x >= 0) & (x < tw)
    return y[keep], x[keep], owner[keep]
