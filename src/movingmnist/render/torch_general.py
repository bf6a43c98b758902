"""The general renderer in torch ops on any device: affine glyphs (bilinear or nearest), brightness, colour,
backgrounds (constant, noise, images, static shapes, pan, moving distractors), compositing with ownership, exact
boxes, visibility, amodal masks and flow, by the rules of :mod:`movingmnist.render.general` (the numpy reference).

It draws :class:`~movingmnist.tracks.Tracks` over a background plan (both from the shared latent stages, the same
bits on every backend). Pixels follow the reference's integer arithmetic: inverse poses in 16.16 fixed point
(:func:`~movingmnist.render.poses.fixed_poses`, unusable poses draw nothing), ``U = A x + B y + C`` in int64, 8-bit
bilinear weights ``fx = (U >> 8) & 255``, fixed-point support tests, and ``q = min(255, (S G + 2**31) >> 32)`` with
integer gains (:func:`~movingmnist.render.poses.fixed_gains`), so frames and masks match the reference byte for
byte on every device (the only float steps, the fixed-point conversions and the regions, are the reference's IEEE
operations in its order).

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

from collections.abc import Mapping
from typing import Any

from ..errors import require
from ..latents import appearance as app
from ..latents import background as bgl
from ..latents import shapes as bgs
from ..latents import xp as _xp
from ..latents.background import BackgroundPlan, Distractors, NoiseRows
from ..latents.scene import GlyphSet
from ..spec import Spec
from ..tracks import Tracks
from .poses import fixed_gains, fixed_poses, regions
from .scratch import Workspace
from .torch_patches import (
    EAGER,
    DrawList,
    Layers,
    Window,
    bank_glyphs,
    box_of,
    compiled_kernels,
    composite,
    distractor_pixels,
    empty_boxes,
    side_class,
)

torch = require("torch", "torch", "the torch backend")

F64 = torch.float64
U8 = torch.uint8
I64 = torch.int64
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



class TorchGeneralRenderer:
    """Draws affine tracks (``Tracks.matrix`` and appearance) over a background plan with torch on ``device``.

    Args:
        spec: the dataset's spec. seed: its seed (the dynamic noise is drawn while drawing). glyphs: its glyph set
            (uploaded to the device once). device: a torch device.
        compile: ``torch.compile`` the pure patch-sampling, shape and noise functions (:func:`compiled_kernels`).
    """

    general = True

    def __init__(self, spec: Spec, seed: int, glyphs: GlyphSet, device: Any, compile: bool = False) -> None:
        self.spec = spec
        self.seed = seed
        self.device = torch.device(device)
        self.bank = bank_glyphs(glyphs, self.device)
        self.workspace = Workspace(self.device)
        big = max(self.spec.canvas.height, self.spec.canvas.width)
        sides = [s for s in _SIDES if s < 3 * big + 8] + list(range(_SIDES[-1] + 64, 3 * big + 72, 64))
        sides = sorted(set(sides + [3 * big + 8]))
        self.sides = torch.tensor(sides, dtype=I64, device=self.device)
        self.side_list = sides
        self.kernels = compiled_kernels() if compile else EAGER
        self._kernel = self.kernels["sample"]
        self.mix_words = self.kernels["mix"]

    def paint_shapes(self, val: Any, cov: Any, shapes: bgs.Shapes) -> None:
        """The background painter (:func:`movingmnist.latents.shapes.paint_shapes` with this renderer's
        kernels)."""
        bgs.paint_shapes(val, cov, shapes, kernel=self.kernels["shape"])

    # -- budgets --------------------------------------------------------------------------------------------------
    @property
    def _on_cpu(self) -> bool:
        return self.device.type == "cpu"

    def _buf(self, name: str, shape, dtype, zero: bool = False) -> torch.Tensor:
        return self.workspace.get(name, shape, dtype, zero=zero)

    # -- entry ----------------------------------------------------------------------------------------------------
    def draw(self, tracks: Tracks, plan: BackgroundPlan | None, out: Mapping[str, Any]) -> None:
        """Render ``tracks`` over ``plan`` into the output tensors ``out`` (``frames (B, T, C, H, W)`` and the
        annotations the spec asks for)."""
        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        scene = tracks.scene
        index = scene.index
        b = int(index.shape[0])
        if b == 0:
            return
        dev = self.device
        big_h, big_w = spec.canvas.height, spec.canvas.width
        c = spec.canvas.channels
        k_slots = int(scene.present.shape[1])
        present = scene.present
        gi = scene.safe_glyph_index
        matrix, look = tracks.matrix, tracks.appearance
        nearest = spec.appearance.interpolation == "nearest"
        nzbox = self.bank.nz_box[gi]
        fwd = matrix[:, :t]
        region = regions(fwd, nzbox, present, nearest, (big_h, big_w))
        inv = app.invert(fwd)
        fix, usable = fixed_poses(inv)
        region = torch.where(usable[..., None], region, torch.zeros((), dtype=I64, device=dev))
        gain, gain_c = fixed_gains(look.brightness[:, :t], look.colour, c)
        labels_u8 = torch.where(present, scene.labels.to(I64), ann.ignore_label).to(U8)

        measure = ann.boxes or ann.visibility or ann.amodal_boxes
        meas = None
        if measure:
            meas = {
                "total": torch.zeros((b, t, k_slots), dtype=I64, device=dev),
                "seen": torch.zeros((b, t, k_slots), dtype=I64, device=dev),
                "mbox": empty_boxes((b, t, k_slots), dev),
                "abox": empty_boxes((b, t, k_slots), dev),
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
        draw = DrawList(index, region, sizes, fix, inv, matrix, gain, gain_c, gi, labels_u8)
        for b0 in range(0, b, b_step):
            for t0 in range(0, t, t_step):
                self._chunk(Window(b0, min(b, b0 + b_step), t0, min(t, t0 + t_step)), draw, plan, out, meas)

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

    # -- one (sequences x frames) chunk ---------------------------------------------------------------------------
    def _chunk(self, win: Window, draw: DrawList, plan: BackgroundPlan | None, out: Mapping[str, Any],
               meas: dict | None) -> None:
        spec = self.spec
        ann = spec.annotations
        dev = self.device
        b0, b1, t0, t1 = win.b0, win.b1, win.t0, win.t1
        b, tc = win.size
        index, region, sizes, fix = draw.index, draw.region, draw.sizes, draw.fix
        gain, gain_c, gi, labels_u8 = draw.gain, draw.gain_c, draw.gi, draw.labels
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
        self._background(win, index, plan, (bg, bg_view), dmap)

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
        hcls = side_class(size[..., 1].reshape(-1), self.sides)
        wcls = side_class(size[..., 0].reshape(-1), self.sides)
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
                    flat_gain_c[it] if flat_gain_c is not None else None, bt, patch_hw=(ph, pw), trash=trash,
                )
                owned = composite(obj, objc, idx, q, cols, mode, thr)
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
                        meas["abox"].view(-1, 4)[item_out] = box_of(inked, xs, ys)
                    if ann.boxes or ann.visibility:
                        patches.append((k, q, idx, xs, ys, item_out))

        if dist is not None and dist.occlude:
            self._occluders(win, dist, Layers(obj, objc, inst, sem, dmap, trash))

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
                meas["mbox"].view(-1, 4)[item_out] = box_of(owned, xs, ys)

        if ann.flow:
            self._flow(win, inst, dmap, draw, plan, out)

    # -- pieces ---------------------------------------------------------------------------------------------------
    def _sample(self, reg, m, gain, goff, gain_c, bt, *, patch_hw: tuple[int, int], trash: int):
        """One group of patches ``(N, ph, pw)``: quantised intensities ``q`` uint8 (and colour channels), canvas
        indices (trash off the canvas), the pixel coordinates and the on-canvas mask."""
        spec = self.spec
        dev = self.device
        ph, pw = patch_hw
        xs = reg[:, 0:1] + torch.arange(pw, device=dev)  # (N, pw)
        ys = reg[:, 1:2] + torch.arange(ph, device=dev)  # (N, ph)
        nearest = spec.appearance.interpolation == "nearest"
        texels = self.bank.padded if nearest else self.bank.quads
        kernel = self._kernel
        q, cols, idx, on = kernel(
            xs, ys, reg[:, 2:3], reg[:, 3:4], m, gain, goff, gain_c, bt=bt, texels=texels, nearest=nearest,
            glyph_hw=self.bank.hw, row=self.bank.row, canvas_hw=(spec.canvas.height, spec.canvas.width), trash=trash,
        )
        return q, cols, idx, xs, ys, on

    def _background(self, win: Window, index, plan: BackgroundPlan | None, scratch, dmap) -> None:
        """``render_background_numpy`` for the chunk, into the flat scratch ``scratch = (bg, bg_view)``."""
        spec = self.spec
        bg, bg_view = scratch
        b0, b1, t0, t1 = win.b0, win.b1, win.t0, win.t1
        b, tc, c, big_h, big_w = bg_view.shape
        dev = self.device
        if plan is None:
            bg_view.zero_()
            return
        idx_b = index[b0:b1]
        if plan.dynamic_noise:
            rows = NoiseRows(spec.frames, c * big_h, big_w, t0, t1)
            raw = bgl.noise_bytes(self.seed, "background.noise", idx_b, rows, mix=self.kernels["mix"])
            base = _xp.lookup(_xp.namespace(raw), plan.lut, raw).view(b, tc, c, big_h, big_w)
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
                inside, idx = distractor_pixels(dist, n, win, (big_h, big_w), n_px)
                bt = idx // (big_h * big_w)
                pix = idx - bt * (big_h * big_w)
                for ch in range(c):
                    target = torch.where(inside, (bt * c + ch) * (big_h * big_w) + pix, c * n_px)
                    bg[target] = dist.value[b0:b1, n, ch].view(b, 1, 1, 1).expand(inside.shape)
                if dmap is not None:
                    dmap[idx] = n

    def _occluders(self, win: Window, dist: Distractors, layers: Layers) -> None:
        """Distractors drawn above the objects: composited like objects, taking ownership away."""
        spec = self.spec
        ann = spec.annotations
        obj, objc, inst, sem, dmap = layers.obj, layers.objc, layers.inst, layers.sem, layers.dmap
        b0, b1 = win.b0, win.b1
        b = b1 - b0
        for n in range(dist.count):
            inside, idx = distractor_pixels(dist, n, win, (spec.canvas.height, spec.canvas.width), layers.trash)
            zero = torch.zeros((), dtype=U8, device=self.device)
            q = torch.where(inside, dist.grey[b0:b1, n].view(b, 1, 1, 1), zero)
            cols = None
            if objc is not None:
                cols = [torch.where(inside, dist.value[b0:b1, n, ch].view(b, 1, 1, 1), zero)
                        for ch in range(spec.canvas.channels)]
            owned = composite(obj, objc, idx, q, cols, spec.compositing, ann.mask_threshold)
            if inst is not None:
                inst[idx] = torch.where(owned, 0, inst[idx])
            if sem is not None:
                sem[idx] = torch.where(owned, ann.ignore_label, sem[idx])
            if dmap is not None:
                dmap[idx] = torch.where(inside, n, dmap[idx]).to(torch.int16)

    def _flow(self, win: Window, inst, dmap, draw: DrawList, plan: BackgroundPlan | None, out) -> None:
        """``flow_numpy`` for frames ``t0 .. min(t1, T - 1) - 1`` of the chunk, a few frames at a time."""
        spec = self.spec
        b0, b1, t0, t1 = win.b0, win.b1, win.t0, win.t1
        te = min(t1, spec.frames - 1)
        hw = spec.canvas.height * spec.canvas.width
        budget = CPU_FLOW_PIXELS if self._on_cpu else DEVICE_FLOW_PIXELS
        step = max(1, budget // ((b1 - b0) * hw))
        for f0 in range(t0, te, step):
            self._flow_frames(win, (f0, min(te, f0 + step)), (inst, dmap), draw, plan, out)

    def _flow_frames(self, win: Window, frames: tuple[int, int], maps, draw: DrawList, plan, out) -> None:
        """Flow of frames ``f0 .. te - 1`` (``frames``) from the ownership and distractor ``maps`` of the chunk."""
        spec = self.spec
        b0, b1, t0, t1 = win.b0, win.b1, win.t0, win.t1
        f0, te = frames
        inst, dmap = maps
        inv, matrix = draw.inv, draw.matrix
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
            # -(0 - 0): the reference negates a zero pan step, so background flow is -0.0 there too.
            pan_d = -torch.zeros((b, n, 2), dtype=F64, device=dev)
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


