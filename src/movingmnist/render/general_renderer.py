"""The general renderer on CPU: appearance, affine poses, backgrounds, distractors, exact masks, boxes,
visibility, amodal masks and flow, drawn by the numba kernel when available and by the numpy reference otherwise
(the same bytes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..latents import appearance as app
from ..latents.background import BackgroundPlan
from ..latents.scene import GlyphSet
from ..spec import Spec
from ..tracks import Tracks
from .general import MODES, flow_numpy, render_background_numpy, render_objects_numpy
from .poses import fixed_gains, fixed_poses, regions
from .scratch import Workspace


class GeneralRenderer:
    """Draws affine tracks (``Tracks.matrix`` and appearance) over a background plan, with numpy or numba.

    Args:
        spec: the dataset's spec. seed: its seed (the dynamic noise is drawn while drawing). glyphs: its glyph set.
        kernel: ``"numba"`` (the fused kernel) or ``"numpy"`` (the reference); the same bytes.
    """

    general = True

    def __init__(self, spec: Spec, seed: int, glyphs: GlyphSet, kernel: str = "numpy") -> None:
        self.spec = spec
        self.seed = seed
        self.glyphs = glyphs
        self.kernel = kernel
        self.workspace = Workspace()
        self._kern = None
        if kernel == "numba":
            from . import fused

            self._kern = fused

    def paint_shapes(self, val: Any, cov: Any, shapes: Any) -> None:
        """The background painter this kernel uses (see :func:`movingmnist.latents.shapes.paint_shapes`)."""
        if self._kern is None:
            from ..latents.shapes import paint_shapes

            paint_shapes(val, cov, shapes)
            return
        self._kern.paint_shapes(val, cov, shapes.present, shapes.kind, shapes.size, shapes.apex, shapes.topleft,
                                shapes.value)

    @property
    def skimage_boxes(self) -> Any:
        """The ``skimage`` shape placement's boxes as this kernel computes them (see
        :func:`movingmnist.latents.shapes.skimage_boxes`), or None for the array default."""
        return None if self._kern is None else self._kern.skimage_boxes

    @property
    def shape_masks(self) -> Any:
        """The distractors' masks as this kernel computes them (``plan_background``'s ``masks``), or None for the
        array default."""
        return None if self._kern is None else self._kern.shape_masks

    def draw(self, tracks: Tracks, plan: BackgroundPlan | None, out: Mapping[str, Any]) -> None:
        """Render ``tracks`` over ``plan`` into the output views ``out`` (``frames (B, T, C, H, W)`` and the
        annotations the spec asks for, each with a leading ``B`` axis)."""
        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        big_h, big_w = spec.canvas.height, spec.canvas.width
        scene = tracks.scene
        index = scene.index
        b, k = scene.present.shape
        matrix, look = tracks.matrix, tracks.appearance
        present = scene.present
        gi = scene.safe_glyph_index
        nearest = spec.appearance.interpolation == "nearest"
        nzbox = self.glyphs.nz_box[gi]
        fwd = matrix[:, :t]
        if self._kern is not None:  # one pass, the same bits
            inv = self.workspace.get("inv", (b, t, k, 6), np.float64)
            fix = self.workspace.get("fix", (b, t, k, 6), np.int64)
            region = self.workspace.get("region", (b, t, k, 4), np.int64)
            self._kern.poses(fwd, nzbox, present, nearest, big_h, big_w, inv, fix, region)
        else:
            region = regions(fwd, nzbox, present, nearest, (big_h, big_w))
            inv = np.ascontiguousarray(app.invert(fwd))
            fix, usable = fixed_poses(inv)
            region[~usable] = 0
        gain, gain_c = fixed_gains(look.brightness[:, :t], look.colour, spec.canvas.channels)
        gidx = np.where(present, scene.glyph_index, -1).astype(np.int64)
        labels = np.where(present, scene.labels, ann.ignore_label).astype(np.uint8)
        ws = self.workspace
        dist = plan.distractors if plan is not None else None

        frames = out["frames"]  # (B, T, C, H, W)
        track_owner = ann.needs_ownership
        inst = None
        if track_owner:
            inst = out["instance"] if ann.instance else ws.get("instance", (b, t, big_h, big_w), np.uint8)
        sem = out["semantic"] if ann.semantic else None
        measure = ann.boxes or ann.visibility
        total = ws.get("total", (b, t, k), np.int64)
        seen = ws.get("seen", (b, t, k), np.int64)
        mbox = ws.get("mbox", (b, t, k, 4), np.int64)
        abox = ws.get("abox", (b, t, k, 4), np.int64)
        unclipped = ann.visibility or ann.amodal_boxes
        amask = out["amodal_masks"] if ann.amodal_masks else None
        dmap = ws.get("dmap", (b, t, big_h, big_w), np.int16) if (ann.flow and dist is not None) else None

        if self._kern is not None:
            _run_numba(
                self._kern, self, index, plan, frames=frames, gidx=gidx, nzbox=nzbox, fix=fix, region=region,
                gain=gain, gain_c=gain_c, labels=labels, nearest=nearest, unclipped=unclipped,
                track_owner=track_owner, measure=measure, inst=inst, sem=sem, total=total, seen=seen, mbox=mbox,
                amask=amask, dmap=dmap, abox=abox,
            )
        else:
            if plan is not None:
                render_background_numpy(plan, self.seed, index, frames, dmap)
            else:
                frames.fill(0)
            render_objects_numpy(
                self.glyphs.padded, gidx, nzbox, fix, region, gain, gain_c, labels,
                mode=spec.compositing, threshold=ann.mask_threshold, ignore_label=ann.ignore_label, nearest=nearest,
                need_total=unclipped, distractors=dist, frames=frames, instance=inst, semantic=sem,
                total=total if ann.visibility else None, seen=seen if measure else None,
                mbox=mbox if ann.boxes else None, amask=amask, dmap=dmap, abox=abox if ann.amodal_boxes else None,
            )

        if ann.boxes:
            boxes = out["boxes"]
            boxes[...] = mbox
            np.copyto(boxes, np.nan, where=(mbox[..., 2] <= mbox[..., 0])[..., None])  # no box: NaN
        if ann.visibility:
            out["visibility"][...] = np.where(total > 0, seen / np.maximum(total, 1).astype(np.float64), 0.0)
        if ann.amodal_boxes:
            amodal = out["amodal_boxes"]
            amodal[...] = abox
            np.copyto(amodal, np.nan, where=(abox[..., 2] <= abox[..., 0])[..., None])
        if ann.flow:
            self._flow(matrix, inv, plan, inst, dmap, out["flow"])

    def _flow(self, matrix: Any, inv: Any, plan: BackgroundPlan | None, inst: Any, dmap: Any, flow: Any) -> None:
        b, t1 = matrix.shape[:2]
        t = self.spec.frames
        big_h, big_w = self.spec.canvas.height, self.spec.canvas.width
        dist = plan.distractors if plan is not None else None
        pan = plan.pan if plan is not None else np.zeros((b, t1, 2), dtype=np.int64)
        if self._kern is None:
            flow_numpy(inst, dmap, inv, matrix, dist, pan, flow)
            return
        d_pos = dist.position if dist is not None else np.zeros((b, t1, 0, 2), dtype=np.int64)
        scratch = self.workspace.get("flow", (b, max(t - 1, 0), big_h, big_w, 2), np.float32)
        self._kern.flow(inst, dmap if dmap is not None else np.zeros((1, 1, 1, 1), np.int16), dmap is not None,
                        inv, np.ascontiguousarray(matrix), d_pos, pan, scratch)
        flow[...] = scratch


def _run_numba(kern, renderer, index, plan, *, frames, gidx, nzbox, fix, region, gain, gain_c, labels, nearest,
               unclipped, track_owner, measure, inst, sem, total, seen, mbox, amask, dmap, abox):
    """The numba kernel over a batch: its arguments grouped into ``kern``'s named tuples, small dummies (and a flag)
    in place of what is absent (None)."""
    spec = renderer.spec
    ann = spec.annotations
    b, t, c = frames.shape[:3]
    u8_4 = np.zeros((1, 1, 1, 1), dtype=np.uint8)
    dist = plan.distractors if plan is not None else None
    if dist is None:
        distractors = kern.Distractors(
            enabled=False, occlude=False, present=np.zeros((b, 0), bool), mask=np.zeros((b, 0, 1, 1), bool),
            value=np.zeros((b, 0, c), np.uint8), grey=np.zeros((b, 0), np.uint8),
            position=np.zeros((b, t, 0, 2), np.int64),
        )
    else:
        distractors = kern.Distractors(
            enabled=True, occlude=dist.occlude, present=dist.present, mask=dist.mask, value=dist.value,
            grey=dist.grey, position=dist.position,
        )
    has_static = plan is not None and plan.static_val is not None
    background = kern.Background(
        static_val=plan.static_val if has_static else np.zeros((b, c, 1, 1), np.uint8),
        static_cov=plan.static_cov if has_static else np.zeros((b, 1, 1), np.uint8),
        has_static=has_static,
        pan=plan.pan if plan is not None else np.zeros((b, t, 2), np.int64),
        dynamic_noise=plan is not None and plan.dynamic_noise,
        noise_key=np.uint64(plan.noise_key if plan is not None else 0),  # mixed with uint64 words
        index=index,
        lut=plan.lut if plan is not None else np.zeros(256, np.uint8),
        enabled=plan is not None,
    )
    objects = kern.Objects(
        glyphs=renderer.glyphs.padded, gidx=gidx, nzbox=nzbox, fix=fix, region=region, gain=gain, gain_c=gain_c,
        labels=labels,
    )
    options = kern.Options(
        mode=MODES[spec.compositing], threshold=ann.mask_threshold, ignore_label=ann.ignore_label, nearest=nearest,
        unclipped=unclipped, track_owner=track_owner, measure=measure, has_semantic=sem is not None,
        has_amask=amask is not None, has_dmap=dmap is not None,
    )
    outputs = kern.Outputs(
        frames=frames, instance=inst if inst is not None else u8_4, semantic=sem if sem is not None else u8_4,
        total=total, seen=seen, mbox=mbox,
        amask=amask if amask is not None else np.zeros((1, 1, 1, 1, 1), bool),
        dmap=dmap if dmap is not None else np.zeros((1, 1, 1, 1), np.int16), abox=abox,
    )
    kern.render(background, distractors, objects, options, outputs)
