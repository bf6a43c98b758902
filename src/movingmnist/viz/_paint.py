"""Painting tiles and overlays onto canvases: tiles are written with one broadcast assignment per row of tiles
(nearest-neighbour upscaling is a broadcast, never a copy), overlays (trails, boxes, tags) are scattered as flat
pixel addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..batch import Batch
from . import _draw as draw
from ._options import Options
from ._select import Shown


def _view(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    view = array.reshape(shape)
    if not np.may_share_memory(view, array):  # pragma: no cover - layouts are built so that this cannot happen
        raise AssertionError("internal error: canvas region is not a view")
    return view


def place(canvas: np.ndarray, tiles: np.ndarray, y0: int, x0: int, py: int, px: int, scale: int) -> None:
    """Write ``tiles (N, R, C, h, w, ch)`` upscaled by ``scale`` into ``canvas (N, Hc, Wc, 3)``.

    Tile (r, c) of canvas n has its top-left at (y0 + r * py, x0 + c * px). ``ch`` is 1 (grey) or 3.
    """
    n, r, c, h, w, ch = tiles.shape
    if r == 0 or c == 0:
        return
    _, height, width, _ = canvas.shape
    hs, ws = h * scale, w * scale
    if y0 + r * py > height and py != hs:  # no room for the gap below the last row: place that row on its own
        if r > 1:
            place(canvas, tiles[:, :-1], y0, x0, py, px, scale)
        place(canvas, tiles[:, -1:], y0 + (r - 1) * py, x0, hs, px, scale)
        return
    if x0 + c * px > width and px != ws:
        if c > 1:
            place(canvas, tiles[:, :, :-1], y0, x0, py, px, scale)
        place(canvas, tiles[:, :, -1:], y0, x0 + (c - 1) * px, py, ws, scale)
        return
    region = canvas[:, y0 : y0 + r * py, x0 : x0 + c * px]
    if region.shape[1] != r * py or region.shape[2] != c * px:  # pragma: no cover - layout guarantees room
        raise AssertionError("internal error: canvas too small for its tiles")
    grid = _view(region, (n, r, py, c, px, 3))[:, :, : h * scale, :, : w * scale]
    target = _view(grid, (n, r, h, scale, c, w, scale, 3))
    target[...] = tiles.transpose(0, 1, 3, 2, 4, 5)[:, :, :, None, :, :, None, :]


@dataclass
class Placement:
    """Where tile (b, f) lies: on canvas ``n[b, f]`` with its top-left at ``(oy[b, f], ox[b, f])``."""

    n: np.ndarray
    oy: np.ndarray
    ox: np.ndarray
    th: int
    tw: int

    def flat(self, canvas: np.ndarray, b, f, y, x) -> np.ndarray:
        _, hc, wc, _ = canvas.shape
        return ((self.n[b, f] * hc + self.oy[b, f] + y) * wc + self.ox[b, f] + x).astype(np.int64)


def scatter(canvas: np.ndarray, where: Placement, b, f, y, x, rgb: np.ndarray, alpha: np.ndarray | None = None):
    """Set (or blend with ``alpha`` 0..255) pixels at tile-local (y, x) of tiles (b, f) to ``rgb (n, 3)``."""
    if len(y) == 0:
        return
    flat = canvas.reshape(-1, 3)
    address = where.flat(canvas, b, f, y, x)
    if alpha is None:
        flat[address] = rgb
    else:
        a = alpha.astype(np.uint16)[:, None]
        old = flat[address].astype(np.uint16)
        flat[address] = ((old * (255 - a) + rgb.astype(np.uint16) * a + 127) // 255).astype(np.uint8)


def rgb_frames(batch: Batch, frames: np.ndarray) -> np.ndarray:
    """``(B, F, H, W, ch)`` view-or-copy of the frames in channels-last order (ch = 1 or 3)."""
    return np.moveaxis(batch.frames[:, frames], 2, -1)


def mask_tiles(shown: Shown, kind: str) -> np.ndarray:
    """``(B, F, H, W, 3)`` colour masks."""
    batch = shown.batch
    if kind == "semantic":
        mask = batch.semantic
        lut = draw.semantic_lut(shown.ignore_label)
    else:
        mask = batch.instance
        lut = draw.instance_lut()
    if mask is None:
        raise ValueError(
            f"masks={kind!r}: this data has no {kind} masks (turn on annotations.{kind} when generating)"
        )
    return lut[mask[:, shown.frames]]


def paint_overlays(canvas: np.ndarray, where: Placement, shown: Shown, opts: Options) -> None:
    """Trails and boxes (with slot ids) on the frame tiles."""
    batch = shown.batch
    s = opts.scale
    tile = (where.th, where.tw)
    table = draw.color_table()
    if opts.trails and batch.centers is not None and batch.centers.shape[2]:
        _paint_trails(canvas, where, batch.centers, shown.frames, opts.trails, s, tile, table)
    if opts.boxes and batch.boxes is not None and batch.boxes.shape[2]:
        _paint_boxes(canvas, where, batch.boxes[:, shown.frames], s, tile, table)


def _paint_trails(canvas, where, centers, frames, length, s, tile, table) -> None:
    b, t, k, _ = centers.shape
    pts = centers.astype(np.float64) * s  # (B, T, K, 2) in tile pixels
    if t > 1:
        p0 = pts[:, :-1].reshape(-1, 2)
        p1 = pts[:, 1:].reshape(-1, 2)
        jump = np.abs(p1 - p0).max(axis=1)
        ok = np.isfinite(p0).all(axis=1) & np.isfinite(p1).all(axis=1) & (jump <= 0.5 * min(tile))
        seg = np.nonzero(ok)[0]
        y, x, which = draw.segment_pixels(p0[seg], p1[seg], tile, thickness=max(1, s // 2))
        seg_id = seg[which]  # index into (B, T-1, K)
        sb, sj, sk = np.unravel_index(seg_id, (b, t - 1, k))
        # Segment j (frame j -> j + 1) is drawn on every shown frame f with frames[f] - length <= j < frames[f].
        shown_at = (sj[:, None] < frames[None, :]) & (sj[:, None] >= frames[None, :] - length)
        m, f = np.nonzero(shown_at)
        scatter(canvas, where, sb[m], f, y[m], x[m], table[sk[m]])
    # The current centre: a small square.
    d = (s + 2) | 1
    cur = pts[:, frames]  # (B, F, K, 2)
    fin = np.isfinite(cur).all(axis=-1)
    bb, ff, kk = np.nonzero(fin)
    cx = np.floor(cur[bb, ff, kk, 0]).astype(np.int64)
    cy = np.floor(cur[bb, ff, kk, 1]).astype(np.int64)
    off = np.arange(d) - d // 2
    dy, dx = (a.reshape(-1) for a in np.meshgrid(off, off, indexing="ij"))
    y = (cy[:, None] + dy[None]).reshape(-1)
    x = (cx[:, None] + dx[None]).reshape(-1)
    rep = np.repeat(np.arange(len(bb)), len(dy))
    keep = (y >= 0) & (y < tile[0]) & (x >= 0) & (x < tile[1])
    rep = rep[keep]
    scatter(canvas, where, bb[rep], ff[rep], y[keep], x[keep], table[kk[rep]])


def _paint_boxes(canvas, where, boxes, s, tile, table) -> None:
    """``boxes (B, F, K, 4)`` outlines in slot colours with the slot id in a filled tag above the box."""
    b, f, k, _ = boxes.shape
    flat = boxes.reshape(-1, 4)
    ok = np.nonzero(np.isfinite(flat).all(axis=1))[0]
    if ok.size == 0:
        return
    thickness = 1 if s < 3 else 2
    y, x, which = draw.box_outline_pixels(flat[ok], s, thickness, tile)
    bb, ff, kk = np.unravel_index(ok[which], (b, f, k))
    scatter(canvas, where, bb, ff, y, x, table[kk])
    # Tags: slot id in black on the slot colour, just above the box (inside it when there is no room above).
    size = 7 + min(s, 4)
    lh = draw.line_height(size)
    bb, ff, kk = np.unravel_index(ok, (b, f, k))
    x0 = np.floor(flat[ok, 0] * s).astype(np.int64)
    y0 = np.floor(flat[ok, 1] * s).astype(np.int64)
    for slot in np.unique(kk):
        sel = kk == slot
        sprite = draw.text_sprite(str(int(slot)), size)
        th_, tw_ = lh, sprite.shape[1] + 1
        ty = np.where(y0[sel] - th_ >= 0, y0[sel] - th_, y0[sel] + thickness)
        tx = np.clip(x0[sel], 0, max(tile[1] - tw_, 0))
        ys, xs = np.nonzero(np.ones((th_, tw_), dtype=bool))
        _stamp(canvas, where, (bb[sel], ff[sel], ty, tx), Stamp(ys, xs, table[slot]), tile)
        ay, ax = np.nonzero(sprite)
        _stamp(canvas, where, (bb[sel], ff[sel], ty, tx + 1), Stamp(ay, ax, np.array(draw.BLACK), sprite[ay, ax]), tile)


@dataclass(frozen=True)
class Stamp:
    """Pixels at offsets ``(dy, dx)`` from an anchor, in colour ``rgb``, blended with ``alpha`` (None: opaque)."""

    dy: np.ndarray
    dx: np.ndarray
    rgb: Any
    alpha: np.ndarray | None = None


def _stamp(canvas, where, anchors, stamp: Stamp, tile) -> None:
    """Stamp ``stamp`` at every anchor ``(b, f, ty, tx)`` (tile b, f; tile-local top-left), clipped to the tile."""
    b, f, ty, tx = anchors
    dy, dx = stamp.dy, stamp.dx
    y = (ty[:, None] + dy[None]).reshape(-1)
    x = (tx[:, None] + dx[None]).reshape(-1)
    rep = np.repeat(np.arange(len(b)), len(dy))
    keep = (y >= 0) & (y < tile[0]) & (x >= 0) & (x < tile[1])
    a = None if stamp.alpha is None else np.tile(stamp.alpha, len(b))[keep]
    rgb = np.broadcast_to(np.asarray(stamp.rgb, dtype=np.uint8), (int(keep.sum()), 3))
    scatter(canvas, where, b[rep[keep]], f[rep[keep]], y[keep], x[keep], rgb, a)
