"""The translation renderer on CPU with numpy (the reference for translation-only specs): whole-pixel glyphs
composited into preallocated buffers.

Each glyph is drawn by a windowed gather / combine / scatter: a strided view exposes every (h, w) window of the
canvas, one advanced-indexing call reads the windows of object k in all (B, T) frames at once, and one writes them
back. Only the glyph's box is ever touched, a Python loop runs over objects only, and all buffers are reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..latents.background import BackgroundPlan
from ..latents.scene import GlyphSet
from ..spec import Spec
from ..tracks import Tracks
from .scratch import Workspace


def _windows(canvas: np.ndarray, h: int, w: int) -> np.ndarray:
    """Writable view ``(B, T, Hc - h + 1, Wc - w + 1, h, w)`` of every glyph window of ``canvas (B, T, Hc, Wc)``."""
    b, t, hc, wc = canvas.shape
    s = canvas.strides
    return as_strided(canvas, (b, t, hc - h + 1, wc - w + 1, h, w), (s[0], s[1], s[2], s[3], s[2], s[3]))


def composite(
    glyphs: np.ndarray,
    topleft: np.ndarray,
    labels: np.ndarray,
    mode: str,
    frames: np.ndarray,
    instance: np.ndarray | None = None,
    semantic: np.ndarray | None = None,
    *,
    ignore_label: int = 255,
    threshold: int = 0,
    pad: int = 0,
) -> None:
    """Draw objects ``0..K-1`` in order (later on top) into ``frames``, and mark who owns each pixel.

    Args:
        glyphs: ``(B, K, h, w)`` uint8 glyph images (all zeros for absent slots).
        topleft: ``(B, T, K, 2)`` int top-left (x, y) of each glyph box in canvas coordinates (with ``pad``, the
            canvases are ``pad`` pixels larger on each side and positions may lie in ``[-pad, size]``).
        labels: ``(B, K)`` class of each object (written into ``semantic``).
        mode: ``max`` (per-pixel maximum), ``sum`` (saturating sum) or ``over`` (a glyph's inked pixels replace
            what is below).
        frames: ``(B, T, Hc, Wc)`` uint8 output canvas (overwritten).
        instance, semantic: optional ``(B, T, Hc, Wc)`` uint8 ownership outputs (overwritten): ``k + 1`` / the
            label of the topmost object whose ink there exceeds ``threshold``; for ``max`` the object shown there
            (ties go to the later object).
    """
    b, k_slots, h, w = glyphs.shape
    t = topleft.shape[1]
    frames.fill(0)
    if instance is not None:
        instance.fill(0)
    if semantic is not None:
        semantic.fill(ignore_label)
    win = _windows(frames, h, w)
    inst_win = _windows(instance, h, w) if instance is not None else None
    sem_win = _windows(semantic, h, w) if semantic is not None else None
    bi = np.arange(b)[:, None]
    ti = np.arange(t)[None, :]
    for k in range(k_slots):
        x = topleft[:, :, k, 0] + pad
        y = topleft[:, :, k, 1] + pad
        g = glyphs[:, k][:, None]  # (B, 1, h, w), broadcast over frames
        if k == 0:
            # The canvas is empty: the glyph is the composite, whatever the mode.
            win[bi, ti, y, x] = g
            owned = g > threshold
        else:
            cur = win[bi, ti, y, x]  # (B, T, h, w) copy
            if mode == "max":
                owned = (g >= cur) & (g > threshold)
                np.maximum(cur, g, out=cur)
            elif mode == "sum":
                owned = np.broadcast_to(g > threshold, cur.shape)
                room = 255 - cur
                np.minimum(room, g, out=room)
                cur += room
            else:  # over
                owned = np.broadcast_to(g > threshold, cur.shape)
                cur = np.where(g > 0, g, cur)
            win[bi, ti, y, x] = cur
        if inst_win is not None:
            if k == 0:
                inst_win[bi, ti, y, x] = owned.view(np.uint8)  # True is 1 = k + 1
            else:
                # Codes grow with k, so "k + 1 where owned" is a maximum (cheaper than a masked copy).
                cur_i = inst_win[bi, ti, y, x]
                np.maximum(cur_i, owned.view(np.uint8) * np.uint8(k + 1), out=cur_i)
                inst_win[bi, ti, y, x] = cur_i
        if sem_win is not None:
            label = labels[:, k].astype(np.uint8).reshape(b, 1, 1, 1)
            if k == 0:
                sem_win[bi, ti, y, x] = np.where(owned, label, np.uint8(ignore_label))
            else:
                # Select label where owned with byte ops: cur ^= (cur ^ label) & (0xFF where owned).
                cur_s = sem_win[bi, ti, y, x]
                flip = cur_s ^ label
                flip &= owned.view(np.uint8) * np.uint8(255)
                cur_s ^= flip
                sem_win[bi, ti, y, x] = cur_s


def measure_objects(
    instance: np.ndarray,
    glyphs: np.ndarray,
    topleft: np.ndarray,
    ink_sum: np.ndarray,
    *,
    threshold: int = 0,
    pad: int = 0,
    boxes: np.ndarray | None = None,
    visibility: np.ndarray | None = None,
) -> None:
    """Modal boxes and visible ink fraction of each object from the ownership map.

    Args:
        instance: ``(B, T, Hc, Wc)`` ownership from :func:`composite` (its ``pad`` border must already be zero).
        glyphs: ``(B, K, h, w)`` uint8. topleft: ``(B, T, K, 2)`` as given to :func:`composite`.
        ink_sum: ``(B, K)`` total ink of each glyph above ``threshold`` (0 for absent slots).
        boxes: ``(B, T, K, 4)`` float32 output: x0, y0, x1, y1 pixel edges of the owned pixels; NaN if none.
        visibility: ``(B, T, K)`` float32 output: owned ink / total ink.
    """
    b, k_slots, h, w = glyphs.shape
    t = topleft.shape[1]
    inst_win = _windows(instance, h, w)
    bi = np.arange(b)[:, None]
    ti = np.arange(t)[None, :]
    ones_w = np.ones(w, dtype=np.float32)
    if visibility is not None:
        ink = np.where(glyphs > threshold, glyphs, 0).astype(np.float32).reshape(b, k_slots, h * w, 1)
    for k in range(k_slots):
        x = topleft[:, :, k, 0] + pad
        y = topleft[:, :, k, 1] + pad
        owned = inst_win[bi, ti, y, x] == np.uint8(k + 1)  # (B, T, h, w) bool
        as_float = owned.astype(np.float32)
        if visibility is not None:
            seen = np.matmul(as_float.reshape(b, t, h * w), ink[:, k])[..., 0]  # (B, T)
            total = ink_sum[:, k][:, None].astype(np.float64)
            visibility[:, :, k] = np.where(total > 0, seen / np.maximum(total, 1.0), 0.0)
        if boxes is not None:
            # Rows: a matrix-vector product (reducing a short contiguous axis directly is slow in numpy).
            rows = (as_float.reshape(-1, w) @ ones_w).reshape(b, t, h) > 0
            cols = _fold_rows(owned)  # (B, T, w)
            seen_any = rows.any(axis=2)
            out = boxes[:, :, k]
            out[..., 0] = x - pad + cols.argmax(axis=2)
            out[..., 1] = y - pad + rows.argmax(axis=2)
            out[..., 2] = x - pad + w - cols[..., ::-1].argmax(axis=2)
            out[..., 3] = y - pad + h - rows[..., ::-1].argmax(axis=2)
            out[~seen_any] = np.nan


def _fold_rows(mask: np.ndarray) -> np.ndarray:
    """OR over axis 2 of ``(B, T, h, w)`` bool by halving: each step is one long elementwise op."""
    while mask.shape[2] > 1:
        half = mask.shape[2] // 2
        folded = mask[:, :, :half] | mask[:, :, half : 2 * half]
        if mask.shape[2] % 2:
            folded[:, :, :1] |= mask[:, :, 2 * half :]
        mask = folded
    return mask[:, :, 0]


class TranslationRenderer:
    """Draws translation-only tracks (``Tracks.topleft``) with numpy: frames, instance and semantic maps, modal and
    amodal boxes, visibility.

    Args:
        spec: the dataset's spec (compositing, canvas, annotations). glyphs: its glyph set.
    """

    general = False

    def __init__(self, spec: Spec, glyphs: GlyphSet, kernel: str = "numpy") -> None:
        self.spec = spec
        self.glyphs = glyphs
        self.workspace = Workspace()
        self.kernel = kernel

    def draw(self, tracks: Tracks, background: BackgroundPlan | None, out: Mapping[str, Any]) -> None:
        """Render ``tracks`` into the output views ``out`` (``frames (B, T, 1, H, W)`` and the annotations the spec
        asks for, each with a leading ``B`` axis). ``background`` must be None (translation-only specs have
        none)."""
        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        big_h, big_w = spec.canvas.height, spec.canvas.width
        h, w = self.glyphs.glyph_hw
        scene = tracks.scene
        b = scene.present.shape[0]
        topleft = tracks.topleft[:, :t]
        if self.kernel == "numba":
            self._draw_numba(tracks, out)
            self._amodal_boxes(tracks, out)
            return
        gi = scene.safe_glyph_index
        glyphs = self.glyphs.images[gi]  # (B, K, h, w)
        glyphs[~scene.present] = 0
        draw_at = np.where(scene.present[:, None, :, None], topleft, 0)

        # Glyph boxes that cross the canvas edge are drawn on canvases padded on every side. One glyph of padding
        # holds every model but flip with a margin, whose walls (on the ink) can put a box further out.
        beyond = max(
            int(-draw_at[..., 0].min(initial=0)),
            int(-draw_at[..., 1].min(initial=0)),
            int(draw_at[..., 0].max(initial=0)) - (big_w - w),
            int(draw_at[..., 1].max(initial=0)) - (big_h - h),
        )
        pad = 0 if beyond <= 0 else max(h, w, beyond)
        need_owner = ann.needs_ownership
        frames_out = out["frames"].reshape(b, t, big_h, big_w)
        ws = self.workspace
        if pad:
            shape = (b, t, big_h + 2 * pad, big_w + 2 * pad)
            frames = ws.get("frames", shape, np.uint8)
            instance = ws.get("instance", shape, np.uint8) if need_owner else None
            semantic = ws.get("semantic", shape, np.uint8) if ann.semantic else None
        else:
            frames = frames_out
            instance = None
            if need_owner:
                instance = out["instance"] if ann.instance else ws.get("instance", (b, t, big_h, big_w), np.uint8)
            semantic = out["semantic"] if ann.semantic else None

        composite(
            glyphs, draw_at, scene.labels, spec.compositing, frames, instance, semantic,
            ignore_label=ann.ignore_label, threshold=ann.mask_threshold, pad=pad,
        )
        if pad:
            crop = (slice(None), slice(None), slice(pad, pad + big_h), slice(pad, pad + big_w))
            frames_out[...] = frames[crop]
            if ann.instance:
                out["instance"][...] = instance[crop]
            if ann.semantic:
                out["semantic"][...] = semantic[crop]
            if instance is not None:
                # Pixels off the canvas are not visible: clear the border before measuring.
                instance[:, :, :pad] = 0
                instance[:, :, pad + big_h :] = 0
                instance[:, :, :, :pad] = 0
                instance[:, :, :, pad + big_w :] = 0

        if ann.boxes or ann.visibility:
            ink_sum = np.where(scene.present, self.glyphs.ink_sum[gi], 0)
            measure_objects(
                instance, glyphs, draw_at, ink_sum, threshold=ann.mask_threshold, pad=pad,
                boxes=out["boxes"] if ann.boxes else None, visibility=out["visibility"] if ann.visibility else None,
            )
        self._amodal_boxes(tracks, out)

    def _draw_numba(self, tracks: Tracks, out: Mapping[str, Any]) -> None:
        """Frames, ownership maps, boxes and visibility by the numba kernel (the same bytes as the numpy path)."""
        from .fused.translation import MODES, render_translation

        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        big_h, big_w = spec.canvas.height, spec.canvas.width
        scene = tracks.scene
        b = scene.present.shape[0]
        gidx = np.where(scene.present, scene.glyph_index, -1).astype(np.int64)
        ink_sum = np.where(scene.present, self.glyphs.ink_sum[scene.safe_glyph_index], 0).astype(np.int64)
        # Arrays the kernel does not write still need their types: tiny stand-ins.
        dummy = self.workspace.get("dummy", (1, 1, 1, 1), np.uint8)
        measures = self.workspace.get("measures", (1, 1, 1, 4), np.float32)
        seen = self.workspace.get("seen", (1, 1, 1), np.float32)
        render_translation(
            self.glyphs.images, gidx, np.ascontiguousarray(tracks.topleft[:, :t], dtype=np.int64),
            scene.labels.astype(np.int64), MODES[spec.compositing], ann.mask_threshold, ann.ignore_label, ink_sum,
            out["frames"].reshape(b, t, big_h, big_w),
            out["instance"] if ann.instance else dummy, out["semantic"] if ann.semantic else dummy,
            out["boxes"] if ann.boxes else measures, out["visibility"] if ann.visibility else seen,
            ann.instance, ann.semantic, ann.boxes, ann.visibility,
        )

    def _amodal_boxes(self, tracks: Tracks, out: Mapping[str, Any]) -> None:
        ann = self.spec.annotations
        scene = tracks.scene
        topleft = tracks.topleft[:, : self.spec.frames]
        gi = scene.safe_glyph_index
        if ann.amodal_boxes:
            amodal = out["amodal_boxes"]
            ink_box = self.glyphs.ink_box[gi]  # (B, K, 4); all zeros for a glyph with no ink above the threshold
            amodal[...] = np.tile(topleft, 2) + ink_box[:, None]
            # Absent objects and glyphs without ink have no box (as in the general renderers).
            none = ~scene.present | (ink_box[..., 2] <= ink_box[..., 0])
            amodal[np.broadcast_to(none[:, None, :], amodal.shape[:3])] = np.nan
