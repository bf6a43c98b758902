"""Tracks: the per-frame poses of every object, the cut between simulation and rendering.

:func:`simulate_tracks` runs the latent stages (scene, appearance, motion; :mod:`movingmnist.latents`) for a batch
of sequence indices and returns a :class:`Tracks` value; every renderer draws a Tracks value and knows nothing else
about how it was made. :func:`track_annotations` turns Tracks into the per-object annotation arrays (centres,
velocities, angles, scales, brightness, depth). Both are written once over the array namespace of the indices
(numpy, or torch on any device: the same bits).

Two kinds of poses:

- translation-only specs: ``topleft (B, T1, K, 2)`` int64, the whole-pixel top-left of each glyph box;
- the general path (rotation, scale, shear, brightness, colour, sub-pixel motion, ``affine``): ``matrix
  (B, T1, K, 2, 3)`` float64 forward poses ``(x, y) = A (u, v, 1)`` from glyph pixel to canvas pixel, and the
  appearance schedules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .events import event_table
from .latents import appearance as app
from .latents import lifetimes as life
from .latents import motion
from .latents import xp as _xp
from .latents.appearance import Appearance
from .latents.scene import GlyphSet, Scene, sample_scene
from .spec import Spec


@dataclass(frozen=True)
class Tracks:
    """Where every object of a batch is drawn in each frame, batch-first.

    Attributes:
        scene: the objects: ``index (B,)``, ``present (B, K)`` (the slot holds an object at some frame),
            ``glyph_index (B, K)`` (-1 absent), ``labels (B, K)`` (-1 absent).
        topleft: ``(B, T1, K, 2)`` int64 top-left (x, y) of each glyph box, for translation-only specs (else None).
        matrix: ``(B, T1, K, 2, 3)`` float64 forward poses, for the general path (else None).
        appearance: the schedules (``angle``, ``scale``, ``shear``, ``brightness`` ``(B, T1, K)``, ``colour``
            ``(B, K, 3)``) on the general path (else None).
        glyph_hw: (h, w) of the glyph box.
        alive, in_scene: ``(B, T1, K)`` bool (lifetimes, docs/scenes.md): the object exists (else it is parked off
            the canvas), and it is present (every annotation is absent elsewhere). None when the spec has no
            lifetimes: every occupied slot is then alive and present in every frame.
        boxes: ``(B, T1, K, 4)`` float64 ink boxes of the unparked poses, when events are annotated (else None).
        touch: ``(B, T1, K, 4)`` bool wall contacts (left, top, right, bottom), when events are annotated.
        collisions: ``(B, T1, K, K)`` bool pair collisions (motion ``collisions``), when events are annotated.

    T1 is the number of frames simulated: T, or T + 1 when velocities are annotated (the velocity of the last frame
    needs the next position).
    """

    scene: Scene
    topleft: Any | None
    matrix: Any | None
    appearance: Appearance | None
    glyph_hw: tuple[int, int]
    alive: Any | None = None
    in_scene: Any | None = None
    boxes: Any | None = None
    touch: Any | None = None
    collisions: Any | None = None

    @property
    def present(self) -> Any:
        """``(B, K)`` bool: the slot holds an object at some frame."""
        return self.scene.present

    def present_per_frame(self, num_frames: int) -> Any:
        """``(B, T, K)`` bool over the first ``num_frames`` frames: the object is in the scene."""
        if self.in_scene is not None:
            return self.in_scene[:, :num_frames]
        xp = _xp.namespace(self.scene.present)
        b, k = self.scene.present.shape
        return xp.broadcast_to(self.scene.present[:, None, :], (b, num_frames, k))

    def rows(self, start: int, stop: int) -> Tracks:
        """The tracks of sequences ``start .. stop - 1`` of this batch (views, no copies)."""
        scene = self.scene
        look = self.appearance

        def cut(value: Any) -> Any:
            return None if value is None else value[start:stop]

        return Tracks(
            scene=Scene(
                index=scene.index[start:stop],
                count=scene.count[start:stop],
                present=scene.present[start:stop],
                glyph_index=scene.glyph_index[start:stop],
                labels=scene.labels[start:stop],
            ),
            topleft=cut(self.topleft),
            matrix=cut(self.matrix),
            appearance=None if look is None else Appearance(
                angle=look.angle[start:stop],
                scale=look.scale[start:stop],
                shear=look.shear[start:stop],
                brightness=look.brightness[start:stop],
                colour=look.colour[start:stop],
            ),
            glyph_hw=self.glyph_hw,
            alive=cut(self.alive),
            in_scene=cut(self.in_scene),
            boxes=cut(self.boxes),
            touch=cut(self.touch),
            collisions=cut(self.collisions),
        )


def simulate_tracks(spec: Spec, seed: int, index: Any, glyphs: GlyphSet, num_frames: int, general: bool) -> Tracks:
    """Tracks of sequences ``index (B,)`` over ``num_frames`` frames (T1).

    Args:
        index: numpy array or torch tensor of sequence indices; the tracks live in its namespace and on its device.
        glyphs: the glyph set of the spec (numpy; its tables are copied to the device once).
        general: whole affine poses and appearance (the general renderer) instead of whole-pixel top-lefts. A
            translation-only spec gives the same poses either way.
    """
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    scene = sample_scene(spec, seed, index, _xp.on_device(xp, glyphs.labels, dev))
    sched = scene.schedule
    ink_box = _xp.on_device(xp, glyphs.ink_box, dev)[scene.safe_glyph_index]  # (B, K, 4)
    glyph_hw = glyphs.glyph_hw
    canvas_hw = (spec.canvas.height, spec.canvas.width)
    events = spec.annotations.events or spec.annotations.captions == "events"
    hits: dict[str, Any] = {}
    look = linear = None
    if general:
        look = app.sample_appearance(spec, seed, scene.index, scene.labels, num_frames)
        if sched is not None and spec.objects.appear[1] > 0:
            look = _delay_look(look, sched.start)
        linear = app.linear_part(look.angle, look.scale, look.shear)  # (B, T1, K, 2, 2)
    walls = None
    if general and spec.motion.model == "affine":
        frame = app.AffineFrame(glyph_hw=glyph_hw, canvas_hw=canvas_hw, ink_box=ink_box)
        matrix = app.affine_poses(spec, seed, scene.index, linear, num_frames, frame)
        if sched is not None:
            matrix = life.delay(matrix, sched.start)
        topleft = None
    else:
        walls = _walls(spec, scene, ink_box, linear, glyph_hw)
        topleft = motion.simulate(
            spec.motion, seed, scene.index, num_frames, walls, subpixel=general and spec.appearance.subpixel,
            **_motion_extras(spec, scene, ink_box, hits, events),
        )
        if sched is not None:
            topleft = _lifetime_positions(spec, seed, scene, sched, topleft, walls, num_frames, glyph_hw)
        matrix = app.place(linear, topleft, glyph_hw) if general else None
    if sched is None and not events:
        if general:
            return Tracks(scene=scene, topleft=None, matrix=matrix, appearance=look, glyph_hw=glyph_hw)
        return Tracks(scene=scene, topleft=topleft, matrix=None, appearance=None, glyph_hw=glyph_hw)
    if matrix is not None:
        rect = _xp.f64(xp, ink_box)[:, None] - 0.5
        boxes = app.transformed_box(matrix, xp.broadcast_to(rect, (*matrix.shape[:3], 4))) + 0.5
    else:
        boxes = life.ink_boxes_translation(topleft, ink_box)
    touch = _touches(spec, topleft if walls is not None else None, walls, boxes) if events else None
    alive = in_scene = None
    if sched is not None:
        alive, in_scene = life.alive_and_present(spec, sched, boxes, ink_box)
        if matrix is not None:
            matrix = life.park_matrix(matrix, alive, glyph_hw)
        else:
            topleft = life.park_topleft(topleft, alive, glyph_hw)
    return Tracks(
        scene=scene, topleft=None if general else topleft, matrix=matrix, appearance=look, glyph_hw=glyph_hw,
        alive=alive, in_scene=in_scene, boxes=boxes if events else None, touch=touch,
        collisions=hits.get("collisions"),
    )


def _motion_extras(spec: Spec, scene: Scene, ink_box: Any, hits: dict[str, Any], events: bool) -> dict[str, Any]:
    """Keywords of :func:`motion.simulate` beyond the common ones: the classes (paths tied to them), the slots that
    take part in collisions, the ink boxes (collision discs) and, when events are annotated, the dict the collision
    solver reports its hits in."""
    extras = {"labels": scene.labels, "active": scene.present, "ink_box": ink_box}
    if events and spec.motion.collisions != "none":
        extras["events"] = hits
    return extras


def _delay_look(look: Appearance, start: Any) -> Appearance:
    """The appearance schedules shifted later by each object's appearance frame (its life starts there)."""
    return Appearance(
        angle=life.delay(look.angle, start), scale=life.delay(look.scale, start), shear=life.delay(look.shear, start),
        brightness=life.delay(look.brightness, start), colour=look.colour,
    )


