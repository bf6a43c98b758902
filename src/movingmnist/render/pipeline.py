"""The general rendering path of :class:`movingmnist.Generator`: appearance latents -> poses -> background ->
objects -> annotations, with the numba kernels when available and the numpy reference otherwise (same bytes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import appearance as app_mod
from .. import motion as motion_models
from .backgrounds import BackgroundPlan, plan_background
from .general import (
    MODES,
    fixed_gains,
    fixed_poses,
    flow_numpy,
    regions,
    render_background_numpy,
    render_objects_numpy,
)

if TYPE_CHECKING:
    from ..batch import Batch
    from ..generator import Generator


def poses(gen: Generator, scene, num_frames: int):
    """Forward poses ``(B, T1, K, 2, 3)`` and the appearance schedules of a scene."""
    spec = gen.spec
    index = scene.index
    look = app_mod.sample_appearance(spec, gen.seed, index, scene.labels, num_frames)
    linear = app_mod.linear_part(look.angle, look.scale, look.shear)  # (B, T1, K, 2, 2)
    glyph_hw = gen.glyphs.glyph_hw
    canvas_hw = (spec.canvas.height, spec.canvas.width)
    gi = np.maximum(scene.glyph_index, 0)
    ink_box = gen.glyphs.ink_box[gi]
    if spec.motion.model == "affine":
        matrix = app_mod.affine_poses(spec, gen.seed, index, linear, num_frames, glyph_hw, canvas_hw, ink_box)
        return matrix, look
    h, w = glyph_hw
    big_h, big_w = canvas_hw
    b, k = scene.present.shape
    if spec.motion.bounce_on == "ink":
        ext = app_mod.ink_extents(linear, ink_box[:, None], glyph_hw)  # (B, T1, K, 4) pixel edges from top-left
        lo = -ext[..., 0:2]
        hi = np.array([big_w, big_h], dtype=np.float64) - ext[..., 2:4]
        if spec.motion.model != "flip" and app_mod.is_identity_linear(linear):
            lo, hi = lo[:, 0], hi[:, 0]
    else:
        lo = np.zeros((b, k, 2))
        hi = np.broadcast_to(np.array([big_w - w, big_h - h], dtype=np.float64), (b, k, 2)).copy()
    topleft = motion_models.simulate(
        spec.motion, gen.seed, index, num_frames, lo, hi, glyph_hw, canvas_hw, subpixel=spec.appearance.subpixel
    )
    return app_mod.place(linear, topleft, glyph_hw), look


def render_general(gen: Generator, index: np.ndarray, out: Batch, offset: int) -> None:
    spec = gen.spec
    ann = spec.annotations
    t = spec.frames
    c = spec.canvas.channels
    big_h, big_w = spec.canvas.height, spec.canvas.width
    b = len(index)
    sl = slice(offset, offset + b)
    scene = gen.scene(index)
    k = scene.present.shape[1]
    t1 = t + 1 if ann.tracks else t
    matrix, look = poses(gen, scene, t1)
    present = scene.present
    gi = np.maximum(scene.glyph_index, 0)
    nearest = spec.appearance.interpolation == "nearest"
    nzbox = gen.glyphs.nz_box[gi]
    fwd = matrix[:, :t]
    region = regions(fwd, nzbox, present, nearest, (big_h, big_w))
    inv = np.ascontiguousarray(app_mod.invert(fwd))
    fix, usable = fixed_poses(inv)
    region[~usable] = 0
    gain, gain_c = fixed_gains(look.brightness[:, :t], look.colour, c)
    gidx = np.where(present, scene.glyph_index, -1).astype(np.int64)
    labels = np.where(present, scene.labels, ann.ignore_label).astype(np.uint8)
    ws = gen._workspace

    plan: BackgroundPlan | None = None
    shapes_kernel = None
    kern = None
    if gen.kernel == "numba":
        from . import fused as kern

        shapes_kernel = kern.paint_shapes
    if not spec.background.is_empty:
        plan = plan_background(spec, gen.seed, index, t1, shapes_kernel=shapes_kernel)
    dist = plan.distractors if plan is not None else None

    frames = out.frames[sl]  # (B, T, C, H, W)
    track_owner = ann.needs_ownership
    inst = None
    if track_owner:
        inst = out.instance[sl] if ann.instance else ws.get("instance", (b, t, big_h, big_w), np.uint8)
    sem = out.semantic[sl] if ann.semantic else None
    measure = ann.boxes or ann.visibility
    total = ws.get("total", (b, t, k), np.int64)
    seen = ws.get("seen", (b, t, k), np.int64)
    mbox = ws.get("mbox", (b, t, k, 4), np.int64)
    abox = ws.get("abox", (b, t, k, 4), np.int64)
    unclipped = ann.visibility or ann.amodal_boxes
    amask = out.amodal_masks[sl] if ann.amodal_masks else None
    dmap = ws.get("dmap", (b, t, big_h, big_w), np.int16) if (ann.flow and dist is not None) else None

    if kern is not None:
        _run_numba(
            kern, gen, index, plan, frames=frames, gidx=gidx, nzbox=nzbox, fix=fix, region=region, gain=gain,
            gain_c=gain_c, labels=labels, nearest=nearest, unclipped=unclipped, track_owner=track_owner,
            measure=measure, inst=inst, sem=sem, total=total, seen=seen, mbox=mbox, amask=amask, dmap=dmap, abox=abox,
        )
    else:
        if plan is not None:
            render_background_numpy(plan, gen.seed, index, frames, dmap)
        else:
            frames.fill(0)
        render_objects_numpy(
            gen.glyphs.padded, gidx, nzbox, fix, region, gain, gain_c, labels,
            mode=spec.compositing, threshold=ann.mask_threshold, ignore_label=ann.ignore_label, nearest=nearest,
            need_total=unclipped, distractors=dist, frames=frames, instance=inst, semantic=sem,
            total=total if ann.visibility else None, seen=seen if measure else None,
            mbox=mbox if ann.boxes else None, amask=amask, dmap=dmap, abox=abox if ann.amodal_boxes else None,
        )

    out.index[sl] = index
    out.labels[sl] = scene.labels
    out.present[sl] = present
    out.glyph_index[sl] = scene.glyph_index
    absent = ~present[:, None, :]  # (B, 1, K)
    if ann.boxes:
        boxes = out.boxes[sl]
        boxes[...] = mbox
        boxes[np.broadcast_to((mbox[..., 2] <= mbox[..., 0])[..., None], boxes.shape)] = np.nan
    if ann.visibility:
        out.visibility[sl] = np.where(total > 0, seen / np.maximum(total, 1).astype(np.float64), 0.0)
    if ann.amodal_boxes:
        amodal = out.amodal_boxes[sl]
        amodal[...] = abox
        amodal[np.broadcast_to((abox[..., 2] <= abox[..., 0])[..., None], amodal.shape)] = np.nan
    if ann.tracks:
        h, w = gen.glyphs.glyph_hw
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        centers = np.stack(
            [
                matrix[..., 0, 0] * cx + matrix[..., 0, 1] * cy + matrix[..., 0, 2] + 0.5,
                matrix[..., 1, 0] * cx + matrix[..., 1, 1] * cy + matrix[..., 1, 2] + 0.5,
            ],
            axis=-1,
        ).astype(np.float32)
        out.centers[sl] = centers[:, :t]
        out.velocities[sl] = centers[:, 1:] - centers[:, :t]
        for name in ("centers", "velocities"):
            getattr(out, name)[sl][np.broadcast_to(absent, (b, t, k))] = np.nan
        if spec.motion.model == "affine":
            angles, scales = app_mod.decompose(matrix[:, :t])
        else:
            angles, scales = look.angle[:, :t], look.scale[:, :t]
        out.angles[sl] = np.where(absent, np.nan, angles)
        out.scales[sl] = np.where(absent, np.nan, scales)
        out.brightness[sl] = np.where(absent, np.nan, look.brightness[:, :t])
        out.depth[sl] = np.where(absent, -1, np.arange(k, dtype=np.int8))
    if ann.flow:
        pan = plan.pan if plan is not None else np.zeros((b, t1, 2), dtype=np.int64)
        d_pos = dist.position if dist is not None else np.zeros((b, t1, 0, 2), dtype=np.int64)
        if kern is not None:
            scratch = ws.get("flow", (b, max(t - 1, 0), big_h, big_w, 2), np.float32)
            kern.flow(inst, dmap if dmap is not None else np.zeros((1, 1, 1, 1), np.int16), dmap is not None,
                      inv, np.ascontiguousarray(matrix), d_pos, pan, scratch)
            out.flow[sl] = scratch
        else:
            flow_numpy(inst, dmap, inv, matrix, dist, pan, out.flow[sl])
    del c


def _run_numba(kern, gen, index, plan, *, frames, gidx, nzbox, fix, region, gain, gain_c, labels, nearest,
               unclipped, track_owner, measure, inst, sem, total, seen, mbox, amask, dmap, abox):
    """The numba kernel over a batch: its arguments grouped into ``kern``'s named tuples, small dummies (and a flag)
    in place of what is absent (None)."""
    spec = gen.spec
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
        noise_key=plan.noise_key if plan is not None else np.uint64(0),
        index=index,
        lut=plan.lut if plan is not None else np.zeros(256, np.uint8),
        enabled=plan is not None,
    )
    objects = kern.Objects(
        glyphs=gen.glyphs.padded, gidx=gidx, nzbox=nzbox, fix=fix, region=region, gain=gain, gain_c=gain_c,
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
