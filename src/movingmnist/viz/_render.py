"""Composition of grids and animations: choose sequences and frames, lay them out, paint tiles and overlays.

A *tile* is one frame (or its mask) of one sequence, upscaled by ``scale``. A grid puts sequences in rows and
frames in columns on one canvas; an animation tiles sequences on a (rows x cols) grid and has one canvas per frame.
Both are painted the same way: tiles are written with one broadcast assignment per row of tiles (nearest-neighbour
upscaling is a broadcast, never a copy), overlays are scattered as flat pixel addresses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..batch import Batch
from ..errors import MovingMNISTError
from . import _draw as draw

#: Largest canvas (all frames of an animation together), in pixels, that is rendered without ``max_pixels``:
#: about 200 MB of RGB.
MAX_PIXELS = 64 * 2**20
MASK_KINDS = ("semantic", "instance")


class TooLargeError(MovingMNISTError, ValueError):
    """The requested picture or animation would exceed the pixel limit; the message says how to ask for less."""


# -- input -------------------------------------------------------------------------------------------------------------
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


@dataclass
class Shapes:
    """Per-sequence sizes of the data: T frames, C channels, H x W, K object slots."""

    t: int
    c: int
    h: int
    w: int
    k: int


@dataclass
class Source:
    """Anything that yields Batches: a Batch, a frames array, or a dataset (``len`` + slicing to a Batch)."""

    obj: Any
    length: int
    shapes: Shapes
    class_names: list[str] | None = None
    ignore_label: int | None = None
    _probe: Batch | None = field(default=None, repr=False)

    def take(self, positions: np.ndarray) -> Batch:
        """The sequences at ``positions`` (any order) as one Batch."""
        obj = self.obj
        if isinstance(obj, Batch):
            return take(obj, positions)
        # A dataset: read runs of consecutive positions with one slice each.
        runs = np.split(positions, np.nonzero(np.diff(positions) != 1)[0] + 1) if len(positions) else []
        parts = []
        for run in runs:
            part = obj[int(run[0]) : int(run[-1]) + 1]
            if not isinstance(part, Batch):
                raise TypeError(f"slicing {type(obj).__name__} returned {type(part).__name__}, not a Batch")
            parts.append(part)
        return concat(parts)


def take(batch: Batch, positions: np.ndarray) -> Batch:
    """Sequences of ``batch`` at ``positions`` (an index array)."""
    values = {}
    for name in batch.__dataclass_fields__:
        value = getattr(batch, name)
        values[name] = None if value is None else value[positions]
    return Batch(**values)


def concat(batches: list[Batch]) -> Batch:
    if len(batches) == 1:
        return batches[0]
    values = {}
    for name in batches[0].__dataclass_fields__:
        parts = [getattr(b, name) for b in batches]
        values[name] = None if any(p is None for p in parts) else np.concatenate(parts)
    return Batch(**values)


def as_batch(frames: np.ndarray) -> Batch:
    """Wrap a frames array ``(B, T, H, W)`` or ``(B, T, C, H, W)`` (uint8, or float in [0, 1]) as a Batch."""
    frames = np.asarray(frames)
    if frames.ndim == 4:
        frames = frames[:, :, None]
    if frames.ndim != 5:
        raise ValueError(f"a frames array must be (B, T, H, W) or (B, T, C, H, W), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating):
            frames = np.clip(np.nan_to_num(frames) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            frames = np.clip(frames, 0, 255).astype(np.uint8)
    b = frames.shape[0]
    return Batch(
        index=np.arange(b, dtype=np.int64),
        frames=frames,
        labels=np.zeros((b, 0), dtype=np.int16),
        present=np.zeros((b, 0), dtype=bool),
        glyph_index=np.zeros((b, 0), dtype=np.int32),
    )


def _metadata(obj: Any) -> dict:
    meta = getattr(obj, "metadata", None)
    if callable(meta):
        try:
            meta = meta()
        except TypeError:
            meta = None
    return meta if isinstance(meta, dict) else {}


def open_source(data: Any, class_names=None, ignore_label=None) -> Source:
    """Inspect ``data`` without reading more than one sequence of it."""
    if isinstance(data, np.ndarray):
        data = as_batch(data)
    if isinstance(data, Batch):
        probe = data
        length = len(data)
    elif hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        length = len(data)
        if length == 0:
            raise ValueError(f"{type(data).__name__} has no sequences to show")
        probe = data[0:1]
        if not isinstance(probe, Batch):
            raise TypeError(
                f"{type(data).__name__}[0:1] returned {type(probe).__name__}; expected a movingmnist Batch "
                "(give a Batch, a frames array, or a dataset from movingmnist.open)"
            )
    else:
        raise TypeError(
            f"cannot show {type(data).__name__}: give a Batch, a frames array (B, T, [C,] H, W), or a dataset "
            "(anything with len() whose slices are Batches, e.g. movingmnist.open(path))"
        )
    b, t, c, h, w = probe.frames.shape
    if c not in (1, 3):
        raise ValueError(f"frames must have 1 (grey) or 3 (RGB) channels, got C={c}")
    k = probe.labels.shape[1] if probe.labels is not None and probe.labels.ndim == 2 else 0
    meta = _metadata(data)
    if class_names is None:
        class_names = getattr(data, "class_names", None) or (meta.get("source") or {}).get("class_names")
    if ignore_label is None:
        ann = ((meta.get("spec") or {}).get("annotations") or {})
        ignore_label = ann.get("ignore_label")
    return Source(data, length, Shapes(t, c, h, w, k), list(class_names) if class_names else None,
                  None if ignore_label is None else int(ignore_label), probe)


def positions_of(selection: Any, length: int, what: str = "rows") -> np.ndarray:
    """Positions chosen by ``None`` (all), an int n (the first n), a slice, a ``"a:b"`` string or a sequence."""
    if selection is None:
        return np.arange(length, dtype=np.int64)
    if isinstance(selection, str):
        selection = parse_slice(selection, what)
    if isinstance(selection, (int, np.integer)) and not isinstance(selection, bool):
        if selection < 1:
            raise ValueError(f"{what}={selection} is not allowed: at least 1")
        return np.arange(min(int(selection), length), dtype=np.int64)
    if isinstance(selection, slice):
        return np.arange(length, dtype=np.int64)[selection]
    pos = np.asarray(list(selection), dtype=np.int64).reshape(-1)
    pos = np.where(pos < 0, pos + length, pos)
    bad = (pos < 0) | (pos >= length)
    if bad.any():
        raise IndexError(f"{what}: position {int(pos[bad][0])} is out of range for {length} available")
    return pos


def parse_slice(text: str, what: str = "indices") -> slice | list[int]:
    """``"0:16"``, ``"10:20:2"``, ``":8"`` -> slice; ``"3,5,9"`` or ``"7"`` -> a list."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [int(p) if p.strip() else None for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError
            return slice(*parts)
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"{what}={text!r} is not allowed: START:STOP[:STEP] or a comma list such as 3,5,9") from None