def _lifetime_positions(spec, seed, scene, sched, topleft, walls, num_frames, glyph_hw):
    """Top-lefts ``(B, T1, K, 2)`` with late appearances delayed and born objects entering through their wall."""
    xp = _xp.namespace(topleft)
    if spec.objects.appear[1] > 0:
        topleft = life.delay(topleft, xp.where(sched.born, 0, sched.start))
    if spec.objects.max_births > 0:
        velocity = motion.free_velocity(spec.motion, seed, scene.index, walls)
        entering = life.birth_positions(
            spec, seed, scene.index, sched.born, sched.start, num_frames, glyph_hw, velocity
        )
        topleft = xp.where(sched.born[:, None, :, None], xp.astype(entering, topleft.dtype), topleft)
    return topleft


def _touches(spec: Spec, topleft: Any | None, walls: motion.Walls | None, boxes: Any) -> Any:
    """``(B, T1, K, 4)`` bool: the object is at (or beyond) its left, top, right, bottom wall. Models with walls
    compare the top-left with the walls they bounce off; ``affine`` with ``boundary="bounce"`` compares the ink box
    with the canvas; ``free`` (no walls) and unbounded ``affine`` have none."""
    xp = _xp.namespace(boxes)
    model = spec.motion.model
    if model == "free" or (model == "affine" and spec.motion.boundary == "none"):
        return xp.zeros((*boxes.shape[:3], 4), dtype=xp.bool, device=_xp.device_of(boxes))
    if walls is None:
        big_h, big_w = spec.canvas.height, spec.canvas.width
        return xp.stack([boxes[..., 0] <= 0, boxes[..., 1] <= 0, boxes[..., 2] >= big_w, boxes[..., 3] >= big_h],
                        axis=-1)
    lo, hi = walls.lo, walls.hi
    if lo.ndim == 3:
        lo, hi = lo[:, None], hi[:, None]
    pos = _xp.f64(xp, topleft)
    return xp.stack([pos[..., 0] <= lo[..., 0], pos[..., 1] <= lo[..., 1], pos[..., 0] >= hi[..., 0],
                     pos[..., 1] >= hi[..., 1]], axis=-1)


