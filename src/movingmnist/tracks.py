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

from .latents import appearance as app
from .latents import motion
from .latents import xp as _xp
from .latents.appearance import Appearance
from .latents.scene import GlyphSet, Scene, sample_scene
from .spec import Spec


@dataclass(frozen=True)
class Tracks:
    """Where every object of a batch is drawn in each frame, batch-first.

    Attributes:
        scene: the objects: ``index (B,)``, ``present (B, K)``, ``glyph_index (B, K)`` (-1 absent),
            ``labels (B, K)`` (-1 absent).
        topleft: ``(B, T1, K, 2)`` int64 top-left (x, y) of each glyph box, for translation-only specs (else None).
        matrix: ``(B, T1, K, 2, 3)`` float64 forward poses, for the general path (else None).
        appearance: the schedules (``angle``, ``scale``, ``shear``, ``brightness`` ``(B, T1, K)``, ``colour``
            ``(B, K, 3)``) on the general path (else None).
        glyph_hw: (h, w) of the glyph box.

    T1 is the number of frames simulated: T, or T + 1 when velocities are annotated (the velocity of the last frame
    needs the next position).
    """

    scene: Scene
    topleft: Any | None
    matrix: Any | None
    appearance: Appearance | None
    glyph_hw: tuple[int, int]

    @property
    def present(self) -> Any:
        return self.scene.present

    def rows(self, start: int, stop: int) -> Tracks:
        """The tracks of sequences ``start .. stop - 1`` of this batch (views, no copies)."""
        scene = self.scene
        look = self.appearance
        return Tracks(
            scene=Scene(
                index=scene.index[start:stop],
                count=scene.count[start:stop],
                present=scene.present[start:stop],
                glyph_index=scene.glyph_index[start:stop],
                labels=scene.labels[start:stop],
            ),
            topleft=None if self.topleft is None else self.topleft[start:stop],
            matrix=None if self.matrix is None else self.matrix[start:stop],
            appearance=None if look is None else Appearance(
                angle=look.angle[start:stop],
                scale=look.scale[start:stop],
                shear=look.shear[start:stop],
                brightness=look.brightness[start:stop],
                colour=look.colour[start:stop],
            ),
            glyph_hw=self.glyph_hw,
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
    ink_box = _xp.on_device(xp, glyphs.ink_box, dev)[scene.safe_glyph_index]  # (B, K, 4)
    inputs = {"labels": scene.labels, "active": scene.present, "ink_box": ink_box}  # path classes, collision discs
    glyph_hw = glyphs.glyph_hw
    canvas_hw = (spec.canvas.height, spec.canvas.width)
    if not general:
        walls = _walls(spec, scene, ink_box, None, glyph_hw)
        topleft = motion.simulate(spec.motion, seed, scene.index, num_frames, walls, **inputs)
        return Tracks(scene=scene, topleft=topleft, matrix=None, appearance=None, glyph_hw=glyph_hw)
    look = app.sample_appearance(spec, seed, scene.index, scene.labels, num_frames)
    linear = app.linear_part(look.angle, look.scale, look.shear)  # (B, T1, K, 2, 2)
    if spec.motion.model == "affine":
        frame = app.AffineFrame(glyph_hw=glyph_hw, canvas_hw=canvas_hw, ink_box=ink_box)
        matrix = app.affine_poses(spec, seed, scene.index, linear, num_frames, frame)
    else:
        walls = _walls(spec, scene, ink_box, linear, glyph_hw)
        topleft = motion.simulate(
            spec.motion, seed, scene.index, num_frames, walls, subpixel=spec.appearance.subpixel, **inputs
        )
        matrix = app.place(linear, topleft, glyph_hw)
    return Tracks(scene=scene, topleft=None, matrix=matrix, appearance=look, glyph_hw=glyph_hw)


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
    present = tracks.present
    k = present.shape[1]
    absent = ~present[:, None, :]  # (B, 1, K)
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
    order = xp.reshape(xp.astype(xp.arange(k, device=dev), xp.int8), (1, 1, k))
    shape = (absent.shape[0], t, k)
    return {
        "centers": xp.where(absent[..., None], nan, centers[:, :t]),
        "velocities": xp.where(absent[..., None], nan, velocities),
        "angles": xp.broadcast_to(xp.where(absent, nan, angles), shape),
        "scales": xp.broadcast_to(xp.where(absent, nan, scales), shape),
        "brightness": xp.broadcast_to(xp.where(absent, nan, brightness), shape),
        "depth": xp.broadcast_to(xp.where(absent, xp.asarray(-1, dtype=xp.int8, device=dev), order), shape),
    }


def write_tracks(tracks: Tracks, spec: Spec, out: Mapping[str, Any]) -> None:
    """Write what every renderer shares into the output views ``out`` (numpy arrays or torch tensors with a leading
    ``B`` axis): ``index``, ``labels``, ``present``, ``glyph_index`` and, when the spec annotates tracks, the arrays
    of :func:`track_annotations`."""
    scene = tracks.scene
    out["index"][...] = scene.index
    out["labels"][...] = scene.labels
    out["present"][...] = scene.present
    out["glyph_index"][...] = scene.glyph_index
    if spec.annotations.tracks:
        arrays = track_annotations(tracks, spec.frames, affine=spec.motion.model == "affine")
        for name, value in arrays.items():
            out[name][...] = value