def frame_ids(frames: Any, t: int) -> np.ndarray:
    """Frames to show: ``None`` all, int n the first n, a slice or a sequence of frame numbers."""
    return positions_of(frames, t, "frames")


# -- the data of one picture -------------------------------------------------------------------------------------------
@dataclass
class Shown:
    """What a picture shows, with the batch axis first: B sequences, F frames of each."""

    batch: Batch
    frames: np.ndarray  # (F,) frame numbers
    class_names: list[str] | None
    ignore_label: int

    @property
    def b(self) -> int:
        return len(self.batch)

    def class_name(self, c: int) -> str:
        names = self.class_names
        return names[c] if names is not None and 0 <= c < len(names) else str(c)

    def slots_used(self) -> np.ndarray:
        present = self.batch.present
        return np.nonzero(present.any(axis=0))[0] if present is not None and present.size else np.zeros(0, int)


def check_pixels(pixels: int, opts: Options, what: str, advice: str) -> None:
    if pixels > opts.max_pixels:
        raise TooLargeError(
            f"{what} would be {pixels / 1e6:,.1f} megapixels, over the limit of {opts.max_pixels / 1e6:,.1f} "
            f"megapixels (about {3 * opts.max_pixels / 2**20:,.0f} MB of RGB). {advice}, a smaller scale "
            "(scale=1 / --scale 1), or pass max_pixels= to raise the limit"
        )


