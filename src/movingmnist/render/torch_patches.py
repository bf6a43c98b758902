"""The pure tensor pieces of the torch general renderer: the glyph bank on the device, patch sampling with the
reference's integer arithmetic, compositing a group of patches into flat layers, boxes of masks.

:func:`sample_patches` and the background's shape and noise functions have no data-dependent control flow, so
``compile=True`` runs them through ``torch.compile`` (:func:`compiled_kernels`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import require
from ..latents import background as bgl
from ..latents import shapes as bgs
from ..latents.background import Distractors
from ..latents.scene import GlyphSet
from .poses import FRAC_BITS

torch = require("torch", "torch", "the torch backend")

F64 = torch.float64
U8 = torch.uint8
I64 = torch.int64
PAD = 2  # zero pixels around every glyph of the device bank


# -- glyphs on the device ------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class BankGlyphs:
    """A glyph set on one device for the general renderer: ``padded (M * (h + 4) * (w + 4),)`` uint8 (flat, two
    zero pixels on each side), labels ``(M,)`` int64, ink_box and nz_box ``(M, 4)`` int64."""

    padded: torch.Tensor
    labels: torch.Tensor
    ink_box: torch.Tensor
    nz_box: torch.Tensor
    hw: tuple[int, int]
    _quads: list = field(default_factory=list)

    @property
    def quads(self) -> torch.Tensor:
        """``(M * (h + 4) * (w + 4),)`` int32: the 2x2 texels g00, g01, g10, g11 of each padded pixel as the four
        bytes of one word (little-endian), so a bilinear sample is one gather. Built on first use."""
        if not self._quads:
            h, w = self.hw
            g = self.padded.view(-1, h + 2 * PAD, w + 2 * PAD)
            g = torch.nn.functional.pad(g, (0, 1, 0, 1))
            taps = [g[:, :-1, :-1], g[:, :-1, 1:], g[:, 1:, :-1], g[:, 1:, 1:]]
            self._quads.append(torch.stack(taps, dim=-1).contiguous().view(torch.int32).view(-1))
        return self._quads[0]

    @property
    def row(self) -> int:
        return self.hw[1] + 2 * PAD

    @property
    def stride(self) -> int:
        return (self.hw[0] + 2 * PAD) * self.row


_BANKS: weakref.WeakKeyDictionary[GlyphSet, dict[str, BankGlyphs]] = weakref.WeakKeyDictionary()


def bank_glyphs(glyphs: GlyphSet, device: torch.device | str) -> BankGlyphs:
    """``glyphs`` on ``device`` for the general renderer, uploaded once per (glyph set, device)."""
    device = torch.device(device)
    per_device = _BANKS.setdefault(glyphs, {})
    key = str(device)
    if key not in per_device:
        padded = np.pad(glyphs.images, ((0, 0), (PAD, PAD), (PAD, PAD)))

        def up(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.array(array, copy=True)).to(device=device, dtype=dtype)

        per_device[key] = BankGlyphs(
            padded=up(padded.reshape(-1), U8),
            labels=up(glyphs.labels, I64),
            ink_box=up(glyphs.ink_box, I64),
            nz_box=up(glyphs.nz_box, I64),
            hw=glyphs.glyph_hw,
        )
    return per_device[key]


def side_class(n: torch.Tensor, sides: torch.Tensor) -> torch.Tensor:
    """Index of the smallest side >= n."""
    return torch.searchsorted(sides, n.contiguous())


# -- the renderer --------------------------------------------------------------------------------------------------
def sample_patches(xs, ys, x1, y1, m, gain, goff, gain_c, *, bt, texels, nearest: bool, glyph_hw, row: int,
                   canvas_hw: tuple[int, int], trash: int):
    """The pixels of ``N`` patches: columns ``xs (N, pw)``, rows ``ys (N, ph)`` (canvas indices), the items'
    region ends ``x1, y1 (N, 1)``, fixed-point inverse poses ``m (N, 6)`` int64, grey gains ``(N,)`` int64, glyph
    offsets ``goff (N,)`` into the padded bank, channel gains ``(N, C)`` int64 or None, frame indices ``bt (N,)``
    within the chunk.

    Returns ``q (N, ph, pw)`` uint8, the colour channels (a list or None), flat canvas indices ``idx`` (``trash``
    off the canvas) and the on-canvas mask. Pure tensor code with the reference's integer arithmetic (exact on any
    device; a candidate for ``torch.compile``: no data-dependent control flow).
    """
    h, w = glyph_hw
    big_h, big_w = canvas_hw
    n = xs.shape[0]
    m = m.unsqueeze(-1)  # (N, 6, 1) int64
    xl = xs.to(I64)
    yl = ys.to(I64)
    u = (m[:, 0] * xl).unsqueeze(1) + (m[:, 1] * yl + m[:, 2]).unsqueeze(2)  # (N, ph, pw), units of 2**-16
    v = (m[:, 3] * xl).unsqueeze(1) + (m[:, 4] * yl + m[:, 5]).unsqueeze(2)
    base0 = (goff + PAD * row + PAD).view(n, 1, 1)
    tex_type = torch.int32 if texels.numel() < 2**31 else I64
    base0 = base0.to(tex_type)
    # Indices clamped into the zero padding: outside the glyph's nonzero box every texel is zero (and every texel a
    # sample there weighs), so the reference's "inside" test is implied, and inside it nothing is clamped.
    if nearest:
        half = 1 << (FRAC_BITS - 1)
        iu = ((u + half) >> FRAC_BITS).clamp(-1, w).to(tex_type)
        iv = ((v + half) >> FRAC_BITS).clamp(-1, h).to(tex_type)
        s = texels[iv * row + iu + base0].to(I64) << FRAC_BITS
    else:
        iu = (u >> FRAC_BITS).clamp(-PAD, w).to(tex_type)
        iv = (v >> FRAC_BITS).clamp(-PAD, h).to(tex_type)
        fx = ((u >> (FRAC_BITS - 8)) & 255).to(torch.int32)
        fy = ((v >> (FRAC_BITS - 8)) & 255).to(torch.int32)
        quad = texels[iv * row + iu + base0].view(U8).view(*fx.shape, 4).to(torch.int32)  # g00, g01, g10, g11
        gx = 256 - fx
        # At most 2**16 * 255 < 2**31: int32 is exact.
        s = ((256 - fy) * (gx * quad[..., 0] + fx * quad[..., 1]) + fy * (gx * quad[..., 2] + fx * quad[..., 3]))
        s = s.to(I64)
    # Pixels beyond this item's own region are not drawn (as the reference's fixed-size patches); masking the
    # quantised bytes is the same as masking s (0 quantises to 0) and cheaper.
    keep = (xs < x1).unsqueeze(1) & (ys < y1).unsqueeze(2)
    zero = torch.zeros((), dtype=U8, device=s.device)
    q = torch.where(keep, quantise(s, gain.view(n, 1, 1)), zero)
    cols = None
    if gain_c is not None:
        cols = [torch.where(keep, quantise(s, gain_c[:, ch].view(n, 1, 1)), zero) for ch in range(gain_c.shape[1])]
    col_on = (xs >= 0) & (xs < big_w)
    row_on = (ys >= 0) & (ys < big_h)
    far = 4 * (trash + 1)
    idx_type = torch.int32 if far < 2**31 else I64  # canvas indices (int32 halves their traffic)
    col_part = torch.where(col_on, xs, far).to(idx_type)
    row_part = torch.where(row_on, bt.view(n, 1) * (big_h * big_w) + ys * big_w, far).to(idx_type)
    idx = (row_part.unsqueeze(2) + col_part.unsqueeze(1)).clamp_max(trash)
    on = row_on.unsqueeze(2) & col_on.unsqueeze(1)
    return q, cols, idx, on


EAGER = {"sample": sample_patches, "shape": bgs.shape_pixels, "mix": bgl.mix_words}
_COMPILED: dict = {}


def compiled_kernels() -> dict:
    """:data:`EAGER`'s pure functions through ``torch.compile`` (dynamic shapes; built once per process). Fused
    multiply-adds are disabled (``emulate_precision_casts`` turns off Triton's fp fusion; the C++ backend does not
    contract), so every value is the reference's arithmetic."""
    if not _COMPILED:
        options = {"emulate_precision_casts": True}
        for name, fn in EAGER.items():
            _COMPILED[name] = torch.compile(fn, dynamic=True, options=options)
    return _COMPILED


