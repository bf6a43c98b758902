"""The sections of a Spec: canvas, source, objects, motion and annotations.

The ``appearance`` and ``background`` sections are in :mod:`movingmnist.spec.appearance` and
:mod:`movingmnist.spec.background`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator

from ..errors import SpecError
from .fields import Float, FloatRange, Int, IntRange, Section, check_range, refuse_bool

#: The on/off fields of ``annotations`` (what :meth:`Spec.frames_only` switches off).
ANNOTATION_SWITCHES = (
    "semantic", "instance", "boxes", "amodal_boxes", "visibility", "tracks", "amodal_masks", "flow", "events"
)
MOTION_MODELS = ("srivastava", "reflect", "stochastic", "srvp", "free", "flip", "affine", "path")
#: The families of ``motion.model="path"``; the first ten in the order detection-moving-mnist ties them to digits
#: 0..9 (the default ``motion.path.families``), then ``linear`` (drift only).
PATH_FAMILIES = (
    "sine",
    "polynomial",
    "circle",
    "spiral",
    "figure8",
    "ellipse",
    "cubic",
    "zigzag",
    "exponential",
    "hyperbolic",
    "linear",
)
#: The motion models that accept ``motion.collisions="elastic"`` (straight lines between events).
COLLISION_MODELS = ("free", "reflect", "srvp")
COMPOSITING_MODES = ("max", "sum", "over")


class CanvasSpec(Section):
    """Frame size. ``channels``: 1 (grey) or 3 (RGB colour; see ``appearance.colour`` and ``background.colour``)."""

    height: Int = 64
    width: Int = 64
    channels: Annotated[Literal[1, 3], BeforeValidator(refuse_bool)] = 1

    @model_validator(mode="after")
    def _check(self) -> CanvasSpec:
        for name in ("height", "width"):
            value = getattr(self, name)
            if not 1 <= value <= 4096:
                raise SpecError(f"canvas.{name}", value, "an integer in [1, 4096]")
        return self


class SourceSpec(Section):
    """Where the glyphs come from.

    ``name``: ``mnist``, ``fashion-mnist``, ``kmnist``, ``glyphs``, ``idx:PATH``, ``folder:PATH`` (or ``array``
    when arrays are given from Python). ``val_size``: images carved from the end of train for ``val``
    (``None`` = one sixth of train, ``0`` = no val split, train is the whole training set).
    """

    name: str = "mnist"
    split: Literal["train", "val", "test"] = "train"
    val_size: Int | None = None

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if self.val_size is not None and self.val_size < 0:
            raise SpecError("source.val_size", self.val_size, "None (one sixth of train), 0 (no val) or a count > 0")
        if not self.name:
            raise SpecError("source.name", self.name, "a source name such as 'mnist' or 'glyphs'")
        return self


class ObjectsSpec(Section):
    """How many glyphs per sequence and at what size.

    ``count``: objects per sequence, drawn uniformly in low..high for each sequence. ``choices``: instead, a list of
    counts of which one entry is drawn uniformly, so that repeats weigh (``[2, 2, 3]``: 2 with probability 2/3, as
    ``random.choice`` of the list); ``count`` then follows as (min, max) of the list. ``size``: glyphs are resized to
    size x size pixels (bilinear) before use; ``None`` keeps the source's size (28 for MNIST).

    Lifetimes (docs/scenes.md): ``appear``: the frame each object appears at, uniform in low..high per object; its
    motion starts there (frame ``appear`` shows what frame 0 would have). ``exit``: ``never`` (present to the last
    frame, on the canvas or not), ``offscreen`` (absent while its ink box is wholly off the canvas; back, in the
    same slot, when it returns) or ``leave`` (gone for good once wholly off the canvas). ``births``: the chance per
    frame (frames 1..T-1) that a new object enters through a wall (``free`` motion without ``wrap``), at most
    ``max_births`` per sequence; born objects take the slots after the first ``count`` objects, so K, the most
    objects a sequence holds, is ``count`` high + ``max_births``.
    """

    count: IntRange = (2, 2)
    choices: tuple[Int, ...] | None = None
    size: Int | None = None
    appear: IntRange = (0, 0)
    exit: Literal["never", "offscreen", "leave"] = "never"
    births: Float = 0.0
    max_births: Int = 0

    @model_validator(mode="before")
    @classmethod
    def _count_of_choices(cls, data: Any) -> Any:
        """With ``choices``, the count range is the span of the choices (whatever ``count`` said)."""
        if isinstance(data, dict) and data.get("choices") is not None:
            choices = data["choices"]
            if isinstance(choices, (list, tuple)) and choices and all(
                isinstance(c, int) and not isinstance(c, bool) for c in choices
            ):
                data = {**data, "count": (min(choices), max(choices))}
        return data

    @model_validator(mode="after")
    def _check(self) -> ObjectsSpec:
        check_range("objects.count", self.count, 0, 255)
        if self.count[1] < 1:
            raise SpecError("objects.count", self.count, "a range whose high end is at least 1")
        if self.choices is not None:
            if not self.choices or len(self.choices) > 1024 or not all(0 <= c <= 255 for c in self.choices):
                raise SpecError("objects.choices", self.choices, "a list of 1 to 1024 counts in [0, 255]")
        if self.size is not None and not 1 <= self.size <= 1024:
            raise SpecError("objects.size", self.size, "None or an integer in [1, 1024]")
        check_range("objects.appear", self.appear, 0, 100_000)
        if not (math.isfinite(self.births) and 0.0 <= self.births <= 1.0):
            raise SpecError("objects.births", self.births, "a chance per frame in [0, 1]")
        if not 0 <= self.max_births <= 255 or self.count[1] + self.max_births > 255:
            raise SpecError("objects.max_births", self.max_births, f"an integer in [0, {255 - self.count[1]}] "
                            "(count high + max_births is at most 255)")
        if self.births > 0 and self.max_births == 0:
            raise SpecError("objects.max_births", 0, "at least 1 when objects.births > 0 (the slots births take)")
        return self

    @property
    def slots(self) -> int:
        """K: the most objects a sequence holds (the first ``count`` plus the births)."""
        return self.count[1] + self.max_births

    @property
    def has_lifetimes(self) -> bool:
        """Whether objects may be absent in some frames (late appearance, exits, births)."""
        return self.appear != (0, 0) or self.exit != "never" or self.max_births > 0


class AffineStepSpec(Section):
    """The affine motion of each glyph (``motion.model="affine"``), as ``torchvision.transforms.functional.affine``
    parameters: ``angle`` in degrees (clockwise, as torchvision's affine), ``translate`` in pixels per axis (x, y),
    ``scale`` a factor, ``shear`` an x-shear angle in degrees; every transform turns and scales about the canvas
    centre. Two rules, after the two generations of torch_moving_mnist:

    - ``rule="compose"``: one step drawn per glyph and applied t times for frame t, so rotation and scale compound
      (the later code, which re-warped the previous frame; we sample the pristine glyph once per frame instead).
    - ``rule="schedule"``: for each parameter two values drawn from its range and a linear schedule from the first
      to the second over the frames (``a + t (b - a) / (T - 1)``); frame t applies that frame's transform to the
      glyph at its placement (the code its README documents). Nothing compounds, so digits stay in view.

    ``placement``: where frame 0 puts the glyph: ``centre`` (the glyph box centred on the canvas, as padding the
    digit to the canvas does) or ``jitter`` (the centre plus a uniform offset in +-(canvas - glyph) // 2 per axis).
    Defaults are the later code's; its README uses angle -20..20, translate ((-30, 30), (-30, 30)), scale 0.8..1.3,
    shear -20..20.
    """

    angle: FloatRange = (-4.0, 4.0)
    translate: tuple[FloatRange, FloatRange] = ((-5.0, 5.0), (-5.0, 5.0))
    scale: FloatRange = (0.8, 1.2)
    shear: FloatRange = (-3.0, 3.0)
    rule: Literal["compose", "schedule"] = "compose"
    placement: Literal["jitter", "centre"] = "jitter"

    @model_validator(mode="after")
    def _check(self) -> AffineStepSpec:
        check_range("motion.affine.angle", self.angle, -360.0, 360.0)
        for axis, value in zip("xy", self.translate, strict=True):
            check_range(f"motion.affine.translate.{axis}", value, -1e4, 1e4)
        check_range("motion.affine.scale", self.scale, 1e-3, 100.0)
        check_range("motion.affine.shear", self.shear, -80.0, 80.0)
        return self


def _split_names(value: Any) -> Any:
    """Accept ``"sine,circle"`` (a command-line override) as well as a list of names."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


class PathSpec(Section):
    """Parametric paths (``motion.model="path"``; docs/scenes.md, "Paths", gives the exact rules).

    Each object follows ``centre(t) + offset(t)``: the centre starts inside the walls and drifts with the velocity
    of ``motion.speed`` / ``motion.direction``; the offset is the object's family's curve. ``families``: the
    families allowed (:data:`PATH_FAMILIES`). ``choose``: ``"object"`` draws each object's family uniformly among
    ``families``; ``"class"`` gives class c the family ``families[c % len(families)]`` (the default order ties
    digits 0..9 to the families as detection-moving-mnist does). ``amplitude`` (sine, spiral, zigzag), ``radius``
    (circle, figure8, ellipse) in pixels, ``period`` in frames (one turn; the frequency 1/period is drawn
    uniformly between 1/high and 1/low). ``walls="bounce"``: the centre bounces between the walls moved in by the
    curve's extent, so a bounded curve stays in view whole; positions still outside (unbounded curves) are folded
    back in. ``"none"``: no walls; objects may leave the canvas and come back.
    """

    families: Annotated[tuple[str, ...], BeforeValidator(_split_names)] = PATH_FAMILIES[:10]
    choose: Literal["object", "class"] = "class"
    amplitude: FloatRange = (1.0, 10.0)
    radius: FloatRange = (5.0, 15.0)
    period: FloatRange = (25.0, 125.0)
    walls: Literal["bounce", "none"] = "bounce"

    @model_validator(mode="after")
    def _check(self) -> PathSpec:
        if not 1 <= len(self.families) <= 64:
            raise SpecError("motion.path.families", self.families, "1 to 64 names of " + ", ".join(PATH_FAMILIES))
        for name in self.families:
            if name not in PATH_FAMILIES:
                raise SpecError("motion.path.families", name, "one of " + ", ".join(PATH_FAMILIES))
        check_range("motion.path.amplitude", self.amplitude, 0.0, 1e4)
        check_range("motion.path.radius", self.radius, 0.0, 1e4)
        check_range("motion.path.period", self.period, 1.0, 1e6)
        return self


class MotionSpec(Section):
    """How glyphs move (docs/presets.md gives the exact rules of each model).

    - ``srivastava``: the 2015 generator: position in units of the free range, step before recording,
      clamp-and-reverse at the walls, top-left pixel by truncation.
    - ``reflect``: exact reflection (a triangle wave in closed form), frame 0 at the start, rounding (TFDS).
    - ``stochastic``: SVG (Denton & Fergus 2018): integer start and velocity, a new random velocity at each wall
      (``deterministic=True``: the component is negated instead).
    - ``srvp``: SRVP (Franceschi et al. 2020): integer start in 0..free, exact collision times with the walls,
      a new random velocity at each collision unless ``deterministic``.
    - ``free``: straight lines, no walls; glyphs leave the canvas, and with ``wrap=True`` re-enter on the
      opposite side once fully gone.
    - ``flip``: the segmentation notebook (docs/appearance.md): start uniform over the free range, record,
      then a velocity component flips when the next position would leave ``[lo - margin, hi + margin]``;
      top-left pixel by truncation toward zero (as ``astype(int)``).
    - ``affine``: torch_moving_mnist (section 4): each glyph is placed at or around the canvas centre and moved by
      the affine transforms of ``motion.affine`` (one step compounded, or linear schedules of the parameters).
      ``boundary="bounce"`` keeps the glyph's transformed ink box on the canvas (clamp; with ``rule="compose"`` the
      step's translation component on that axis is also negated); ``"none"`` lets glyphs drift off, as the original.

    ``speed`` (polar models srivastava, reflect, free, flip): speed range, in pixels per frame or, with
    ``speed_unit="free_range"``, in units of the free range (canvas minus glyph size) per frame;
    ``integer_speed`` draws whole numbers in low..high. ``direction``: direction range in degrees (0 = +x,
    90 = +y, i.e. down). ``max_step`` (integer models stochastic, srvp): velocity components are uniform integers
    in -max_step..max_step. ``bounce_on``: the walls stop the glyph's box (``box``, the untransformed glyph frame,
    as the originals) or the ink bounding box of the transformed glyph (``ink``).

    - ``path``: parametric paths (sine, circle, spiral, figure-8, ellipse, zigzag, ...) about a drifting centre
      (``motion.path``; docs/scenes.md).

    ``collisions="elastic"`` (models free, reflect, srvp): glyphs are discs that collide elastically, exactly in
    time (docs/scenes.md, "Collisions"); ``collision_shape``: ``disc``; ``collision_radius``: the disc radius in
    pixels (``None``: half the larger side of the glyph's ink box); ``collision_mass``: ``equal`` masses or the
    ink box ``area``.
    """

    model: Literal["srivastava", "reflect", "stochastic", "srvp", "free", "flip", "affine", "path"] = "srivastava"
    speed: FloatRange = (0.1, 0.1)
    speed_unit: Literal["px", "free_range"] = "free_range"
    integer_speed: bool = False
    direction: FloatRange = (0.0, 360.0)
    max_step: Int = 4
    deterministic: bool = False
    bounce_on: Literal["box", "ink"] = "box"
    wrap: bool = False
    margin: Float = 2.0
    boundary: Literal["none", "bounce"] = "none"
    affine: AffineStepSpec = AffineStepSpec()
    directions: tuple[Float, ...] | None = None
    velocity: Literal["polar", "integer"] = "polar"
    start_overhang: Float = 0.0
    path: PathSpec = PathSpec()
    collisions: Literal["none", "elastic"] = "none"
    collision_shape: Literal["disc"] = "disc"
    collision_radius: Float | None = None
    collision_mass: Literal["equal", "area"] = "equal"

    @model_validator(mode="after")
    def _check(self) -> MotionSpec:
        check_range("motion.speed", self.speed, 0.0, 1e4)
        check_range("motion.direction", self.direction, -720.0, 720.0)
        if not 0 <= self.max_step <= 1000:
            raise SpecError("motion.max_step", self.max_step, "an integer in [0, 1000]")
        if not (math.isfinite(self.margin) and 0.0 <= self.margin <= 1e4):
            raise SpecError("motion.margin", self.margin, "a number of pixels in [0, 10000]")
        if self.directions is not None and (
            not 1 <= len(self.directions) <= 360
            or not all(math.isfinite(d) and -720 <= d <= 720 for d in self.directions)
        ):
            raise SpecError("motion.directions", self.directions, "None or a list of 1 to 360 angles in [-720, 720]")
        if not (math.isfinite(self.start_overhang) and 0.0 <= self.start_overhang <= 1e4):
            raise SpecError("motion.start_overhang", self.start_overhang, "a number of pixels in [0, 10000]")
        if self.model != "free" and (self.velocity != "polar" or self.start_overhang):
            field = "motion.velocity" if self.velocity != "polar" else "motion.start_overhang"
            value = self.velocity if self.velocity != "polar" else self.start_overhang
            raise SpecError(field, value, f"its default with motion.model={self.model!r} (it applies to 'free')")
        if self.collisions != "none":
            if self.model not in COLLISION_MODELS:
                raise SpecError(
                    "motion.collisions",
                    self.collisions,
                    f"'none' with motion.model={self.model!r}; 'elastic' with motion.model in "
                    + ", ".join(COLLISION_MODELS),
                )
            if self.wrap:
                raise SpecError("motion.wrap", self.wrap, "false with motion.collisions='elastic'")
        radius = self.collision_radius
        if radius is not None and not (math.isfinite(radius) and 0.0 <= radius <= 1e4):
            raise SpecError("motion.collision_radius", radius, "None (from the ink box) or pixels in [0, 10000]")
        return self


class AnnotationsSpec(Section):
    """Which ground truth to produce (labels, present and glyph_index are always produced).

    ``tracks``: centers, velocities, angles, scales, brightness, depth. ``ignore_label``: semantic value of
    pixels no object owns. ``mask_threshold``: a pixel belongs to an object where the object's rendered intensity
    is above this value. Optional and off by default: ``amodal_masks`` (per-object masks ignoring occlusion,
    (T, K, H, W) bool) and ``flow`` (dense forward optical flow (T-1, H, W, 2) float16, analytic from the motion of
    the object, distractor or background pan seen at each pixel). ``events``: the table of enters, exits, wall
    contacts, occlusions and collisions (``(max_events, 4)`` int32, docs/scenes.md). ``captions``: a text per
    sequence, ``template`` ("digit 6 is moving up and down and ...") or ``events`` (a description of what happens),
    stored as ``caption_bytes`` bytes of zero-padded UTF-8.
    """

    semantic: bool = True
    instance: bool = True
    boxes: bool = True
    amodal_boxes: bool = True
    visibility: bool = True
    tracks: bool = True
    ignore_label: Int = 255
    mask_threshold: Int = 0
    amodal_masks: bool = False
    flow: bool = False
    events: bool = False
    max_events: Int = 64
    captions: Literal["none", "template", "events"] = "none"
    caption_bytes: Int = 256

    @model_validator(mode="after")
    def _check(self) -> AnnotationsSpec:
        if not 1 <= self.max_events <= 65_536:
            raise SpecError("annotations.max_events", self.max_events, "an integer in [1, 65536]")
        if not 16 <= self.caption_bytes <= 65_536:
            raise SpecError("annotations.caption_bytes", self.caption_bytes, "an integer in [16, 65536]")
        if not 0 <= self.ignore_label <= 255:
            raise SpecError("annotations.ignore_label", self.ignore_label, "an integer in [0, 255]")
        if not 0 <= self.mask_threshold <= 254:
            raise SpecError("annotations.mask_threshold", self.mask_threshold, "an integer in [0, 254]")
        return self

    @property
    def needs_ownership(self) -> bool:
        """Whether per-pixel ownership (the instance map) must be computed, output or not."""
        return self.semantic or self.instance or self.boxes or self.visibility or self.flow