# -- painting ----------------------------------------------------------------------------------------------------------
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
        _stamp(canvas, where, bb[sel], ff[sel], ty, tx, ys, xs, None, table[slot], tile)
        ay, ax = np.nonzero(sprite)
        _stamp(canvas, where, bb[sel], ff[sel], ty, tx + 1, ay, ax, sprite[ay, ax], np.array(draw.BLACK), tile)


def _stamp(canvas, where, b, f, ty, tx, dy, dx, alpha, rgb, tile) -> None:
    """Stamp the pixels (dy, dx) (with ``alpha``) at every anchor (b, f, ty, tx), clipped to the tile."""
    y = (ty[:, None] + dy[None]).reshape(-1)
    x = (tx[:, None] + dx[None]).reshape(-1)
    rep = np.repeat(np.arange(len(b)), len(dy))
    keep = (y >= 0) & (y < tile[0]) & (x >= 0) & (x < tile[1])
    a = None if alpha is None else np.tile(alpha, len(b))[keep]
    rgb = np.broadcast_to(np.asarray(rgb, dtype=np.uint8), (int(keep.sum()), 3))
    scatter(canvas, where, b[rep[keep]], f[rep[keep]], y[keep], x[keep], rgb, a)


# -- captions and legend -----------------------------------------------------------------------------------------------
def slot_colours_used(opts: Options) -> bool:
    return bool(opts.boxes or opts.trails or opts.masks == "instance")


def caption_parts(shown: Shown, i: int, opts: Options) -> list[tuple[str, tuple[int, int, int]]]:
    """(text, colour) pieces of the caption of sequence ``i``: its index, then each object's class."""
    batch = shown.batch
    parts = [(f"#{int(batch.index[i])}", draw.DIM_TEXT)]
    if batch.labels is None or batch.present is None:
        return parts
    by_slot = slot_colours_used(opts)
    for k in np.nonzero(batch.present[i])[0]:
        label = int(batch.labels[i, k])
        name = shown.class_name(label) if label >= 0 else "?"
        if by_slot:
            parts.append((f"{k}:{name}", draw.color(k)))
        elif opts.masks == "semantic" and label >= 0:
            parts.append((name, draw.color(label)))
        else:
            parts.append((name, draw.TEXT))
    return parts


def draw_caption(image: np.ndarray, y: int, x: int, parts, size: int, clip=None) -> None:
    space = draw.text_width(" ", size) + 2
    for text, rgb in parts:
        x += draw.draw_text(image, y, x, text, rgb, size, clip) + space


def caption_width(parts, size: int) -> int:
    space = draw.text_width(" ", size) + 2
    return sum(draw.text_width(t, size) + space for t, _ in parts)


@dataclass
class LegendEntry:
    rgb: tuple[int, int, int] | None  # None: a heading
    text: str
    outlined: bool = False


def legend_entries(shown: Shown, opts: Options) -> list[LegendEntry]:
    if not opts.legend:
        return []
    batch = shown.batch
    entries: list[LegendEntry] = []
    if opts.masks == "semantic" and batch.semantic is not None:
        classes = set(np.unique(batch.semantic[:, shown.frames]).tolist())
        if batch.labels is not None and batch.present is not None:
            classes |= set(batch.labels[batch.present].tolist())
        classes.discard(shown.ignore_label)
        classes = sorted(c for c in classes if c >= 0)
        entries.append(LegendEntry(None, "classes:"))
        for c in classes:
            name = shown.class_name(c)
            entries.append(LegendEntry(draw.color(c), name if name == str(c) else f"{c} {name}"))
        entries.append(LegendEntry(draw.IGNORE, f"none ({shown.ignore_label})", outlined=True))
    if slot_colours_used(opts):
        slots = shown.slots_used()
        if len(slots):
            entries.append(LegendEntry(None, "objects:"))
            entries.extend(LegendEntry(draw.color(k), f"{k}") for k in slots)
            if opts.masks == "instance":
                entries.append(LegendEntry(draw.IGNORE, "background (0)", outlined=True))
    return entries