@dataclass(frozen=True)
class DrawList:
    """What the chunks of a step draw, ``(B, T, K, ...)`` unless noted: ``index (B,)``, pixel ``region`` and its
    ``sizes``, fixed-point inverse poses ``fix`` and float ``inv``, forward ``matrix (B, T1, K, 2, 3)``, ``gain``,
    ``gain_c`` (channel gains), glyph indices ``gi (B, K)`` and semantic ``labels (B, K)`` uint8."""

    index: Any
    region: Any
    sizes: Any
    fix: Any
    inv: Any
    matrix: Any
    gain: Any
    gain_c: Any
    gi: Any
    labels: Any


@dataclass(frozen=True)
class Layers:
    """The flat scratch layers of a chunk (each with a trash element at ``trash``): grey object layer, colour
    planes (or None), ownership, semantic and distractor maps (or None)."""

    obj: Any
    objc: Any
    inst: Any
    sem: Any
    dmap: Any
    trash: int


@dataclass(frozen=True)
class Window:
    """Sequences ``b0 .. b1 - 1`` and frames ``t0 .. t1 - 1`` of a step: one chunk of canvases."""

    b0: int
    b1: int
    t0: int
    t1: int

    @property
    def size(self) -> tuple[int, int]:
        return self.b1 - self.b0, self.t1 - self.t0


