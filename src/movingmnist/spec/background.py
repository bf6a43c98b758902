"""The ``background`` section of a Spec: what lies behind the glyphs (levels, noise, images, static shapes, panning)
and the moving distractor shapes."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import model_validator

from ..errors import SpecError
from .fields import Float, FloatRange, Int, IntRange, Section, check_range

SHAPE_KINDS = ("rectangle", "ellipse", "circle", "triangle")


class ShapesSpec(Section):
    """Static random shapes painted on the background canvas (before panning), overlapping allowed.

    ``count``: shapes per sequence (low..high). ``size``: width and height of each shape's box in pixels, drawn
    independently (circles: one draw). ``kinds``: which shapes to draw (uniformly). ``intensity``: grey level
    range (with ``background.colour``: each channel drawn in this range).

    ``placement``: ``uniform`` draws each box's size in ``size`` and its top-left uniformly where it fits;
    ``skimage`` follows ``skimage.draw.random_shapes`` (as the segmentation notebook called it, overlap allowed):
    a start point uniform in ``0 .. canvas - size.low - 1`` per axis, then a size that depends on the room left
    there, with ``size`` as (min_size, max_size): rectangles grow right and down from the point, circles and
    ellipses are centred on it (their radii bounded by the distance to every edge, the point redrawn on the
    canvas's first row or column where they cannot fit), equilateral-ish triangles stand on a base starting at the
    point with their apex above it (docs/appearance.md gives the distributions).
    """

    count: IntRange = (0, 0)
    size: IntRange = (4, 24)
    kinds: tuple[Literal["rectangle", "ellipse", "circle", "triangle"], ...] = ("rectangle", "ellipse", "triangle")
    intensity: IntRange = (0, 254)
    placement: Literal["uniform", "skimage"] = "uniform"

    @model_validator(mode="after")
    def _check(self) -> ShapesSpec:
        check_range("background.shapes.count", self.count, 0, 255)
        check_range("background.shapes.size", self.size, 1, 4096)
        check_range("background.shapes.intensity", self.intensity, 0, 255)
        if not self.kinds:
            raise SpecError("background.shapes.kinds", self.kinds, f"a non-empty list of {', '.join(SHAPE_KINDS)}")
        return self


class DistractorsSpec(Section):
    """Moving distractor shapes: solid shapes bouncing inside the canvas (exact reflection) that are never part of
    object masks. ``occlude``: drawn above the glyphs (they hide glyph pixels, and those pixels leave the masks);
    otherwise part of the background. ``speed`` in pixels per frame, direction uniform."""

    count: IntRange = (0, 0)
    size: IntRange = (6, 14)
    kinds: tuple[Literal["rectangle", "ellipse", "circle", "triangle"], ...] = ("rectangle", "ellipse", "triangle")
    intensity: IntRange = (64, 255)
    speed: FloatRange = (1.0, 3.0)
    occlude: bool = True

    @model_validator(mode="after")
    def _check(self) -> DistractorsSpec:
        check_range("background.distractors.count", self.count, 0, 255)
        check_range("background.distractors.size", self.size, 1, 4096)
        check_range("background.distractors.intensity", self.intensity, 1, 255)
        check_range("background.distractors.speed", self.speed, 0.0, 1e4)
        if not self.kinds:
            raise SpecError("background.distractors.kinds", self.kinds, f"a non-empty list of {', '.join(SHAPE_KINDS)}")
        return self


class NoiseSpec(Section):
    """Gaussian noise N(mean, std) per pixel, clipped to [0, 255]; ``dynamic``: redrawn each frame, else drawn once
    per sequence on the background canvas (and panned with it). ``wrap``: instead of clipping, truncate toward zero
    and take the value modulo 256, as the segmentation notebook's ``astype(np.uint8)`` did (a defect the presets
    fix; for comparisons with that notebook)."""

    mean: Float = 127.0
    std: Float = 127.0
    dynamic: bool = True
    wrap: bool = False

    @model_validator(mode="after")
    def _check(self) -> NoiseSpec:
        if not (math.isfinite(self.mean) and -1e4 <= self.mean <= 1e4):
            raise SpecError("background.noise.mean", self.mean, "a finite grey level")
        if not (math.isfinite(self.std) and 0.0 <= self.std <= 1e4):
            raise SpecError("background.noise.std", self.std, "a finite standard deviation >= 0")
        return self


class BackgroundSpec(Section):
    """What lies behind the glyphs; never part of object masks.

    ``kind``: ``none`` (0), ``constant`` (a level ~ U{level} per sequence), ``noise`` (``noise``), ``image``
    (a random crop of a random image from ``image_folder``, resized so that its shorter side is twice the
    background canvas). ``shapes``: static random shapes painted over the base. The background canvas is
    ``extent`` pixels larger than the frame on each axis; the view starts at an offset U{0..extent // 2 - 1} per
    axis and, before each frame, moves by U{pan} pixels per axis if it stays inside (the segmentation notebook's
    rule). Dynamic noise is drawn in view coordinates. ``distractors``: moving shapes (above or below the glyphs).
    ``colour`` (needs ``canvas.channels=3``): levels, noise and shapes drawn per channel, else grey.
    """

    kind: Literal["none", "constant", "noise", "image"] = "none"
    level: IntRange = (0, 0)
    noise: NoiseSpec = NoiseSpec()
    image_folder: str | None = None
    extent: Int = 0
    pan: IntRange = (0, 0)
    colour: bool = False
    shapes: ShapesSpec = ShapesSpec()
    distractors: DistractorsSpec = DistractorsSpec()

    @model_validator(mode="after")
    def _check(self) -> BackgroundSpec:
        check_range("background.level", self.level, 0, 255)
        if not 0 <= self.extent <= 4096:
            raise SpecError("background.extent", self.extent, "an integer number of pixels in [0, 4096]")
        check_range("background.pan", self.pan, 0, 4096)
        if self.kind == "image" and not self.image_folder:
            raise SpecError("background.image_folder", self.image_folder, "a folder of images for kind='image'")
        return self

    @property
    def is_empty(self) -> bool:
        return self.kind == "none" and self.shapes.count[1] == 0 and self.distractors.count[1] == 0
