"""The general renderer in torch ops on any device: affine glyphs (bilinear or nearest), brightness, colour,
backgrounds (constant, noise, images, static shapes, pan, moving distractors), compositing with ownership, exact
boxes, visibility, amodal masks and flow, by the rules of :mod:`movingmnist.render.general` (the numpy reference).

Latents (appearance schedules, poses, background plans) are ported operation for operation and equal numpy's bit
for bit. Pixels follow the reference's integer arithmetic: inverse poses in 16.16 fixed point (:func:`fixed_poses`,
unusable poses draw nothing), ``U = A x + B y + C`` in int64, 8-bit bilinear weights ``fx = (U >> 8) & 255``,
fixed-point support tests, and ``q = min(255, (S G + 2**31) >> 32)`` with integer gains (:func:`fixed_gains`), so
frames and masks match the reference byte for byte on every device (the only float steps, the fixed-point
conversions and the regions, are the reference's IEEE operations in its order).

How the pixels are computed, batched over sequences (no Python loop over sequences or frames):

- Every (sequence, frame, object) with a non-empty region (the canvas pixels that can sample the glyph's support)
  is an *item*. Items are sorted by object slot and by a size class of their region (sides from a geometric ladder)
  and processed as groups of equal-sized patches: one sync per sub-batch reads the group sizes. So a glyph scaled to
  ten times its size costs a large patch for its own items only.
- A patch inverse-maps its pixels to fixed-point glyph coordinates and gathers the 2x2 (or 1) texels from the
  glyph bank held on the device with two pixels of zero padding; indices are clamped into that padding, which gives
  exactly the reference's zero outside the glyph's nonzero box without an ``inside`` test.
- Compositing gathers the object layer, ownership and label maps at the patch's canvas indices, updates them and
  scatters them back (the indices of one patch are distinct; pixels off the canvas go to one trash element), in
  slot order, then occluding distractors, then the layer is combined with the background.
- Modal boxes and visibility are measured from the final ownership map at each patch's indices; totals and amodal
  boxes from the whole patch (also off the canvas).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from .. import appearance_torch as app_t
from .. import motion_torch, rng_torch
from ..errors import require
from ..scene import GlyphSet
from ..spec import Spec
from .backgrounds import SHAPE_CODES, load_image_bank, noise_lut

torch = require("torch", "torch", "the torch backend")

F64 = torch.float64
U8 = torch.uint8
I64 = torch.int64
PAD = 2  # zero pixels around every glyph of the device bank
# Patch sides of the size classes (a region of side n gets the smallest side >= n; larger ones: multiples of 64).
_SIDES = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256)
# Canvas bytes per sub-batch and patch pixels per group slice (bounds scratch memory; fewer, larger torch
# operations are faster on CPU too, measured).
CPU_CANVAS_BYTES = 32 * 2**20
CPU_PATCH_PIXELS = 2**19
DEVICE_CANVAS_BYTES = 2**31
DEVICE_PATCH_PIXELS = 2**25
# Pixels per flow pass (its float64 temporaries are the largest per pixel).
CPU_FLOW_PIXELS = 2**20
DEVICE_FLOW_PIXELS = 2**25


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


_IMAGES: dict[tuple, torch.Tensor] = {}


def _image_bank(folder: str, channels: int, side: int, device: torch.device) -> torch.Tensor:
    key = (folder, channels, side, str(device))
    if key not in _IMAGES:
        _IMAGES[key] = torch.from_numpy(np.array(load_image_bank(folder, channels, side))).to(device)
    return _IMAGES[key]


# -- background latents (port of movingmnist.render.backgrounds) ---------------------------------------------------
@dataclass(frozen=True)
class TorchDistractors:
    """:class:`movingmnist.render.backgrounds.Distractors` as tensors (value ``(B, N, C)`` uint8, grey ``(B, N)``
    uint8, position ``(B, T1, N, 2)`` int64, mask ``(B, N, S, S)`` bool)."""

    present: torch.Tensor
    value: torch.Tensor
    grey: torch.Tensor
    position: torch.Tensor
    occlude: bool
    mask: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.present.shape[1])


@dataclass(frozen=True)
class TorchBackgroundPlan:
    """:class:`movingmnist.render.backgrounds.BackgroundPlan` as tensors (``lut`` a ``(256,)`` uint8 tensor)."""

    static_val: torch.Tensor | None
    static_cov: torch.Tensor | None
    pan: torch.Tensor
    dynamic_noise: bool
    lut: torch.Tensor
    distractors: TorchDistractors | None


def mix_words(base: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """splitmix64 words ``mix(base ^ counter)`` for sequence keys ``base (B,)`` and counter words ``(T, R, W)``:
    ``(B, T, R, W)`` int64 (pure tensor code: a candidate for ``torch.compile``)."""
    return rng_torch._mix(base.view(-1, 1, 1, 1) ^ counters)


def noise_bytes(
    seed: int, stream: str, index: torch.Tensor, frames: int, rows: int, width: int, t0: int = 0, t1: int | None = None,
    mix=mix_words,
) -> torch.Tensor:
    """Frames ``t0 .. t1 - 1`` of :func:`movingmnist.render.backgrounds.noise_bytes`: ``(B, t1 - t0, rows, width)``
    uint8, the little-endian bytes of the same splitmix64 words."""
    t1 = frames if t1 is None else t1
    words = (width + 7) // 8
    base = index.to(I64) * rng_torch.GOLDEN
    base += rng_torch.stream_key(seed, stream)
    base = rng_torch._mix(base)
    counters = rng_torch._counter_words((frames, rows, words), index.device)[t0:t1]
    bits = mix(base, counters)
    raw = bits.view(U8).view(int(index.shape[0]), t1 - t0, rows, words * 8)
    return raw[..., :width]


def _levels(seed, stream, index, shape, bounds, c, per_channel) -> torch.Tensor:
    low, high = bounds
    if per_channel:
        return rng_torch.integers(seed, stream, index, (*shape, c), low, high).to(U8)
    grey = rng_torch.integers(seed, stream, index, shape, low, high).to(U8)
    return grey[..., None].expand(*grey.shape, c).contiguous()


def _pan(spec: Spec, seed: int, index: torch.Tensor, num_frames: int) -> torch.Tensor:
    bg = spec.background
    b = int(index.shape[0])
    extent = bg.extent
    start_max = max(extent // 2 - 1, 0)
    offset = rng_torch.integers(seed, "background.pan.start", index, (2,), 0, start_max)
    low, high = bg.pan
    if high == 0:
        return offset[:, None].expand(b, num_frames, 2).contiguous()
    out = torch.empty((b, num_frames, 2), dtype=I64, device=index.device)
    steps = rng_torch.integers(seed, "background.pan.step", index, (num_frames, 2), low, high)
    for t in range(num_frames):
        move = offset + high < extent
        offset = torch.where(move, offset + steps[:, t], offset)
        out[:, t] = offset
    return out


def _shape_geometry(seed, stream, index, n, kinds, size_range):
    dev = index.device
    codes = torch.tensor([SHAPE_CODES[k] for k in kinds], dtype=I64, device=dev)
    circle = torch.tensor([k == "circle" for k in kinds], dtype=torch.bool, device=dev)
    which = rng_torch.integers(seed, stream + ".kind", index, (n,), 0, len(kinds) - 1)
    kind = codes[which]
    size = rng_torch.integers(seed, stream + ".size", index, (n, 2), *size_range)
    size[..., 1] = torch.where(circle[which], size[..., 0], size[..., 1])
    apex = rng_torch.uniform(seed, stream + ".apex", index, (n,))
    return kind, size, apex


def shape_covers(kind, sw, sh, apex, rx, ry) -> torch.Tensor:
    """Port of :func:`movingmnist.render.backgrounds.shape_covers` (integer tensors ``sw``, ``sh``, ``rx``, ``ry``;
    float64 ``apex``; broadcast: terms of one axis are computed on that axis only, the same IEEE operations on the same
    operands as numpy's)."""
    swf, shf, rxf, ryf = (x.to(F64) for x in (sw, sh, rx, ry))
    inbox = ((rx >= 0) & (rx < sw)) & ((ry >= 0) & (ry < sh))
    dx = (2.0 * rxf + 1.0 - swf) / swf
    dy = (2.0 * ryf + 1.0 - shf) / shf
    ellipse = dx * dx + dy * dy <= 1.0
    px = rxf + 0.5
    py = ryf + 0.5
    ax = apex * swf
    e1 = (0.0 - ax) * (py - 0.0) - (shf - 0.0) * (px - ax)
    e2 = (ax - swf) * (py - shf) - (0.0 - shf) * (px - swf)
    triangle = (e1 <= 0.0) & (e2 <= 0.0)
    inside = torch.where(kind == 0, True, torch.where(kind == 1, ellipse, triangle))
    return inbox & inside


def shape_pixels(kind, sw, sh, apex, present, x0, y0, r, big_h: int, big_w: int, plane, trash: int):
    """Coverage ``(B, S, S)`` of one shape slot of every sequence on its background canvas (box at ``x0, y0``,
    clipped to the canvas) and the flat canvas index of each covered pixel (``trash`` elsewhere); ``r = arange(S)``,
    ``plane (B, 1, 1)`` the offset of each sequence's canvas. Pure tensor code (a candidate for
    ``torch.compile``)."""
    s = r.shape[0]
    inside = shape_covers(kind, sw, sh, apex, r.view(1, 1, s), r.view(1, s, 1)) & present
    ys = y0 + r.view(1, s, 1)
    xs = x0 + r.view(1, 1, s)
    inside = inside & ((ys < big_h) & (xs < big_w))
    return inside, torch.where(inside, plane + ys * big_w + xs, trash)


def _paint_shapes(spec: Spec, seed: int, index: torch.Tensor, val: torch.Tensor, cov: torch.Tensor,
                  shape_pixels=shape_pixels) -> None:
    """Static shapes of the background canvas, painted in slot order (port of ``_sample_shapes`` and
    ``paint_shapes_numpy``): each shape's box is scattered, pixels outside it go to a trash element."""
    sh = spec.background.shapes
    b, c, big_h, big_w = val.shape
    n = sh.count[1]
    dev = index.device
    count = rng_torch.integers(seed, "background.shapes.count", index, (), *sh.count)
    present = torch.arange(n, device=dev)[None, :] < count[:, None]
    kind, size, apex = _shape_geometry(seed, "background.shapes", index, n, sh.kinds, sh.size)
    u = rng_torch.uniform(seed, "background.shapes.position", index, (n, 2))
    room = torch.tensor([big_w, big_h], dtype=I64, device=dev) - size + 1
    topleft = torch.floor(u * room.to(F64)).to(I64)
    value = _levels(seed, "background.shapes.intensity", index, (n,), sh.intensity, c, spec.background.colour)
    s = int(sh.size[1])
    r = torch.arange(s, device=dev)
    hw = big_h * big_w
    trash = b * hw
    cov_flat = torch.zeros(trash + 1, dtype=U8, device=dev)
    cov_flat[:trash] = cov.reshape(-1)
    val_flat = torch.zeros(c * trash + 1, dtype=U8, device=dev)
    val_flat[: c * trash] = val.permute(1, 0, 2, 3).reshape(-1)  # channel-major: (C, B, Hb, Wb)
    plane = torch.arange(b, device=dev).view(b, 1, 1) * hw
    for j in range(n):
        inside, idx = shape_pixels(
            kind[:, j].view(b, 1, 1), size[:, j, 0].view(b, 1, 1), size[:, j, 1].view(b, 1, 1),
            apex[:, j].view(b, 1, 1), present[:, j].view(b, 1, 1), topleft[:, j, 0].view(b, 1, 1),
            topleft[:, j, 1].view(b, 1, 1), r, big_h, big_w, plane, trash,
        )
        cov_flat[idx] = 1
        for ch in range(c):
            target = torch.where(inside, idx + ch * trash, c * trash)
            val_flat[target] = value[:, j, ch].view(b, 1, 1).expand(b, s, s)
    cov.copy_(cov_flat[:trash].view(b, big_h, big_w))
    val.copy_(val_flat[: c * trash].view(c, b, big_h, big_w).permute(1, 0, 2, 3))


def _image_crops(spec: Spec, seed: int, index: torch.Tensor, big_h: int, big_w: int) -> torch.Tensor:
    side = 2 * max(big_h, big_w)
    bank = _image_bank(str(spec.background.image_folder), spec.canvas.channels, side, index.device)
    n, c = bank.shape[:2]
    choice = rng_torch.integers(seed, "background.image", index, (), 0, n - 1)
    oy = rng_torch.integers(seed, "background.image.crop", index, (), 0, side - big_h)
    ox = rng_torch.integers(seed, "background.image.crop_x", index, (), 0, side - big_w)
    dev = index.device
    ch = torch.arange(c, device=dev).view(1, c, 1, 1)
    ry = torch.arange(big_h, device=dev).view(1, 1, big_h, 1)
    rx = torch.arange(big_w, device=dev).view(1, 1, 1, big_w)
    return bank[choice.view(-1, 1, 1, 1), ch, oy.view(-1, 1, 1, 1) + ry, ox.view(-1, 1, 1, 1) + rx].contiguous()


def _distractors(spec: Spec, seed: int, index: torch.Tensor, num_frames: int) -> TorchDistractors:
    ds = spec.background.distractors
    c = spec.canvas.channels
    n = ds.count[1]
    dev = index.device
    big = torch.tensor([spec.canvas.width, spec.canvas.height], dtype=F64, device=dev)
    count = rng_torch.integers(seed, "background.distractors.count", index, (), *ds.count)
    present = torch.arange(n, device=dev)[None, :] < count[:, None]
    kind, size, apex = _shape_geometry(seed, "background.distractors", index, n, ds.kinds, ds.size)
    value = _levels(seed, "background.distractors.intensity", index, (n,), ds.intensity, c, spec.background.colour)
    grey = value.amax(dim=-1)
    span = big - size.to(F64)
    start = rng_torch.uniform(seed, "background.distractors.start", index, (n, 2)) * span
    speed = rng_torch.uniform(seed, "background.distractors.speed", index, (n,), *ds.speed)
    sin, cos = rng_torch.sincos_turns(rng_torch.uniform(seed, "background.distractors.direction", index, (n,)))
    velocity = torch.stack([cos * speed, sin * speed], dim=-1)
    t = torch.arange(num_frames, dtype=F64, device=dev).reshape(1, -1, 1, 1)
    pos = start[:, None] + velocity[:, None] * t
    p = torch.where(span[:, None] > 0, pos / span[:, None], torch.zeros((), dtype=F64, device=dev))
    p = rng_torch.fmod_floor(p, 2.0)
    p = torch.minimum(p, 2.0 - p)
    position = torch.round(p * span[:, None]).to(I64)
    side = int(ds.size[1])
    r = torch.arange(side, device=dev)
    mask = shape_covers(
        kind[..., None, None], size[..., 0, None, None], size[..., 1, None, None], apex[..., None, None],
        r.view(1, 1, 1, side), r.view(1, 1, side, 1),
    )
    mask &= present[..., None, None]
    return TorchDistractors(present=present, value=value, grey=grey, position=position, occlude=ds.occlude,
                            mask=mask.contiguous())


def plan_background(
    spec: Spec, seed: int, index: torch.Tensor, num_frames: int, kernels: dict | None = None
) -> TorchBackgroundPlan:
    """Port of :func:`movingmnist.render.backgrounds.plan_background` on the device (same values); ``kernels``:
    :data:`EAGER` (default) or :func:`compiled_kernels`."""
    kernels = kernels or EAGER
    bg = spec.background
    index = index.to(I64)
    dev = index.device
    b = int(index.shape[0])
    c = spec.canvas.channels
    big_h, big_w = spec.canvas.height + bg.extent, spec.canvas.width + bg.extent
    per_channel = bg.colour

    static_val = static_cov = None
    if bg.kind == "constant":
        level = _levels(seed, "background.level", index, (), bg.level, c, per_channel)  # (B, C)
        static_val = level[:, :, None, None].expand(b, c, big_h, big_w).contiguous()
    elif bg.kind == "noise" and not bg.noise.dynamic:
        lut = torch.from_numpy(np.array(noise_lut(bg.noise.mean, bg.noise.std))).to(dev)
        rows = c * big_h if per_channel else big_h
        raw = noise_bytes(seed, "background.noise.static", index, 1, rows, big_w, mix=kernels["mix"])[:, 0]
        static_val = _lut(lut, raw).reshape(b, -1, big_h, big_w)
        if static_val.shape[1] != c:
            static_val = static_val.expand(b, c, big_h, big_w)
        static_val = static_val.contiguous()
    elif bg.kind == "image":
        static_val = _image_crops(spec, seed, index, big_h, big_w)
    if static_val is not None:
        static_cov = torch.ones((b, big_h, big_w), dtype=U8, device=dev)
    if bg.shapes.count[1] > 0:
        if static_val is None:
            static_val = torch.zeros((b, c, big_h, big_w), dtype=U8, device=dev)
            static_cov = torch.zeros((b, big_h, big_w), dtype=U8, device=dev)
        _paint_shapes(spec, seed, index, static_val, static_cov, kernels["shape"])

    pan = _pan(spec, seed, index, num_frames)
    dynamic = bg.kind == "noise" and bg.noise.dynamic
    lut = noise_lut(bg.noise.mean, bg.noise.std) if dynamic else np.zeros(256, dtype=np.uint8)
    distractors = _distractors(spec, seed, index, num_frames) if bg.distractors.count[1] > 0 else None
    return TorchBackgroundPlan(
        static_val=static_val,
        static_cov=static_cov,
        pan=pan,
        dynamic_noise=dynamic,
        lut=torch.from_numpy(np.array(lut)).to(dev),
        distractors=distractors,
    )


def _lut(lut: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """``lut[raw]`` for uint8 ``raw`` (an index_select with int32 indices)."""
    return lut.index_select(0, raw.reshape(-1).to(torch.int32)).view(raw.shape)


# -- poses ---------------------------------------------------------------------------------------------------------
def poses(spec: Spec, seed: int, index, labels, glyph_index, bank: BankGlyphs, num_frames: int):
    """Port of :func:`movingmnist.render.pipeline.poses`: forward matrices ``(B, T1, K, 2, 3)`` and the appearance.

    ``glyph_index``: ``(B, K)`` int64, clamped to >= 0."""
    look = app_t.sample_appearance(spec, seed, index, labels, num_frames)
    linear = app_t.linear_part(look.angle, look.scale, look.shear)
    glyph_hw = bank.hw
    canvas_hw = (spec.canvas.height, spec.canvas.width)
    ink_box = bank.ink_box[glyph_index]
    if spec.motion.model == "affine":
        return app_t.affine_poses(spec, seed, index, linear, num_frames, glyph_hw, canvas_hw, ink_box), look
    h, w = glyph_hw
    big_h, big_w = canvas_hw
    b, k = glyph_index.shape
    dev = index.device
    if spec.motion.bounce_on == "ink":
        # numpy passes the first frame's walls when every linear part is the identity; the envelope of equal walls
        # is those walls, bit for bit, so the per-frame walls are passed always.
        ext = app_t.ink_extents(linear, ink_box[:, None], glyph_hw)
        lo = -ext[..., 0:2]
        hi = torch.tensor([big_w, big_h], dtype=F64, device=dev) - ext[..., 2:4]
    else:
        lo = torch.zeros((b, k, 2), dtype=F64, device=dev)
        hi = torch.tensor([big_w - w, big_h - h], dtype=F64, device=dev).expand(b, k, 2).contiguous()
    topleft = motion_torch.simulate(
        spec.motion, seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=spec.appearance.subpixel
    )
    return app_t.place(linear, topleft, glyph_hw), look


def regions(matrix, nzbox, present, nearest: bool, canvas_hw: tuple[int, int]) -> torch.Tensor:
    """Port of :func:`movingmnist.render.general.regions`: ``(B, T, K, 4)`` int64 (per-axis minima and maxima of
    the products, the reference's operations)."""
    big_h, big_w = canvas_hw
    box = nzbox.to(F64)
    if nearest:
        rect = box - 0.5
    else:
        rect = box + torch.tensor([-1.0, -1.0, 0.0, 0.0], dtype=F64, device=box.device)
    rect = rect[:, None]  # (B, 1, K, 4)
    cols = [None] * 4
    for axis, size in ((0, big_w), (1, big_h)):
        pu0 = matrix[..., axis, 0] * rect[..., 0]
        pu1 = matrix[..., axis, 0] * rect[..., 2]
        pv0 = matrix[..., axis, 1] * rect[..., 1]
        pv1 = matrix[..., axis, 1] * rect[..., 3]
        shift = matrix[..., axis, 2]
        low = torch.floor((torch.minimum(pu0, pu1) + torch.minimum(pv0, pv1)) + shift) - 1
        high = torch.floor((torch.maximum(pu0, pu1) + torch.maximum(pv0, pv1)) + shift) + 2
        for col, value in ((axis, low), (axis + 2, high)):
            cols[col] = torch.nan_to_num(value.clamp(-size, 2 * size), nan=0.0)
    out = torch.stack(cols, dim=-1).to(I64)
    blank = (~present | (nzbox[..., 2] <= nzbox[..., 0]) | (nzbox[..., 3] <= nzbox[..., 1]))[:, None]
    empty = blank | (out[..., 2] <= out[..., 0]) | (out[..., 3] <= out[..., 1])
    return torch.where(empty[..., None], torch.zeros((), dtype=I64, device=out.device), out)


# -- fixed point (port of movingmnist.render.general.fixed_poses / fixed_gains) -------------------------------------
FRAC_BITS = 16
_ONE = float(1 << FRAC_BITS)
_POSE_LIMIT = float(1 << 40)
_GAIN_LIMIT = float(1 << 15)


def fixed_poses(inv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Port of :func:`movingmnist.render.general.fixed_poses`: inverse poses ``(..., 6)`` float64 in 16.16 fixed
    point (int64, ``floor(x * 2**16 + 0.5)``) and where they are usable (finite, coefficients within 2**40);
    unusable poses are zeros."""
    finite = torch.isfinite(inv).all(dim=-1)
    zero = torch.zeros((), dtype=F64, device=inv.device)
    scaled = torch.floor(torch.where(finite[..., None], inv, zero) * _ONE + 0.5)
    ok = finite & (scaled.abs() <= _POSE_LIMIT).all(dim=-1)
    return torch.where(ok[..., None], scaled, zero).to(I64), ok


def fixed_gains(bright: torch.Tensor, colour: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Port of :func:`movingmnist.render.general.fixed_gains`: grey gains ``(B, T, K)`` and channel gains
    ``(B, T, K, C)`` int64 (units of 2**-16) from brightness ``(B, T, K)`` and colour ``(B, K, 3)``."""
    grey = torch.floor(bright.clamp(0.0, _GAIN_LIMIT) * _ONE + 0.5).to(I64)
    per = bright[..., None] * colour[:, None, :, :channels]
    col = torch.floor(per.clamp(0.0, _GAIN_LIMIT) * _ONE + 0.5).to(I64)
    return grey, col


def _side_class(n: torch.Tensor, sides: torch.Tensor) -> torch.Tensor:
    """Index of the smallest side >= n."""
    return torch.searchsorted(sides, n.contiguous())


# -- the renderer --------------------------------------------------------------------------------------------------
class TorchGeneralRenderer:
    """Renders specs of the general path for a :class:`~movingmnist.render.torch_backend.TorchGenerator`."""

    def __init__(self, tgen) -> None:
        self.tgen = tgen
        self.spec: Spec = tgen.spec
        self.seed: int = tgen.seed
        self.device = tgen.device
        self.bank = bank_glyphs(tgen.glyphs, self.device)
        big = max(self.spec.canvas.height, self.spec.canvas.width)
        sides = [s for s in _SIDES if s < 3 * big + 8] + list(range(_SIDES[-1] + 64, 3 * big + 72, 64))
        sides = sorted(set(sides + [3 * big + 8]))
        self.sides = torch.tensor(sides, dtype=I64, device=self.device)
        self.side_list = sides
        self.kernels = compiled_kernels() if tgen.compile else EAGER
        self._kernel = self.kernels["sample"]

    # -- budgets --------------------------------------------------------------------------------------------------
    @property
    def _on_cpu(self) -> bool:
        return self.device.type == "cpu"

    def _buf(self, name: str, shape, dtype, zero: bool = False) -> torch.Tensor:
        return self.tgen._buffer("g:" + name, tuple(int(s) for s in shape), dtype, zero=zero)

    # -- entry ----------------------------------------------------------------------------------------------------
    def render(self, index: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        b = int(index.shape[0])
        if b == 0:
            return
        dev = self.device
        big_h, big_w = spec.canvas.height, spec.canvas.width
        c = spec.canvas.channels
        scene = self.tgen.scene(index)
        k_slots = int(scene.present.shape[1])
        t1 = t + 1 if ann.tracks else t
        present = scene.present
        gi = scene.glyph_index.clamp_min(0).to(I64)
        matrix, look = poses(spec, self.seed, index, scene.labels, gi, self.bank, t1)
        nearest = spec.appearance.interpolation == "nearest"
        nzbox = self.bank.nz_box[gi]
        fwd = matrix[:, :t]
        region = regions(fwd, nzbox, present, nearest, (big_h, big_w))
        inv = app_t.invert(fwd)
        fix, usable = fixed_poses(inv)
        region = torch.where(usable[..., None], region, torch.zeros((), dtype=I64, device=dev))
        gain, gain_c = fixed_gains(look.brightness[:, :t], look.colour, c)
        labels_u8 = torch.where(present, scene.labels.to(I64), ann.ignore_label).to(U8)
        plan = None if spec.background.is_empty else plan_background(spec, self.seed, index, t1, self.kernels)

        out["index"].copy_(index)
        out["labels"].copy_(scene.labels)
        out["present"].copy_(present)
        out["glyph_index"].copy_(scene.glyph_index)

        measure = ann.boxes or ann.visibility or ann.amodal_boxes
        meas = None
        if measure:
            meas = {
                "total": torch.zeros((b, t, k_slots), dtype=I64, device=dev),
                "seen": torch.zeros((b, t, k_slots), dtype=I64, device=dev),
                "mbox": _empty_boxes((b, t, k_slots), dev),
                "abox": _empty_boxes((b, t, k_slots), dev),
            }

        # Sub-batches: canvases of a sub-batch within the budget; frames split only when one sequence exceeds it.
        per_pixel = c + 4 + (k_slots if ann.amodal_masks else 0) + (2 if ann.flow else 0)  # scratch bytes
        canvas_bytes = per_pixel * big_h * big_w
        budget = CPU_CANVAS_BYTES if self._on_cpu else DEVICE_CANVAS_BYTES
        per_seq = t * canvas_bytes
        if per_seq <= budget:
            b_step, t_step = max(1, min(b, budget // per_seq)), t
        else:
            b_step, t_step = 1, max(1, budget // canvas_bytes)
        sizes = region[..., 2:4] - region[..., 0:2]  # (B, T, K, 2): width, height
        for b0 in range(0, b, b_step):
            b1 = min(b, b0 + b_step)
            for t0 in range(0, t, t_step):
                tt = min(t, t0 + t_step)
                self._chunk(
                    b0, b1, t0, tt, index, region, sizes, fix, inv, matrix, gain, gain_c, gi, labels_u8,
                    plan, out, meas,
                )

        absent = ~present[:, None, :]
        nan = torch.tensor(float("nan"), dtype=torch.float32, device=dev)
        if ann.boxes:
            mbox = meas["mbox"]
            out["boxes"].copy_(torch.where((mbox[..., 2] <= mbox[..., 0])[..., None], nan, mbox.to(torch.float32)))
        if ann.visibility:
            total, seen = meas["total"], meas["seen"]
            vis = torch.where(total > 0, seen.to(F64) / total.clamp_min(1).to(F64), 0.0)
            out["visibility"].copy_(vis)
        if ann.amodal_boxes:
            abox = meas["abox"]
            out["amodal_boxes"].copy_(
                torch.where((abox[..., 2] <= abox[..., 0])[..., None], nan, abox.to(torch.float32))
            )
        if ann.tracks:
            h, w = self.bank.hw
            cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
            centers = torch.stack(
                [
                    matrix[..., 0, 0] * cx + matrix[..., 0, 1] * cy + matrix[..., 0, 2] + 0.5,
                    matrix[..., 1, 0] * cx + matrix[..., 1, 1] * cy + matrix[..., 1, 2] + 0.5,
                ],
                dim=-1,
            ).to(torch.float32)
            out["centers"].copy_(torch.where(absent[..., None], nan, centers[:, :t]))
            out["velocities"].copy_(torch.where(absent[..., None], nan, centers[:, 1:] - centers[:, :t]))
            if spec.motion.model == "affine":
                angles, scales = app_t.decompose(matrix[:, :t])
            else:
                angles, scales = look.angle[:, :t], look.scale[:, :t]
            nan64 = torch.tensor(float("nan"), dtype=F64, device=dev)
            out["angles"].copy_(torch.where(absent, nan64, angles))
            out["scales"].copy_(torch.where(absent, nan64, scales))
            out["brightness"].copy_(torch.where(absent, nan64, look.brightness[:, :t]))
            order = torch.arange(k_slots, device=dev).to(torch.int8).view(1, 1, k_slots)
            minus_one = torch.tensor(-1, dtype=torch.int8, device=dev)
            out["depth"].copy_(torch.where(absent, minus_one, order).expand(b, t, k_slots))

    # -- one (sequences x frames) chunk ---------------------------------------------------------------------------
    def _chunk(self, b0, b1, t0, t1, index, region, sizes, fix, inv, matrix, gain, gain_c, gi, labels_u8, plan,
               out, meas) -> None:
        spec = self.spec
        ann = spec.annotations
        dev = self.device
        b, tc = b1 - b0, t1 - t0
        k_slots = region.shape[2]
        c = spec.canvas.channels
        big_h, big_w = spec.canvas.height, spec.canvas.width
        hw = big_h * big_w
        n_px = b * tc * hw
        trash = n_px
        mode = spec.compositing
        thr = ann.mask_threshold
        track_owner = ann.needs_ownership
        dist = plan.distractors if plan is not None else None
        want_dmap = ann.flow and dist is not None

        # Background into a flat scratch with a trash element (C planes of (b, tc, H, W) per frame: (b, tc, C, H, W)).
        bg = self._buf("bg", (c * n_px + 1,), U8)
        bg_view = bg[: c * n_px].view(b, tc, c, big_h, big_w)
        dmap = None
        if want_dmap:
            dmap = self._buf("dmap", (n_px + 1,), torch.int16)
            dmap.fill_(-1)
        self._background(b0, b1, t0, t1, index, plan, bg, bg_view, dmap)

        obj = self._buf("obj", (n_px + 1,), U8)
        obj.zero_()
        objc = None
        if c > 1:
            objc = self._buf("objc", (c, n_px + 1), U8)
            objc.zero_()
        inst = sem = None
        if track_owner:
            inst = self._buf("inst", (n_px + 1,), U8)
            inst.zero_()
        if ann.semantic:
            sem = self._buf("sem", (n_px + 1,), U8)
            sem.fill_(ann.ignore_label)
        amask = None
        if ann.amodal_masks:
            amask = self._buf("amask", (b * tc * k_slots * hw + 1,), torch.bool)
            amask.zero_()

        reg = region[b0:b1, t0:t1]  # (b, tc, K, 4)
        size = sizes[b0:b1, t0:t1]  # (b, tc, K, 2)
        fix_c = fix[b0:b1, t0:t1]
        gain_cc = gain[b0:b1, t0:t1]
        gain_col = gain_c[b0:b1, t0:t1] if c > 1 else None
        goff = gi[b0:b1] * self.bank.stride  # (b, K)

        # Items (b, t, k) with a region, sorted by (k, height class, width class): groups of equal patches.
        nonempty = (size[..., 0] > 0).reshape(-1)
        n_sides = len(self.side_list)
        hcls = _side_class(size[..., 1].reshape(-1), self.sides)
        wcls = _side_class(size[..., 0].reshape(-1), self.sides)
        kk = torch.arange(k_slots, device=dev).repeat(b * tc)
        code = (kk * n_sides + hcls) * n_sides + wcls
        code = torch.where(nonempty, code, k_slots * n_sides * n_sides)  # empty items last
        order = torch.argsort(code, stable=True)
        counts = torch.bincount(code, minlength=k_slots * n_sides * n_sides + 1)
        counts_host = counts.tolist()  # the one sync of the chunk
        groups = []
        start = 0
        for cd, cnt in enumerate(counts_host[:-1]):
            if cnt:
                k, rest = divmod(cd, n_sides * n_sides)
                hc, wc = divmod(rest, n_sides)
                groups.append((k, self.side_list[hc], self.side_list[wc], order[start : start + cnt]))
            start += cnt

        patches = []
        patch_budget = CPU_PATCH_PIXELS if self._on_cpu else DEVICE_PATCH_PIXELS
        flat_reg = reg.reshape(-1, 4)
        flat_fix = fix_c.reshape(-1, 6)
        flat_gain = gain_cc.reshape(-1)
        flat_gain_c = gain_col.reshape(-1, c) if gain_col is not None else None
        for k, ph, pw, items in groups:
            step = max(1, patch_budget // (ph * pw))
            for lo in range(0, int(items.shape[0]), step):
                it = items[lo : lo + step]
                bt = torch.div(it, k_slots, rounding_mode="floor")  # frame index within the chunk
                bb = torch.div(bt, tc, rounding_mode="floor")
                q, cols, idx, xs, ys, on = self._sample(
                    flat_reg[it], flat_fix[it], flat_gain[it], goff[bb, k],
                    flat_gain_c[it] if flat_gain_c is not None else None, bt, ph, pw, trash,
                )
                owned = _composite(obj, objc, idx, q, cols, mode, thr)
                if inst is not None:
                    inst[idx] = torch.where(owned, k + 1, inst[idx])
                if sem is not None:
                    sem[idx] = torch.where(owned, labels_u8[b0:b1][bb, k].view(-1, 1, 1), sem[idx])
                inked = q > thr
                if amask is not None:
                    a_idx = torch.where(inked & on, idx.to(I64) + (bt * (k_slots - 1) + k).view(-1, 1, 1) * hw,
                                        b * tc * k_slots * hw)
                    amask[a_idx] = True
                if meas is not None:
                    item_out = ((bb + b0) * spec.frames + (bt - bb * tc + t0)) * k_slots + k
                    if ann.visibility:
                        meas["total"].view(-1)[item_out] = (q * inked).sum(dim=(1, 2), dtype=I64)
                    if ann.amodal_boxes:
                        meas["abox"].view(-1, 4)[item_out] = _box_of(inked, xs, ys)
                    if ann.boxes or ann.visibility:
                        patches.append((k, q, idx, xs, ys, item_out))

        if dist is not None and dist.occlude:
            self._occluders(b0, b1, t0, t1, dist, obj, objc, inst, sem, dmap, trash)

        # Combine the object layer with the background into the frames.
        frames = out["frames"][b0:b1, t0:t1]  # (b, tc, C, H, W)
        layer_grey = obj[:n_px].view(b, tc, big_h, big_w)
        for ch in range(c):
            layer = (objc[ch] if objc is not None else obj)[:n_px].view(b, tc, big_h, big_w)
            below = bg_view[:, :, ch]
            dst = frames[:, :, ch]
            if mode == "max":
                torch.maximum(below, layer, out=dst)
            elif mode == "sum":
                torch.add(below, torch.minimum(255 - below, layer), out=dst)
            else:
                torch.where(layer_grey > 0, layer, below, out=dst)
        if inst is not None:
            inst[trash] = 0
            if ann.instance:
                out["instance"][b0:b1, t0:t1].copy_(inst[:n_px].view(b, tc, big_h, big_w))
        if sem is not None:
            out["semantic"][b0:b1, t0:t1].copy_(sem[:n_px].view(b, tc, big_h, big_w))
        if amask is not None:
            out["amodal_masks"][b0:b1, t0:t1].copy_(amask[:-1].view(b, tc, k_slots, big_h, big_w))

        for k, q, idx, xs, ys, item_out in patches:
            owned = inst[idx] == k + 1
            if ann.visibility:
                meas["seen"].view(-1)[item_out] = (q * owned).sum(dim=(1, 2), dtype=I64)
            if ann.boxes:
                meas["mbox"].view(-1, 4)[item_out] = _box_of(owned, xs, ys)

        if ann.flow:
            self._flow(b0, b1, t0, t1, inst, dmap, inv, matrix, plan, out)

    # -- pieces ---------------------------------------------------------------------------------------------------
    def _sample(self, reg, m, gain, goff, gain_c, bt, ph, pw, trash):
        """One group of patches ``(N, ph, pw)``: quantised intensities ``q`` uint8 (and colour channels), canvas
        indices (trash off the canvas), the pixel coordinates and the on-canvas mask."""
        spec = self.spec
        dev = self.device
        xs = reg[:, 0:1] + torch.arange(pw, device=dev)  # (N, pw)
        ys = reg[:, 1:2] + torch.arange(ph, device=dev)  # (N, ph)
        nearest = spec.appearance.interpolation == "nearest"
        texels = self.bank.padded if nearest else self.bank.quads
        kernel = self._kernel
        q, cols, idx, on = kernel(
            xs, ys, reg[:, 2:3], reg[:, 3:4], m, gain, goff, gain_c, bt, texels, nearest, self.bank.hw,
            self.bank.row, spec.canvas.height, spec.canvas.width, trash,
        )
        return q, cols, idx, xs, ys, on

    def _background(self, b0, b1, t0, t1, index, plan, bg, bg_view, dmap) -> None:
        """Port of ``render_background_numpy`` for the chunk, into the flat scratch ``bg``."""
        spec = self.spec
        b, tc, c, big_h, big_w = bg_view.shape
        dev = self.device
        if plan is None:
            bg_view.zero_()
            return
        idx_b = index[b0:b1]
        if plan.dynamic_noise:
            raw = noise_bytes(self.seed, "background.noise", idx_b, spec.frames, c * big_h, big_w, t0, t1,
                              mix=self.kernels["mix"])
            base = _lut(plan.lut, raw).view(b, tc, c, big_h, big_w)
        else:
            base = None
        if plan.static_val is not None:
            hb, wb = plan.static_val.shape[-2:]
            ox = plan.pan[b0:b1, t0:t1, 0]  # (b, tc)
            oy = plan.pan[b0:b1, t0:t1, 1]
            yy = torch.arange(big_h, device=dev).view(1, 1, big_h)
            row0 = (oy[..., None] + yy) * wb + ox[..., None]  # (b, tc, H)
            val_flat = plan.static_val[b0:b1].reshape(-1)
            cov_flat = plan.static_cov[b0:b1].reshape(-1)
            vrows = val_flat.as_strided((val_flat.numel() - big_w + 1, big_w), (1, 1))
            crows = cov_flat.as_strided((cov_flat.numel() - big_w + 1, big_w), (1, 1))
            bplane = torch.arange(b, device=dev).view(b, 1, 1)
            cstart = (bplane * (hb * wb) + row0).reshape(-1)
            cov = crows.index_select(0, cstart).view(b, tc, 1, big_h, big_w)
            chans = torch.arange(c, device=dev).view(1, 1, c, 1)
            vstart = ((bplane.view(b, 1, 1, 1) * c + chans) * (hb * wb) + row0.unsqueeze(2)).reshape(-1)
            val = vrows.index_select(0, vstart).view(b, tc, c, big_h, big_w)
            if base is None:
                torch.where(cov != 0, val, torch.zeros((), dtype=U8, device=dev), out=bg_view)
            else:
                torch.where(cov != 0, val, base, out=bg_view)
        elif base is not None:
            bg_view.copy_(base)
        else:
            bg_view.zero_()
        dist = plan.distractors
        if dist is not None and not dist.occlude:
            n_px = b * tc * big_h * big_w
            for n in range(dist.count):
                inside, idx = _distractor_pixels(dist, n, b0, b1, t0, t1, big_h, big_w, n_px)
                bt = idx // (big_h * big_w)
                pix = idx - bt * (big_h * big_w)
                for ch in range(c):
                    target = torch.where(inside, (bt * c + ch) * (big_h * big_w) + pix, c * n_px)
                    bg[target] = dist.value[b0:b1, n, ch].view(b, 1, 1, 1).expand(inside.shape)
                if dmap is not None:
                    dmap[idx] = n

    def _occluders(self, b0, b1, t0, t1, dist, obj, objc, inst, sem, dmap, trash) -> None:
        spec = self.spec
        ann = spec.annotations
        big_h, big_w = spec.canvas.height, spec.canvas.width
        b = b1 - b0
        for n in range(dist.count):
            inside, idx = _distractor_pixels(dist, n, b0, b1, t0, t1, big_h, big_w, trash)
            zero = torch.zeros((), dtype=U8, device=self.device)
            q = torch.where(inside, dist.grey[b0:b1, n].view(b, 1, 1, 1), zero)
            cols = None
            if objc is not None:
                cols = [torch.where(inside, dist.value[b0:b1, n, ch].view(b, 1, 1, 1), zero)
                        for ch in range(spec.canvas.channels)]
            owned = _composite(obj, objc, idx, q, cols, spec.compositing, ann.mask_threshold)
            if inst is not None:
                inst[idx] = torch.where(owned, 0, inst[idx])
            if sem is not None:
                sem[idx] = torch.where(owned, ann.ignore_label, sem[idx])
            if dmap is not None:
                dmap[idx] = torch.where(inside, n, dmap[idx]).to(torch.int16)

    def _flow(self, b0, b1, t0, t1, inst, dmap, inv, matrix, plan, out) -> None:
        """Port of ``flow_numpy`` for frames ``t0 .. min(t1, T - 1) - 1`` of the chunk, a few frames at a time."""
        spec = self.spec
        te = min(t1, spec.frames - 1)
        hw = spec.canvas.height * spec.canvas.width
        budget = CPU_FLOW_PIXELS if self._on_cpu else DEVICE_FLOW_PIXELS
        step = max(1, budget // ((b1 - b0) * hw))
        for f0 in range(t0, te, step):
            self._flow_frames(b0, b1, t0, t1, f0, min(te, f0 + step), inst, dmap, inv, matrix, plan, out)

    def _flow_frames(self, b0, b1, t0, t1, f0, te, inst, dmap, inv, matrix, plan, out) -> None:
        spec = self.spec
        dev = self.device
        big_h, big_w = spec.canvas.height, spec.canvas.width
        hw = big_h * big_w
        b = b1 - b0
        tc = t1 - t0
        n = te - f0
        owner = inst[: b * tc * hw].view(b, tc, hw)[:, f0 - t0 : te - t0].to(I64)
        k = (owner - 1).clamp_min_(0)
        ys = torch.arange(big_h, device=dev, dtype=F64).view(big_h, 1).expand(big_h, big_w).reshape(1, 1, hw)
        xs = torch.arange(big_w, device=dev, dtype=F64).view(1, big_w).expand(big_h, big_w).reshape(1, 1, hw)

        def pick(values: torch.Tensor) -> torch.Tensor:  # (b, n, K) -> (b, n, hw) at each pixel's owner
            return torch.gather(values, 2, k)

        m = inv[b0:b1, f0:te]  # (b, n, K, 6)
        f = matrix[b0:b1, f0 + 1 : te + 1]  # (b, n, K, 2, 3)
        u = pick(m[..., 0]) * xs + pick(m[..., 1]) * ys + pick(m[..., 2])
        v = pick(m[..., 3]) * xs + pick(m[..., 4]) * ys + pick(m[..., 5])
        nx = pick(f[..., 0, 0]) * u + pick(f[..., 0, 1]) * v + pick(f[..., 0, 2])
        ny = pick(f[..., 1, 0]) * u + pick(f[..., 1, 1]) * v + pick(f[..., 1, 2])
        if plan is not None:
            pan = plan.pan[b0:b1]
            pan_d = -(pan[:, f0 + 1 : te + 1] - pan[:, f0:te]).to(F64)  # (b, n, 2)
        else:
            pan_d = torch.zeros((b, n, 2), dtype=F64, device=dev)
        fx = pan_d[:, :, 0:1].expand(b, n, hw)
        fy = pan_d[:, :, 1:2].expand(b, n, hw)
        dist = plan.distractors if plan is not None else None
        if dmap is not None and dist is not None:
            d = dmap[: b * tc * hw].view(b, tc, hw)[:, f0 - t0 : te - t0].to(I64)
            has = d >= 0
            dd = d.clamp_min(0)
            pos = dist.position[b0:b1]
            step = (pos[:, f0 + 1 : te + 1] - pos[:, f0:te]).to(F64)  # (b, n, N, 2)
            fx = torch.where(has, torch.gather(step[..., 0], 2, dd), fx)
            fy = torch.where(has, torch.gather(step[..., 1], 2, dd), fy)
        own = owner > 0
        fx = torch.where(own, nx - xs, fx)
        fy = torch.where(own, ny - ys, fy)
        flow = out["flow"][b0:b1, f0:te].view(b, n, hw, 2)
        flow[..., 0] = fx.to(torch.float32)
        flow[..., 1] = fy.to(torch.float32)


def sample_patches(xs, ys, x1, y1, m, gain, goff, gain_c, bt, texels, nearest: bool, glyph_hw, row: int,
                   big_h: int, big_w: int, trash: int):
    """The pixels of ``N`` patches: columns ``xs (N, pw)``, rows ``ys (N, ph)`` (canvas indices), the items'
    region ends ``x1, y1 (N, 1)``, fixed-point inverse poses ``m (N, 6)`` int64, grey gains ``(N,)`` int64, glyph
    offsets ``goff (N,)`` into the padded bank, channel gains ``(N, C)`` int64 or None, frame indices ``bt (N,)``
    within the chunk.

    Returns ``q (N, ph, pw)`` uint8, the colour channels (a list or None), flat canvas indices ``idx`` (``trash``
    off the canvas) and the on-canvas mask. Pure tensor code with the reference's integer arithmetic (exact on any
    device; a candidate for ``torch.compile``: no data-dependent control flow).
    """
    h, w = glyph_hw
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
    q = torch.where(keep, _quantise(s, gain.view(n, 1, 1)), zero)
    cols = None
    if gain_c is not None:
        cols = [torch.where(keep, _quantise(s, gain_c[:, ch].view(n, 1, 1)), zero) for ch in range(gain_c.shape[1])]
    col_on = (xs >= 0) & (xs < big_w)
    row_on = (ys >= 0) & (ys < big_h)
    far = 4 * (trash + 1)
    idx_type = torch.int32 if far < 2**31 else I64  # canvas indices (int32 halves their traffic)
    col_part = torch.where(col_on, xs, far).to(idx_type)
    row_part = torch.where(row_on, bt.view(n, 1) * (big_h * big_w) + ys * big_w, far).to(idx_type)
    idx = (row_part.unsqueeze(2) + col_part.unsqueeze(1)).clamp_max(trash)
    on = row_on.unsqueeze(2) & col_on.unsqueeze(1)
    return q, cols, idx, on


EAGER = {"sample": sample_patches, "shape": shape_pixels, "mix": mix_words}
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


def _distractor_pixels(dist: TorchDistractors, n, b0, b1, t0, t1, big_h, big_w, trash):
    """Coverage ``(b, tc, S, S)`` of distractor slot n in frames t0..t1-1 and its flat canvas indices (trash where
    not covered)."""
    s = dist.mask.shape[-1]
    dev = dist.mask.device
    b, tc = b1 - b0, t1 - t0
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


def _quantise(s: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """``min(255, (S G + 2**31) >> 32)`` as uint8: a sample (int64, units of 2**-16, >= 0) times a gain (int64,
    units of 2**-16, >= 0), rounded to a grey level (the operands are non-negative, so the shift is a floor)."""
    return ((s * gain + (1 << 31)) >> 32).clamp_max_(255).to(U8)


def _composite(obj, objc, idx, q, cols, mode, threshold):
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


def _empty_boxes(shape, device) -> torch.Tensor:
    out = torch.zeros((*shape, 4), dtype=I64, device=device)
    out[..., 2:] = -1
    return out


def _box_of(mask: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
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
