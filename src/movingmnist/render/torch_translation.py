"""The translation renderer in torch ops on any device: the numpy translation renderer's bytes.

Translation-only glyphs are composited by *pulling* whole canvas rows: every glyph of a batch is
copied once into a zero-padded row buffer ``(B, K, h + 1, 2W + w)``, so that canvas row ``Y`` of object ``k`` is the
``W``-byte window of that buffer starting at ``(row Y - y) * L + (W - x)`` (the zero row when the glyph does not
cover ``Y``). One ``index_select`` over an overlapping ``(N, W)`` view of the buffer then yields object k's
layer of every frame of the batch, ``(B, T, H, W)``, as contiguous row copies: memcpy speed on CPU, coalesced
reads on GPU, and no scatter, so no write conflicts and no dependence on the order of execution. The layers are
combined in object order by the same rules as :func:`movingmnist.render.translation.composite`, and boxes and
visibility are measured from the final ownership map. There is no Python loop over sequences or frames; loops run
over objects only, and the glyph bank is uploaded once per device.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import require
from ..latents.background import BackgroundPlan
from ..latents.scene import GlyphSet
from ..spec import Spec
from ..tracks import Tracks
from .scratch import Workspace

torch = require("torch", "torch", "the torch backend")

# Bytes of scratch canvases per composite sub-step on CPU (measured best between 8 and 128 MiB on 2 cores).
CPU_CACHE_BYTES = 32 * 2**20
# Bytes of one (B, T, H, W) uint8 canvas per composite sub-step on accelerators (bounds device scratch memory; each
# kernel still covers about a GiB, so launch overheads stay negligible).
DEVICE_CANVAS_BYTES = 2**30


# -- glyphs on the device ------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DeviceGlyphs:
    """A :class:`~movingmnist.latents.scene.GlyphSet` on one device: images ``(M, h, w)`` uint8, labels ``(M,)`` int64,
    ink_box ``(M, 4)`` int64, ink_sum ``(M,)`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    ink_box: torch.Tensor
    ink_sum: torch.Tensor


_DEVICE_GLYPHS: weakref.WeakKeyDictionary[GlyphSet, dict[str, DeviceGlyphs]] = weakref.WeakKeyDictionary()


def device_glyphs(glyphs: GlyphSet, device: torch.device | str) -> DeviceGlyphs:
    """``glyphs`` on ``device``, uploaded once per (glyph set, device) and cached while the glyph set lives."""
    device = torch.device(device)
    per_device = _DEVICE_GLYPHS.setdefault(glyphs, {})
    key = str(device)
    if key not in per_device:

        def upload(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.array(array, copy=True)).to(device=device, dtype=dtype)

        per_device[key] = DeviceGlyphs(
            images=upload(glyphs.images, torch.uint8),
            labels=upload(glyphs.labels, torch.int64),
            ink_box=upload(glyphs.ink_box, torch.int64),
            ink_sum=upload(glyphs.ink_sum, torch.int64),
        )
    return per_device[key]


class TorchTranslationRenderer:
    """Draws translation-only tracks (``Tracks.topleft``) with torch on ``device``: frames, instance and semantic
    maps, modal and amodal boxes, visibility (the numpy translation renderer's bytes).

    Args:
        spec: the dataset's spec. glyphs: its glyph set (uploaded to the device once). device: a torch device.
        reduction: how canvases are reduced, ``"fold"`` (bit-sliced halving, fast on CPU), ``"direct"`` (torch
            reductions, fewer kernel launches on accelerators) or ``"auto"`` (fold on CPU); the same integers.
    """

    general = False

    def __init__(self, spec: Spec, glyphs: GlyphSet, device: Any, reduction: str = "auto") -> None:
        self.spec = spec
        self.glyphs = glyphs
        self.device = torch.device(device)
        self.dglyphs = device_glyphs(glyphs, self.device)
        self.workspace = Workspace(self.device)
        self._consts: dict[str, torch.Tensor] = {}
        self.reduction = reduction if reduction != "auto" else ("fold" if self.device.type == "cpu" else "direct")

    def _const(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """Small constant tensors on the device, built once."""
        buf = self._consts.get(name)
        if buf is None:
            buf = values.to(self.device)
            self._consts[name] = buf
        return buf

    def draw(self, tracks: Tracks, background: BackgroundPlan | None, out: Mapping[str, Any]) -> None:
        """Render ``tracks`` into the output tensors ``out`` (``frames (B, T, 1, H, W)`` and the annotations the
        spec asks for), in cache-sized sub-steps on CPU."""
        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        scene = tracks.scene
        b = int(scene.index.shape[0])
        if b == 0:
            return
        topleft = tracks.topleft[:, :t]
        safe_gi = scene.safe_glyph_index  # (B, K)
        if ann.amodal_boxes:
            nan = torch.tensor(float("nan"), dtype=torch.float32, device=self.device)
            ink_box = self.dglyphs.ink_box[safe_gi]  # (B, K, 4); all zeros for a glyph without ink
            amodal = (topleft.repeat(1, 1, 1, 2) + ink_box[:, None]).to(torch.float32)
            none = ~scene.present | (ink_box[..., 2] <= ink_box[..., 0])
            out["amodal_boxes"].copy_(torch.where(none[:, None, :, None], nan, amodal))
        ink_sum = None
        if ann.visibility:
            ink_sum = torch.where(scene.present, self.dglyphs.ink_sum[safe_gi], 0)  # (B, K) int64
        step = self.composite_step(b)
        for lo in range(0, b, step):
            hi = min(b, lo + step)
            self._composite(
                glyph_index=safe_gi[lo:hi],
                present=scene.present[lo:hi],
                labels=scene.labels[lo:hi],
                topleft=topleft[lo:hi],
                ink_sum=None if ink_sum is None else ink_sum[lo:hi],
                out={name: tensor[lo:hi] for name, tensor in out.items()},
            )

    def _composite(
        self,
        glyph_index: torch.Tensor,
        present: torch.Tensor,
        labels: torch.Tensor,
        topleft: torch.Tensor,
        ink_sum: torch.Tensor | None,
        out: dict[str, torch.Tensor],
    ) -> None:
        """Frames, ownership maps, modal boxes and visibility of ``B`` sequences, by the rules of the numpy
        backend's ``composite`` and ``measure_objects``.

        Only operations that run at memory speed on CPU as well as GPU are used on whole canvases: row gathers,
        elementwise uint8 arithmetic and bit operations, comparisons between full tensors or against a
        ``(W,)`` row (torch's CPU comparison with a broadcast scalar is ~8x slower), and bit-sliced reductions
        (:func:`_fold`, :func:`_byte_sums`) instead of integer ``sum``/``any`` over canvases.
        """
        spec = self.spec
        ann = spec.annotations
        b, t, k_slots = topleft.shape[:3]
        big_h, big_w = spec.canvas.height, spec.canvas.width
        h, w = self.glyphs.glyph_hw
        dev = self.device
        u8 = torch.uint8

        # Glyph slabs: (h + 2) rows of L bytes per (b, k); the glyph sits at rows 1..h, columns W..W+w-1;
        # rows 0 and h + 1 and the margins are zero and stay zero (only the glyph region is rewritten).
        row_len = 2 * big_w + w
        slab = (h + 2) * row_len
        padded = self.workspace.get("padded", (b, k_slots, h + 2, row_len), u8, zero=True)
        pixels = self.dglyphs.images[glyph_index]  # (B, K, h, w)
        pixels.mul_(present[:, :, None, None].to(u8))  # absent slots draw nothing
        padded[:, :, 1 : h + 1, big_w : big_w + w] = pixels
        flat = padded.view(-1)
        rows_view = flat.as_strided((flat.numel() - big_w + 1, big_w), (1, 1))
        index_dtype = torch.int32 if flat.numel() < 2**31 else torch.int64
        canvas_rows = torch.arange(big_h, device=dev, dtype=index_dtype).view(1, 1, big_h)
        slab_start = torch.arange(b * k_slots, device=dev, dtype=index_dtype).view(b, k_slots) * slab

        starts = self.workspace.get("starts", (b, t, big_h), index_dtype)

        def pull(k: int, into: torch.Tensor) -> torch.Tensor:
            """Object k's layer of every frame, ``(B, T, H, W)`` uint8, written into ``into`` (one row gather)."""
            x = topleft[:, :, k, 0].clamp(-w, big_w).to(index_dtype)
            y = topleft[:, :, k, 1].to(index_dtype)
            # Canvas row Y shows slab row clamp(Y - y, -1, h) + 1: a glyph row or one of the two zero rows.
            start = torch.sub(canvas_rows, y[:, :, None], out=starts)
            start.clamp_(-1, h).add_(1).mul_(row_len)
            start += (slab_start[:, k].view(b, 1) + (big_w - x))[:, :, None]
            torch.index_select(rows_view, 0, start.view(-1), out=into.view(b * t * big_h, big_w))
            return into

        def row_of(value: int, dtype: torch.dtype = u8) -> torch.Tensor:
            return self._const(f"row:{value}:{dtype}", torch.full((big_w,), value, dtype=dtype))

        need_owner = ann.needs_ownership
        threshold = row_of(ann.mask_threshold)
        mode = spec.compositing
        shape = (b, t, big_h, big_w)
        frames = out["frames"].view(shape)
        layer = self.workspace.get("layer", shape, u8)
        instance = semantic = owned = code = None
        if need_owner:
            instance = out["instance"] if ann.instance else self.workspace.get("instance", shape, u8)
            owned = self.workspace.get("owned", shape, torch.bool)
            code = self.workspace.get("code", shape, u8)  # scratch bytes
            scratch = self.workspace.get("scratch", shape, torch.bool)
        if ann.semantic:
            semantic = out["semantic"]
            label_bytes = labels.to(u8).view(b, k_slots, 1, 1, 1)
            ignore = ann.ignore_label

        for k in range(k_slots):
            if k == 0:
                g = pull(0, frames)  # the canvas is empty: the first layer is the composite
                if need_owner:
                    torch.gt(g, threshold, out=owned)
            else:
                g = pull(k, layer)
                if mode == "max":
                    if need_owner:
                        torch.ge(g, frames, out=owned)
                        owned &= torch.gt(g, threshold, out=scratch)
                    torch.maximum(frames, g, out=frames)
                elif mode == "sum":
                    if need_owner:
                        torch.gt(g, threshold, out=owned)
                    room = torch.sub(row_of(255), frames, out=code)
                    torch.minimum(room, g, out=room)
                    frames += room
                else:  # over: inked pixels replace what is below
                    if need_owner:
                        torch.gt(g, threshold, out=owned)
                    inked = torch.gt(g, row_of(0), out=scratch) if need_owner else torch.gt(g, row_of(0))
                    select = torch.neg(inked.view(u8), out=code) if need_owner else torch.neg(inked.view(u8))
                    flip = torch.bitwise_xor(frames, g)
                    flip &= select
                    frames ^= flip
            if not need_owner:
                continue
            owned_bytes = owned.view(u8)
            if k == 0:
                instance.copy_(owned_bytes)
            else:  # codes grow with k: "k + 1 where owned" is a maximum
                torch.maximum(instance, torch.mul(owned_bytes, k + 1, out=code), out=instance)
            if semantic is not None:
                select = torch.neg(owned_bytes, out=code)  # 0xFF where owned
                if k == 0:
                    torch.bitwise_and(select, label_bytes[:, 0] ^ ignore, out=semantic)
                    semantic ^= ignore
                else:
                    select &= torch.bitwise_xor(semantic, label_bytes[:, k], out=layer)  # layer is free now
                    semantic ^= select

        if not (ann.boxes or ann.visibility):
            return
        # Measurement from the final ownership map. Where object k owns a pixel, a max composite shows exactly its
        # layer (so does ``over`` with threshold 0); other modes pull the layer again.
        frames_show_owner = mode == "max" or (mode == "over" and ann.mask_threshold == 0)
        wide = _round_up(big_w, 8)  # rows padded to whole 64-bit words (the padding stays zero)
        mine_pad = self.workspace.get("mine", (b, t, big_h, wide), torch.bool, zero=True)
        mine = mine_pad[..., :big_w]
        masked_pad = self.workspace.get("masked", (b, t, big_h, wide), u8, zero=True) if ann.visibility else None
        index_type = u8 if big_w < 256 and big_h < 256 else torch.int32
        up_w = self._const(f"up:{big_w}", torch.arange(1, big_w + 1).to(index_type))  # 1..W
        down_w = self._const(f"down:{big_w}", torch.arange(big_w, 0, -1).to(index_type))  # W..1
        up_h = self._const(f"up:{big_h}", torch.arange(1, big_h + 1).to(index_type))
        down_h = self._const(f"down:{big_h}", torch.arange(big_h, 0, -1).to(index_type))
        nan = torch.tensor(float("nan"), dtype=torch.float32, device=dev)
        for k in range(k_slots):
            torch.eq(instance, row_of(k + 1), out=mine)
            if ann.visibility:
                src = frames if frames_show_owner else pull(k, layer)
                torch.bitwise_and(src, torch.neg(mine.view(u8), out=code), out=masked_pad[..., :big_w])
                words = masked_pad.view(torch.int64).view(b * t, -1)
                scratch_words = self.workspace.get("swar", (2, *words.shape), torch.int64)
                seen = _byte_sums(words, self.reduction, scratch_words).view(b, t)
                total = ink_sum[:, k][:, None].to(torch.float64)
                vis = torch.where(total > 0, seen.to(torch.float64) / torch.clamp_min(total, 1.0), 0.0)
                out["visibility"][:, :, k] = vis.to(torch.float32)
            if ann.boxes:
                if self.reduction == "fold":
                    words = mine_pad.view(torch.int64)  # (B, T, H, wide / 8): 8 pixels per word
                    fold_scratch = self.workspace.get("fold", words.shape, torch.int64)
                    rows = _fold(words, 3, fold_scratch) != 0  # (B, T, H): any pixel of the row
                    cols = _fold(words, 2, fold_scratch).view(torch.bool)[..., :big_w]  # (B, T, W)
                else:
                    rows, cols = mine.any(dim=3), mine.any(dim=2)
                rows_b, cols_b = rows.to(index_type), cols.view(u8).to(index_type)
                x1 = (cols_b * up_w).amax(dim=2).to(torch.float32)
                x0 = big_w - (cols_b * down_w).amax(dim=2).to(torch.float32)
                y1 = (rows_b * up_h).amax(dim=2).to(torch.float32)
                y0 = big_h - (rows_b * down_h).amax(dim=2).to(torch.float32)
                box = torch.stack([x0, y0, x1, y1], dim=-1)
                out["boxes"][:, :, k] = torch.where((y1 > 0)[..., None], box, nan)

    def composite_step(self, batch: int) -> int:
        """Sequences composited per sub-step: cache-sized on CPU (``CPU_CACHE_BYTES`` of canvases); on accelerators
        as many as keep one canvas buffer within ``DEVICE_CANVAS_BYTES`` (a dozen such buffers are live)."""
        spec = self.spec
        canvas = spec.frames * spec.canvas.height * spec.canvas.width
        if self.device.type != "cpu":
            return int(np.clip(DEVICE_CANVAS_BYTES // max(canvas, 1), 1, batch))
        return int(np.clip(CPU_CACHE_BYTES // max(8 * canvas, 1), 4, batch))


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _fold(words: torch.Tensor, dim: int, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Bitwise OR of int64 ``words`` over ``dim`` by halving (the dim is removed): one elementwise op per step,
    written in place into ``scratch`` (shaped as ``words``; allocated when None; torch on CPU is much slower when
    it allocates the output of an op over dtype-reinterpreted views)."""
    n = words.shape[dim]
    if n == 1:
        return words.squeeze(dim)
    if scratch is None:
        scratch = torch.empty_like(words)
    half = n // 2
    x = scratch.narrow(dim, 0, half)
    torch.bitwise_or(words.narrow(dim, 0, half), words.narrow(dim, half, half), out=x)
    if n % 2:
        x.narrow(dim, 0, 1).bitwise_or_(words.narrow(dim, 2 * half, 1))
    while x.shape[dim] > 1:
        n = x.shape[dim]
        half = n // 2
        x.narrow(dim, 0, half).bitwise_or_(x.narrow(dim, half, half))
        if n % 2:
            x.narrow(dim, 0, 1).bitwise_or_(x.narrow(dim, 2 * half, 1))
        x = x.narrow(dim, 0, half)
    return x.squeeze(dim)


_LOW_BYTES = 0x00FF00FF00FF00FF
_LOW_HALVES = 0x0000FFFF0000FFFF
_LOW_WORD = 0xFFFFFFFF
_MASKS: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _masks(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The SWAR lane masks as 0-dim int64 tensors on ``device`` (torch's CPU bitwise ops with a large Python int
    operand are ~15x slower than with a tensor)."""
    key = str(device)
    if key not in _MASKS:
        masks = (_LOW_BYTES, _LOW_HALVES, _LOW_WORD)
        _MASKS[key] = tuple(torch.tensor(m, dtype=torch.int64, device=device) for m in masks)
    return _MASKS[key]


def _byte_sums(words: torch.Tensor, how: str, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of all bytes of each row of ``words (N, n)`` int64 (the bytes of uint8 canvases), exact, ``(N,)`` int64.

    ``fold``: SWAR in 64-bit words, every step an elementwise op written in place into ``scratch`` (``(2, N, n)``
    int64; allocated when None): bytes are added pairwise into four 16-bit lanes and folded while a lane holds at
    most 128 pairs (510 * 128 < 2**16), then into two 32-bit lanes for the rest. ``direct``: a uint8 sum (one
    reduction kernel, for accelerators).
    """
    if how == "direct":
        return words.view(torch.uint8).sum(dim=1, dtype=torch.int64)
    low_bytes, low_halves, low_word = _masks(words.device)
    if scratch is None:
        scratch = torch.empty((2, *words.shape), dtype=torch.int64, device=words.device)
    x, tmp = scratch[0], scratch[1]
    torch.bitwise_and(words, low_bytes, out=x)
    torch.bitwise_right_shift(words, 8, out=tmp)
    x += tmp.bitwise_and_(low_bytes)  # 4 lanes, each <= 510
    pairs = 1
    wide = False

    def widen(x: torch.Tensor, tmp: torch.Tensor) -> None:
        torch.bitwise_right_shift(x, 16, out=tmp)
        x.bitwise_and_(low_halves)
        x += tmp.bitwise_and_(low_halves)  # 2 lanes of 32 bits

    while x.shape[1] > 1:
        n = x.shape[1]
        half = n // 2
        step = 3 if n % 2 else 2  # worst case: the first word also takes the odd one
        if not wide and pairs * step > 128:
            widen(x, tmp[:, :n])
            wide = True
        x[:, :half] += x[:, half : 2 * half]
        if n % 2:
            x[:, :1] += x[:, 2 * half :]
        x = x[:, :half]
        pairs *= step
    if not wide:
        widen(x, tmp[:, :1])
    torch.bitwise_right_shift(x, 32, out=tmp[:, :1])
    x.bitwise_and_(low_word)
    x += tmp[:, :1].bitwise_and_(low_word)
    return x[:, 0]