def distractor_pixels(dist: Distractors, n: int, win: Window, canvas_hw: tuple[int, int], trash: int):
    """Coverage ``(b, tc, S, S)`` of distractor slot n in the window's frames and its flat canvas indices (trash
    where not covered)."""
    s = dist.mask.shape[-1]
    dev = dist.mask.device
    b0, b1, t0, t1 = win.b0, win.b1, win.t0, win.t1
    big_h, big_w = canvas_hw
    b, tc = win.size
    r = torch.arange(s, device=dev)
    pos = dist.position[b0:b1, t0:t1, n]  # (b, tc, 2)
    xx = pos[..., 0:1] + r  # (b, tc, S)
    yy = pos[..., 1:2] + r
    inside = dist.mask[b0:b1, n][:, None] & ((xx >= 0) & (xx < big_w)).unsqueeze(2) & (
        (yy >= 0) & (yy < big_h)
    ).unsqueeze(3)
    bt = (torch.arange(b, device=dev).view(b, 1) * tc + torch.arange(tc, device=dev)).view(b, tc, 1, 1)
    idx = torch.where(inside, bt * (big_h * big_w) + yy.unsqueeze(3) * big_w + xx.unsqueeze(2), trash)
    return inside, idx


def quantise(s: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """``min(255, (S G + 2**31) >> 32)`` as uint8: a sample (int64, units of 2**-16, >= 0) times a gain (int64,
    units of 2**-16, >= 0), rounded to a grey level (the operands are non-negative, so the shift is a floor)."""
    return ((s * gain + (1 << 31)) >> 32).clamp_max_(255).to(U8)


def composite(obj, objc, idx, q, cols, mode, threshold):
    """Composite one group of patches into the flat layer (gather, update, scatter); returns where it takes
    ownership. ``q`` and ``cols`` uint8."""
    cur = obj[idx]
    if mode == "max":
        owned = (q >= cur) & (q > threshold)
        obj[idx] = torch.maximum(cur, q)
    elif mode == "sum":
        owned = q > threshold
        obj[idx] = cur + torch.minimum(255 - cur, q)
    else:
        owned = q > threshold
        obj[idx] = torch.where(q > 0, q, cur)
    if objc is not None:
        inked = q > 0
        for ch, qc in enumerate(cols):
            plane = objc[ch]
            cur_c = plane[idx]
            if mode == "max":
                plane[idx] = torch.maximum(cur_c, qc)
            elif mode == "sum":
                plane[idx] = cur_c + torch.minimum(255 - cur_c, qc)
            else:
                plane[idx] = torch.where(inked, qc, cur_c)
    return owned


def empty_boxes(shape, device) -> torch.Tensor:
    out = torch.zeros((*shape, 4), dtype=I64, device=device)
    out[..., 2:] = -1
    return out


def box_of(mask: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Pixel-edge box (x0, y0, x1, y1) of the True pixels of ``mask (N, ph, pw)`` at columns ``xs (N, pw)`` and rows
    ``ys (N, ph)``: ``(N, 4)`` int64, (0, 0, -1, -1) where there are none."""
    cols = mask.any(dim=1)
    rows = mask.any(dim=2)
    big = torch.iinfo(I64).max
    x0 = torch.where(cols, xs, big).amin(dim=1)
    x1 = torch.where(cols, xs + 1, -big).amax(dim=1)
    y0 = torch.where(rows, ys, big).amin(dim=1)
    y1 = torch.where(rows, ys + 1, -big).amax(dim=1)
    box = torch.stack([x0, y0, x1, y1], dim=-1)
    empty = torch.zeros((), dtype=I64, device=mask.device)
    empty = torch.stack([empty, empty, empty - 1, empty - 1])  # (0, 0, -1, -1), built on the device
    return torch.where(cols.any(dim=1, keepdim=True), box, empty)
