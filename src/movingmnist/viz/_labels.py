"""Captions (sequence index, object classes) and legends (class and slot colours) of a picture."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _draw as draw
from ._options import Options
from ._select import Shown


def slot_colours_used(opts: Options) -> bool:
    return bool(opts.boxes or opts.trails or opts.masks == "instance")


def caption_parts(shown: Shown, i: int, opts: Options) -> list[tuple[str, tuple[int, int, int]]]:
    """(text, colour) pieces of the caption of sequence ``i``: its index, then each object's class."""
    batch = shown.batch
    parts = [(f"#{int(batch.index[i])}", draw.DIM_TEXT)]
    slots = batch.slots()
    if batch.labels is None or slots is None:
        return parts
    by_slot = slot_colours_used(opts)
    for k in np.nonzero(slots[i])[0]:
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
        if batch.labels is not None and batch.slots() is not None:
            classes |= set(batch.labels[batch.slots()].tolist())
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
        if batch.labels is not None and batch.slots() is not None:
            ids |= {c for c in batch.labels[batch.slots()].tolist() if c >= 0}
    if slot_colours_used(opts):
        ids |= set(shown.slots_used().tolist())
    return draw.color_table()[sorted(ids)]


def text_size(scale: int) -> int:
    return min(10 + scale, 16)