def _walls(spec: Spec, scene: Scene, ink_box: Any, linear: Any | None, glyph_hw: tuple[int, int]) -> motion.Walls:
    """The walls of ``motion.bounce_on``: the glyph box stays on the canvas (``box``), or its ink does (``ink``:
    per frame when the glyph turns or scales, since its ink box changes)."""
    xp = _xp.namespace(ink_box)
    dev = _xp.device_of(ink_box)
    (h, w), (big_h, big_w) = glyph_hw, (spec.canvas.height, spec.canvas.width)
    canvas_hw = (big_h, big_w)
    b, k = scene.present.shape
    if spec.motion.bounce_on == "ink":
        if linear is None:
            ext = _xp.f64(xp, ink_box)  # (B, K, 4): pixel edges of the untransformed ink
        else:
            ext = app.ink_extents(linear, ink_box[:, None], glyph_hw)  # (B, T1, K, 4)
        far = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)
        return motion.Walls(-ext[..., 0:2], far - ext[..., 2:4], glyph_hw, canvas_hw)
    lo = xp.zeros((b, k, 2), dtype=xp.float64, device=dev)
    room = xp.asarray([float(big_w - w), float(big_h - h)], dtype=xp.float64, device=dev)
    return motion.Walls(lo, _xp.broadcast_copy(xp, room, (b, k, 2)), glyph_hw, canvas_hw)