def legend_layout(entries: list[LegendEntry], width: int, size: int) -> tuple[list[tuple[int, int, LegendEntry]], int]:
    """Positions (dx, dy) of each entry in lines no wider than ``width``; a heading starts a new line."""
    lh = draw.line_height(size)
    sw = lh - 2  # swatch side
    row_h = lh + 4
    out = []
    x = y = 0
    for i, e in enumerate(entries):
        w = draw.text_width(e.text, size) + (0 if e.rgb is None else sw + 4) + 10
        if (x > 0 and x + w > width) or (e.rgb is None and i > 0):
            x, y = 0, y + row_h
        out.append((x, y, e))
        x += w
    return out, (y + row_h if entries else 0)


def draw_legend(image: np.ndarray, y0: int, x0: int, placed, size: int) -> None:
    lh = draw.line_height(size)
    sw = lh - 2
    for dx, dy, e in placed:
        x, y = x0 + dx, y0 + dy
        if e.rgb is None:
            draw.draw_text(image, y, x, e.text, draw.DIM_TEXT, size)
            continue
        draw.fill(image, y + 1, x, y + 1 + sw, x + sw, e.rgb)
        if e.outlined:
            draw.outline(image, y + 1, x, y + 1 + sw, x + sw, draw.OUTLINE)
        draw.draw_text(image, y, x + sw + 4, e.text, draw.TEXT, size)


def colours_used(shown: Shown, opts: Options) -> np.ndarray:
    """``(n, 3)`` the palette colours a picture may contain (mask classes, object slots)."""
    ids: set[int] = set()
    batch = shown.batch
    if opts.masks == "semantic" and batch.semantic is not None:
        ids |= set(np.unique(batch.semantic[:, shown.frames]).tolist())
        ids.discard(shown.ignore_label)
        if batch.labels is not None and batch.present is not None:
            ids |= {c for c in batch.labels[batch.present].tolist() if c >= 0}
    if slot_colours_used(opts):
        ids |= set(shown.slots_used().tolist())
    return draw.color_table()[sorted(ids)]


@dataclass
class Picture:
    """A rendered canvas ``(N, H, W, 3)`` and the palette colours it uses (for GIF palettes)."""

    canvas: np.ndarray
    colours: np.ndarray
    grey: bool  # frames are grey (C = 1): everything but the palette colours is grey


def text_size(scale: int) -> int:
    return min(10 + scale, 16)


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
    full = (b // cols) * cols
    layers = [(rgb_frames(shown.batch, shown.frames), 0)]
    if opts.masks:
        layers.append((mask_tiles(shown, opts.masks), tw + g))
    for tiles, dx in layers:
        tiles = np.moveaxis(tiles, 1, 0)  # (F, B, H, W, ch)
        if full:
            place(canvas, tiles[:, :full].reshape(f, full // cols, cols, *tiles.shape[2:]), tiles_y, m + dx,
                  py, px, s)
        if b > full:
            place(canvas, tiles[:, None, full:], tiles_y + (full // cols) * py, m + dx, py, px, s)
    bi = np.arange(b)
    where = Placement(np.broadcast_to(np.arange(f)[None, :], (b, f)),
                      np.broadcast_to((tiles_y + (bi // cols) * py)[:, None], (b, f)),
                      np.broadcast_to((m + (bi % cols) * px)[:, None], (b, f)), th, tw)
    paint_overlays(canvas, where, shown, opts)
    return Picture(canvas, colours_used(shown, opts), sh.c == 1)