def track_annotations(tracks: Tracks, num_frames: int, affine: bool) -> dict[str, Any]:
    """The per-object annotations of ``tracks`` over the first ``num_frames`` frames (T; the tracks hold T + 1).

    Returns ``centers``, ``velocities`` ``(B, T, K, 2)`` float32 (NaN for absent objects), ``angles``, ``scales``,
    ``brightness`` ``(B, T, K)`` (float64, NaN for absent objects; stored as float32) and ``depth`` ``(B, T, K)``
    int8 (the drawing order; -1 absent). ``affine``: angles and scales are decomposed from the poses (the ``affine``
    model composes them) instead of read from the schedules.
    """
    xp = _xp.namespace(tracks.scene.index)
    dev = _xp.device_of(tracks.scene.index)
    t = num_frames
    h, w = tracks.glyph_hw
    k = tracks.present.shape[1]
    absent = ~tracks.present_per_frame(t)  # (B, T, K)
    nan = float("nan")
    if tracks.matrix is None:
        half = xp.asarray([w / 2, h / 2], dtype=xp.float32, device=dev)
        centers = xp.astype(tracks.topleft, xp.float32) + half
        angles = xp.zeros(absent.shape, dtype=xp.float64, device=dev)
        scales = brightness = xp.ones(absent.shape, dtype=xp.float64, device=dev)
    else:
        m = tracks.matrix
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        x = m[..., 0, 0] * cx + m[..., 0, 1] * cy + m[..., 0, 2] + 0.5
        y = m[..., 1, 0] * cx + m[..., 1, 1] * cy + m[..., 1, 2] + 0.5
        centers = xp.astype(xp.stack([x, y], axis=-1), xp.float32)
        if affine:
            angles, scales = app.decompose(m[:, :t])
        else:
            angles, scales = tracks.appearance.angle[:, :t], tracks.appearance.scale[:, :t]
        brightness = tracks.appearance.brightness[:, :t]
    velocities = centers[:, 1:] - centers[:, :t]
    gone_next = absent
    if tracks.alive is not None and tracks.alive.shape[1] > t:
        gone_next = absent | ~tracks.alive[:, 1 : t + 1]  # the next pose is parked: no velocity
    order = xp.reshape(xp.astype(xp.arange(k, device=dev), xp.int8), (1, 1, k))
    shape = (absent.shape[0], t, k)
    return {
        "centers": xp.where(absent[..., None], nan, centers[:, :t]),
        "velocities": xp.where(gone_next[..., None], nan, velocities),
        "angles": xp.broadcast_to(xp.where(absent, nan, angles), shape),
        "scales": xp.broadcast_to(xp.where(absent, nan, scales), shape),
        "brightness": xp.broadcast_to(xp.where(absent, nan, brightness), shape),
        "depth": xp.broadcast_to(xp.where(absent, xp.asarray(-1, dtype=xp.int8, device=dev), order), shape),
    }


def write_tracks(tracks: Tracks, spec: Spec, out: Mapping[str, Any]) -> None:
    """Write what every renderer shares into the output views ``out`` (numpy arrays or torch tensors with a leading
    ``B`` axis): ``index``, ``labels``, ``present`` (per frame), ``occupied``, ``glyph_index`` and, when the spec
    annotates tracks, the arrays of :func:`track_annotations`. Renderer outputs are finished by
    :func:`finish_tracks` after drawing."""
    scene = tracks.scene
    out["index"][...] = scene.index
    out["labels"][...] = scene.labels
    out["present"][...] = tracks.present_per_frame(spec.frames)
    out["occupied"][...] = scene.present
    out["glyph_index"][...] = scene.glyph_index
    if spec.annotations.tracks:
        arrays = track_annotations(tracks, spec.frames, affine=spec.motion.model == "affine")
        for name, value in arrays.items():
            out[name][...] = value


def finish_tracks(
    tracks: Tracks, spec: Spec, out: Mapping[str, Any], class_names: tuple[str, ...] | None = None
) -> None:
    """After drawing: the renderers' per-object measures made absent where an object is not present (lifetimes),
    the event table and the captions (computed on the host with numpy: the same code for every backend)."""
    ann = spec.annotations
    t = spec.frames
    if tracks.in_scene is not None:
        xp = _xp.namespace(tracks.in_scene)
        absent = ~tracks.in_scene[:, :t]
        for name in ("boxes", "amodal_boxes"):
            if getattr(ann, name):
                out[name][...] = xp.where(absent[..., None], float("nan"), out[name])
        if ann.visibility:
            out["visibility"][...] = xp.where(absent, 0.0, out["visibility"])
    if not (ann.events or ann.captions != "none"):
        return
    present = _host(tracks.present_per_frame(t))
    table = None
    if ann.events or ann.captions == "events":
        table = event_table(
            present, _host(tracks.boxes[:, :t]), _host(tracks.touch[:, :t]), (spec.canvas.height, spec.canvas.width),
            ann.max_events, alive=None if tracks.alive is None else _host(tracks.alive[:, :t]),
            collisions=None if tracks.collisions is None else _host(tracks.collisions[:, :t]),
        )
        if ann.events:
            _store(out["events"], table)
    if ann.captions != "none":
        from .captions import encode_captions, event_caption, template_caption

        if ann.tracks:  # write_tracks put them in the outputs already
            arrays = {name: _host(out[name]) for name in ("centers", "velocities")}
        else:
            computed = track_annotations(tracks, t, spec.motion.model == "affine")
            arrays = {name: _host(computed[name]) for name in ("centers", "velocities")}
        labels = _host(tracks.scene.labels)
        texts = []
        for i in range(labels.shape[0]):
            if ann.captions == "template":
                text = template_caption(labels[i], arrays["centers"][i], arrays["velocities"][i], present[i],
                                        class_names=class_names)
            else:
                text = event_caption(labels[i], arrays["centers"][i], arrays["velocities"][i], present[i], table[i],
                                     canvas_hw=(spec.canvas.height, spec.canvas.width), class_names=class_names)
            texts.append(text)
        _store(out["captions"], encode_captions(texts, ann.caption_bytes))


def _host(value: Any) -> np.ndarray:
    """A numpy copy of a numpy array or a torch tensor (on any device)."""
    if isinstance(value, np.ndarray):
        return value
    return value.detach().cpu().numpy()


def _store(view: Any, value: np.ndarray) -> None:
    """Write a host array into an output view (a numpy array, or a torch tensor on any device)."""
    if isinstance(view, np.ndarray):
        view[...] = value
    else:
        import torch

        view.copy_(torch.from_numpy(np.ascontiguousarray(value)))
