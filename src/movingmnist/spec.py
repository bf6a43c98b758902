"""The Spec: one frozen, validated, serialisable description of a dataset.

A Spec says *what* to generate; a seed and an index range say *which* sequences. Build one from a preset name plus
dotted overrides, from a YAML/JSON file, or from keyword arguments::

    spec = Spec.from_preset("srivastava", {"objects.count": "1..3", "frames": 30})
    spec = Spec.from_file("my_spec.yaml")
    spec = spec.replace({"motion.speed": "2..6"})

Every error names the field, the value and what is allowed (:class:`movingmnist.errors.SpecError`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from .errors import SpecError

#: The on/off fields of ``annotations`` (what :meth:`Spec.frames_only` switches off).
ANNOTATION_SWITCHES = ("semantic", "instance", "boxes", "amodal_boxes", "visibility", "tracks", "amodal_masks", "flow")
MOTION_MODELS = ("srivastava", "reflect", "stochastic", "srvp", "free", "flip", "affine")
COMPOSITING_MODES = ("max", "sum", "over")


def _parse_range(value: Any) -> Any:
    """Accept ``3``, ``"3"``, ``"2..6"``, ``"2,6"``, ``[2, 6]`` or ``(2, 6)`` for a (low, high) range."""
    if isinstance(value, str):
        text = value.strip()
        for sep in ("..", ","):
            if sep in text:
                low, high = text.split(sep, 1)
                return [low.strip(), high.strip()]
        return [text, text]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value, value]
    if isinstance(value, Mapping) and set(value) == {"low", "high"}:
        return [value["low"], value["high"]]
    return value


IntRange = Annotated[tuple[int, int], BeforeValidator(_parse_range)]
FloatRange = Annotated[tuple[float, float], BeforeValidator(_parse_range)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def _check_range(field: str, value: tuple[float, float], low: float | None = None, high: float | None = None):
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise SpecError(field, value, "finite numbers")
    if lo > hi:
        raise SpecError(field, value, "a range low..high with low <= high")
    if low is not None and lo < low:
        raise SpecError(field, value, f"values >= {low}")
    if high is not None and hi > high:
        raise SpecError(field, value, f"values <= {high}")


class CanvasSpec(_Section):
    """Frame size. ``channels``: 1 (grey) or 3 (RGB colour; see ``appearance.colour`` and ``background.colour``)."""

    height: int = 64
    width: int = 64
    channels: Literal[1, 3] = 1

    @model_validator(mode="after")
    def _check(self) -> CanvasSpec:
        for name in ("height", "width"):
            value = getattr(self, name)
            if not 1 <= value <= 4096:
                raise SpecError(f"canvas.{name}", value, "an integer in [1, 4096]")
        return self


class SourceSpec(_Section):
    """Where the glyphs come from.

    ``name``: ``mnist``, ``fashion-mnist``, ``kmnist``, ``glyphs``, ``idx:PATH``, ``folder:PATH`` (or ``array``
    when arrays are given from Python). ``val_size``: images carved from the end of train for ``val``
    (``None`` = one sixth of train, ``0`` = no val split, train is the whole training set).
    """

    name: str = "mnist"
    split: Literal["train", "val", "test"] = "train"
    val_size: int | None = None

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if self.val_size is not None and self.val_size < 0:
            raise SpecError("source.val_size", self.val_size, "None (one sixth of train), 0 (no val) or a count > 0")
        if not self.name:
            raise SpecError("source.name", self.name, "a source name such as 'mnist' or 'glyphs'")
        return self


class ObjectsSpec(_Section):
    """How many glyphs per sequence and at what size.

    ``count``: objects per sequence, drawn uniformly in low..high for each sequence. ``size``: glyphs are resized
    to size x size pixels (bilinear) before use; ``None`` keeps the source's size (28 for MNIST).
    """

    count: IntRange = (2, 2)
    size: int | None = None

    @model_validator(mode="after")
    def _check(self) -> ObjectsSpec:
        _check_range("objects.count", self.count, 0, 255)
        if self.count[1] < 1:
            raise SpecError("objects.count", self.count, "a range whose high end is at least 1")
        if self.size is not None and not 1 <= self.size <= 1024:
            raise SpecError("objects.size", self.size, "None or an integer in [1, 1024]")
        return self


class AffineStepSpec(_Section):
    """One affine step per glyph, drawn once and applied t times for frame t (``motion.model="affine"``).

    Parameters follow ``torchvision.transforms.functional.affine``: ``angle`` in degrees (clockwise, as torchvision's
    affine), ``translate`` in pixels per axis (x, y), ``scale`` a factor, ``shear`` an x-shear angle in degrees. The
    step turns and scales about the canvas centre, so rotation and scale compound (torch_moving_mnist).
    Defaults are torch_moving_mnist's defaults; its README uses angle -20..20, translate ((-30, 30), (-30, 30)),
    scale 0.8..1.3, shear -20..20 (the ``affine`` preset).
    """

    angle: FloatRange = (-4.0, 4.0)
    translate: tuple[FloatRange, FloatRange] = ((-5.0, 5.0), (-5.0, 5.0))
    scale: FloatRange = (0.8, 1.2)
    shear: FloatRange = (-3.0, 3.0)

    @model_validator(mode="after")
    def _check(self) -> AffineStepSpec:
        _check_range("motion.affine.angle", self.angle, -360.0, 360.0)
        for axis, value in zip("xy", self.translate, strict=True):
            _check_range(f"motion.affine.translate.{axis}", value, -1e4, 1e4)
        _check_range("motion.affine.scale", self.scale, 1e-3, 100.0)
        _check_range("motion.affine.shear", self.shear, -80.0, 80.0)
        return self


class MotionSpec(_Section):
    """How glyphs move (PROTOCOLS.md gives the exact rules of each model).

    - ``srivastava``: the 2015 generator: position in units of the free range, step before recording,
      clamp-and-reverse at the walls, top-left pixel by truncation.
    - ``reflect``: exact reflection (a triangle wave in closed form), frame 0 at the start, rounding (TFDS).
    - ``stochastic``: SVG (Denton & Fergus 2018): integer start and velocity, a new random velocity at each wall
      (``deterministic=True``: the component is negated instead).
    - ``srvp``: SRVP (Franceschi et al. 2020): integer start in 0..free, exact collision times with the walls,
      a new random velocity at each collision unless ``deterministic``.
    - ``free``: straight lines, no walls; glyphs leave the canvas, and with ``wrap=True`` re-enter on the
      opposite side once fully gone.
    - ``flip``: the segmentation notebook (PROTOCOLS.md section 3): start uniform over the free range, record,
      then a velocity component flips when the next position would leave ``[lo - margin, hi + margin]``;
      top-left pixel by truncation toward zero (as ``astype(int)``).
    - ``affine``: torch_moving_mnist (section 4): each glyph is placed around the canvas centre (offset uniform in
      +-(canvas - glyph) // 2 per axis) and one affine step (``motion.affine``) is applied t times for frame t.
      ``boundary="bounce"`` keeps the glyph's transformed ink box on the canvas (clamp, and the step's translation
      component on that axis is negated); ``"none"`` lets glyphs drift off, as the original.

    ``speed`` (polar models srivastava, reflect, free, flip): speed range, in pixels per frame or, with
    ``speed_unit="free_range"``, in units of the free range (canvas minus glyph size) per frame;
    ``integer_speed`` draws whole numbers in low..high. ``direction``: direction range in degrees (0 = +x,
    90 = +y, i.e. down). ``max_step`` (integer models stochastic, srvp): velocity components are uniform integers
    in -max_step..max_step. ``bounce_on``: the walls stop the glyph's box (``box``, the untransformed glyph frame,
    as the originals) or the ink bounding box of the transformed glyph (``ink``).
    """

    model: Literal["srivastava", "reflect", "stochastic", "srvp", "free", "flip", "affine"] = "srivastava"
    speed: FloatRange = (0.1, 0.1)
    speed_unit: Literal["px", "free_range"] = "free_range"
    integer_speed: bool = False
    direction: FloatRange = (0.0, 360.0)
    max_step: int = 4
    deterministic: bool = False
    bounce_on: Literal["box", "ink"] = "box"
    wrap: bool = False
    margin: float = 2.0
    boundary: Literal["none", "bounce"] = "none"
    affine: AffineStepSpec = AffineStepSpec()

    @model_validator(mode="after")
    def _check(self) -> MotionSpec:
        _check_range("motion.speed", self.speed, 0.0, 1e4)
        _check_range("motion.direction", self.direction, -720.0, 720.0)
        if not 0 <= self.max_step <= 1000:
            raise SpecError("motion.max_step", self.max_step, "an integer in [0, 1000]")
        if not (math.isfinite(self.margin) and 0.0 <= self.margin <= 1e4):
            raise SpecError("motion.margin", self.margin, "a number of pixels in [0, 10000]")
        return self


class RotationSpec(_Section):
    """Per-object rotation about the glyph centre: angle(t) = start + velocity * t, degrees, counter-clockwise on
    screen (as PIL's ``Image.rotate``).

    ``angle``: start angle range; ``velocity``: angular velocity range (degrees per frame); ``integer``: draw whole
    degrees uniformly in low..high (the segmentation notebook's U{0..359} and U{0..9}); ``hint``: the velocity is
    ``hint_scale * label`` instead of a draw (the notebook's "rotation hint": the speed of rotation tells the class).
    """

    angle: FloatRange = (0.0, 0.0)
    velocity: FloatRange = (0.0, 0.0)
    integer: bool = False
    hint: bool = False
    hint_scale: float = 2.0

    @model_validator(mode="after")
    def _check(self) -> RotationSpec:
        _check_range("appearance.rotation.angle", self.angle, -3600.0, 3600.0)
        _check_range("appearance.rotation.velocity", self.velocity, -3600.0, 3600.0)
        if not (math.isfinite(self.hint_scale) and abs(self.hint_scale) <= 3600.0):
            raise SpecError("appearance.rotation.hint_scale", self.hint_scale, "a finite number in [-3600, 3600]")
        return self

    @property
    def is_identity(self) -> bool:
        return self.angle == (0.0, 0.0) and self.velocity == (0.0, 0.0) and not self.hint


class ScaleSpec(_Section):
    """Per-object scale about the glyph centre.

    ``constant``: s ~ U(start). ``ramp``: linear from s0 ~ U(start) at frame 0 to s1 ~ U(end) at the last frame.
    ``oscillate``: between s0 ~ U(start) and s1 ~ U(end) as s0 + (s1 - s0) (1 - cos(2 pi (t / P + phase))) / 2 with
    period P ~ U(period) frames and phase 0 (``random_phase``: U[0, 1)).
    """

    mode: Literal["constant", "ramp", "oscillate"] = "constant"
    start: FloatRange = (1.0, 1.0)
    end: FloatRange = (1.0, 1.0)
    period: FloatRange = (20.0, 20.0)
    random_phase: bool = False

    @model_validator(mode="after")
    def _check(self) -> ScaleSpec:
        _check_range("appearance.scale.start", self.start, 1e-3, 100.0)
        _check_range("appearance.scale.end", self.end, 1e-3, 100.0)
        _check_range("appearance.scale.period", self.period, 1e-3, 1e6)
        return self

    @property
    def is_identity(self) -> bool:
        return self.start == (1.0, 1.0) and (self.mode == "constant" or self.end == (1.0, 1.0))


class BrightnessSpec(_Section):
    """Per-object brightness factor b(t): rendered intensity = glyph * b, rounded, values above 255 saturate.

    ``constant``: b ~ U(start). ``ramp``: linear from b0 ~ U(start) at frame 0 to b1 ~ U(end) at the last frame.
    ``flicker``: b0 + (b1 - b0) (1 - cos(2 pi (rate t + phase))) / 2, rate ~ U(rate) cycles per frame, phase
    ~ U[0, 1). ``blink``: b0 while frac(rate t + phase) < duty, else b1 (``end`` = 0 blinks off).
    """

    mode: Literal["constant", "ramp", "flicker", "blink"] = "constant"
    start: FloatRange = (1.0, 1.0)
    end: FloatRange = (1.0, 1.0)
    rate: FloatRange = (0.1, 0.1)
    duty: float = 0.5

    @model_validator(mode="after")
    def _check(self) -> BrightnessSpec:
        _check_range("appearance.brightness.start", self.start, 0.0, 255.0)
        _check_range("appearance.brightness.end", self.end, 0.0, 255.0)
        _check_range("appearance.brightness.rate", self.rate, 0.0, 1e3)
        if not (math.isfinite(self.duty) and 0.0 <= self.duty <= 1.0):
            raise SpecError("appearance.brightness.duty", self.duty, "a fraction in [0, 1]")
        return self

    @property
    def is_identity(self) -> bool:
        return self.start == (1.0, 1.0) and (self.mode == "constant" or self.end == (1.0, 1.0))


class ColourSpec(_Section):
    """Per-object colour (needs ``canvas.channels=3``): ``white``; ``hue``: a random hue with saturation ~
    U(saturation) and value ~ U(value) (HSV); ``palette``: one of the RGB triples of ``palette`` (0..255)."""

    mode: Literal["white", "hue", "palette"] = "white"
    saturation: FloatRange = (1.0, 1.0)
    value: FloatRange = (1.0, 1.0)
    palette: tuple[tuple[int, int, int], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> ColourSpec:
        _check_range("appearance.colour.saturation", self.saturation, 0.0, 1.0)
        _check_range("appearance.colour.value", self.value, 0.0, 1.0)
        if self.mode == "palette" and not self.palette:
            raise SpecError("appearance.colour.palette", self.palette, "a non-empty list of [r, g, b] triples")
        for rgb in self.palette:
            if not all(0 <= c <= 255 for c in rgb):
                raise SpecError("appearance.colour.palette", rgb, "[r, g, b] triples of integers in [0, 255]")
        return self


class AppearanceSpec(_Section):
    """How each glyph looks in each frame: rotation, scale, shear (an x-shear angle in degrees, constant per
    object, as torchvision's affine), brightness, colour.

    Each frame samples the pristine glyph once through the composed transform (never the previous frame).
    ``interpolation``: ``bilinear`` or ``nearest`` sampling of transformed glyphs. ``subpixel``: keep fractional
    positions from the motion model (sampled with the interpolation) instead of rounding them to whole pixels.
    """

    rotation: RotationSpec = RotationSpec()
    scale: ScaleSpec = ScaleSpec()
    shear: FloatRange = (0.0, 0.0)
    brightness: BrightnessSpec = BrightnessSpec()
    colour: ColourSpec = ColourSpec()
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    subpixel: bool = False

    @model_validator(mode="after")
    def _check(self) -> AppearanceSpec:
        _check_range("appearance.shear", self.shear, -80.0, 80.0)
        return self

    @property
    def is_identity(self) -> bool:
        """True when glyphs are drawn as they are: integer translation only, full brightness, white."""
        return (
            self.rotation.is_identity
            and self.scale.is_identity
            and self.shear == (0.0, 0.0)
            and self.brightness.is_identity
            and self.colour.mode == "white"
            and not self.subpixel
        )


SHAPE_KINDS = ("rectangle", "ellipse", "circle", "triangle")


class ShapesSpec(_Section):
    """Static random shapes painted on the background canvas (before panning), overlapping allowed.

    ``count``: shapes per sequence (low..high). ``size``: width and height of each shape's box in pixels, drawn
    independently (circles: one draw). ``kinds``: which shapes to draw (uniformly). ``intensity``: grey level
    range (with ``background.colour``: each channel drawn in this range).
    """

    count: IntRange = (0, 0)
    size: IntRange = (4, 24)
    kinds: tuple[Literal["rectangle", "ellipse", "circle", "triangle"], ...] = ("rectangle", "ellipse", "triangle")
    intensity: IntRange = (0, 254)

    @model_validator(mode="after")
    def _check(self) -> ShapesSpec:
        _check_range("background.shapes.count", self.count, 0, 255)
        _check_range("background.shapes.size", self.size, 1, 4096)
        _check_range("background.shapes.intensity", self.intensity, 0, 255)
        if not self.kinds:
            raise SpecError("background.shapes.kinds", self.kinds, f"a non-empty list of {', '.join(SHAPE_KINDS)}")
        return self


class DistractorsSpec(_Section):
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
        _check_range("background.distractors.count", self.count, 0, 255)
        _check_range("background.distractors.size", self.size, 1, 4096)
        _check_range("background.distractors.intensity", self.intensity, 1, 255)
        _check_range("background.distractors.speed", self.speed, 0.0, 1e4)
        if not self.kinds:
            raise SpecError(
                "background.distractors.kinds", self.kinds, f"a non-empty list of {', '.join(SHAPE_KINDS)}"
            )
        return self


class NoiseSpec(_Section):
    """Gaussian noise N(mean, std) per pixel, clipped to [0, 255] (never wrapped); ``dynamic``: redrawn each
    frame, else drawn once per sequence on the background canvas (and panned with it)."""

    mean: float = 127.0
    std: float = 127.0
    dynamic: bool = True

    @model_validator(mode="after")
    def _check(self) -> NoiseSpec:
        if not (math.isfinite(self.mean) and -1e4 <= self.mean <= 1e4):
            raise SpecError("background.noise.mean", self.mean, "a finite grey level")
        if not (math.isfinite(self.std) and 0.0 <= self.std <= 1e4):
            raise SpecError("background.noise.std", self.std, "a finite standard deviation >= 0")
        return self


class BackgroundSpec(_Section):
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
    extent: int = 0
    pan: IntRange = (0, 0)
    colour: bool = False
    shapes: ShapesSpec = ShapesSpec()
    distractors: DistractorsSpec = DistractorsSpec()

    @model_validator(mode="after")
    def _check(self) -> BackgroundSpec:
        _check_range("background.level", self.level, 0, 255)
        if not 0 <= self.extent <= 4096:
            raise SpecError("background.extent", self.extent, "an integer number of pixels in [0, 4096]")
        _check_range("background.pan", self.pan, 0, 4096)
        if self.kind == "image" and not self.image_folder:
            raise SpecError("background.image_folder", self.image_folder, "a folder of images for kind='image'")
        return self

    @property
    def is_empty(self) -> bool:
        return self.kind == "none" and self.shapes.count[1] == 0 and self.distractors.count[1] == 0


class AnnotationsSpec(_Section):
    """Which ground truth to produce (labels, present and glyph_index are always produced).

    ``tracks``: centers, velocities, angles, scales, brightness, depth. ``ignore_label``: semantic value of
    pixels no object owns. ``mask_threshold``: a pixel belongs to an object where the object's rendered intensity
    is above this value. Optional and off by default: ``amodal_masks`` (per-object masks ignoring occlusion,
    (T, K, H, W) bool) and ``flow`` (dense forward optical flow (T-1, H, W, 2) float16, analytic from the motion of
    the object, distractor or background pan seen at each pixel).
    """

    semantic: bool = True
    instance: bool = True
    boxes: bool = True
    amodal_boxes: bool = True
    visibility: bool = True
    tracks: bool = True
    ignore_label: int = 255
    mask_threshold: int = 0
    amodal_masks: bool = False
    flow: bool = False

    @model_validator(mode="after")
    def _check(self) -> AnnotationsSpec:
        if not 0 <= self.ignore_label <= 255:
            raise SpecError("annotations.ignore_label", self.ignore_label, "an integer in [0, 255]")
        if not 0 <= self.mask_threshold <= 254:
            raise SpecError("annotations.mask_threshold", self.mask_threshold, "an integer in [0, 254]")
        return self

    @property
    def needs_ownership(self) -> bool:
        """Whether per-pixel ownership (the instance map) must be computed, output or not."""
        return self.semantic or self.instance or self.boxes or self.visibility or self.flow


class Spec(_Section):
    """Everything that determines a dataset's content, apart from the seed and the index range.

    ``preset`` records which named recipe (``name@version``) the spec started from; it is provenance only and is
    not part of :attr:`fingerprint`.
    """

    preset: str | None = None
    canvas: CanvasSpec = CanvasSpec()
    frames: int = 20
    objects: ObjectsSpec = ObjectsSpec()
    source: SourceSpec = SourceSpec()
    motion: MotionSpec = MotionSpec()
    compositing: Literal["max", "sum", "over"] = "max"
    appearance: AppearanceSpec = AppearanceSpec()
    background: BackgroundSpec = BackgroundSpec()
    annotations: AnnotationsSpec = AnnotationsSpec()

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _spec_error(exc, data) from None

    @model_validator(mode="after")
    def _check(self) -> Spec:
        if not 1 <= self.frames <= 100_000:
            raise SpecError("frames", self.frames, "an integer in [1, 100000]")
        size = self.objects.size
        if size is not None and (size > self.canvas.height or size > self.canvas.width):
            raise SpecError(
                "objects.size",
                size,
                f"at most the canvas size {self.canvas.height}x{self.canvas.width} "
                "(glyphs must fit on the canvas)",
            )
        if self.canvas.channels == 1:
            if self.appearance.colour.mode != "white":
                raise SpecError(
                    "appearance.colour.mode",
                    self.appearance.colour.mode,
                    "'white' when canvas.channels=1 (set canvas.channels=3 for coloured objects)",
                )
            if self.background.colour:
                raise SpecError(
                    "background.colour", True, "false when canvas.channels=1 (set canvas.channels=3 for colour)"
                )
        for name, where in (("shapes", "background canvas"), ("distractors", "canvas")):
            shapes = getattr(self.background, name)
            if shapes.count[1] == 0:
                continue  # unused: its size does not matter
            size = shapes.size
            limit = min(self.canvas.height, self.canvas.width) + (self.background.extent if name == "shapes" else 0)
            if size[1] > limit:
                raise SpecError(f"background.{name}.size", size, f"sizes of at most {limit} pixels (the {where})")
        return self

    @property
    def general_renderer(self) -> bool:
        """Whether this spec needs the general (affine, background, colour) renderer; the translation-only
        renderer draws everything else, byte for byte as before."""
        ann = self.annotations
        return (
            not self.appearance.is_identity
            or self.canvas.channels != 1
            or not self.background.is_empty
            or self.motion.model == "affine"
            or ann.amodal_masks
            or ann.flow
        )

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spec:
        """Validate a nested mapping; errors name the dotted field, the value and what is allowed."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise _spec_error(exc, data) from None

    @classmethod
    def from_preset(cls, name: str, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> Spec:
        """A preset (``"srivastava"`` or ``"srivastava@1"``) with dotted overrides applied."""
        from .presets import get_preset

        return get_preset(name).spec().replace(overrides)

    @classmethod
    def from_file(cls, path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> Spec:
        """A spec from a YAML or JSON file; a top-level ``preset: name`` key starts from that preset."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise SpecError("config", str(path), "a readable YAML or JSON file", str(exc)) from None
        except yaml.YAMLError as exc:
            raise SpecError("config", str(path), "valid YAML or JSON", str(exc).splitlines()[0]) from None
        if not isinstance(data, dict):
            raise SpecError("config", str(path), "a mapping of spec fields at the top level")
        preset = data.pop("preset", None)
        if preset:
            spec = cls.from_preset(preset, _flatten(data))
        else:
            spec = cls.from_dict(data)
        return spec.replace(overrides)

    def replace(self, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> Spec:
        """A copy with dotted overrides applied: ``{"motion.speed": "2..6"}`` or ``["motion.speed=2..6"]``."""
        if not overrides:
            return self
        updates = parse_overrides(overrides)
        data = self.model_dump(mode="python")
        for key, value in updates.items():
            _set_dotted(data, key)(value)
        return Spec.from_dict(data)

    def frames_only(self) -> Spec:
        """This spec with every annotation switched off: the same frames, rendered faster."""
        return self.replace({f"annotations.{name}": False for name in ANNOTATION_SWITCHES})

    # -- serialisation ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def fingerprint(self) -> str:
        """sha256 (hex, first 16 chars) of the canonical JSON of the fields that differ from their defaults.

        ``preset`` is not included. New fields enter with defaults that keep earlier output unchanged, so leaving
        defaults out keeps every existing dataset's fingerprint stable when the Spec grows.
        """
        data = self.model_dump(mode="json", exclude_defaults=True)
        data.pop("preset", None)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def diff(self, other: Spec) -> dict[str, tuple[Any, Any]]:
        """Dotted fields whose values differ: ``{field: (self_value, other_value)}``."""
        a, b = _flatten(self.to_dict()), _flatten(other.to_dict())
        return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


# -- overrides ----------------------------------------------------------------------------------------------------
def parse_overrides(overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    """``["a.b=1", "c=2..3"]`` or a mapping -> ``{"a.b": 1, "c": "2..3"}`` (values parsed as YAML scalars)."""
    import yaml

    if isinstance(overrides, Mapping):
        return dict(overrides)
    result: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise SpecError("--set", item, "KEY=VALUE with a dotted key, e.g. motion.speed=2..6")
        key, text = item.split("=", 1)
        key, text = key.strip(), text.strip()
        if ".." in text:
            value: Any = text
        else:
            try:
                value = yaml.safe_load(text) if text else None
            except yaml.YAMLError:
                value = text
        result[key] = value
    return result


def _set_dotted(data: dict[str, Any], key: str):
    parts = key.split(".")
    node: Any = data
    path = []
    for part in parts[:-1]:
        path.append(part)
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            raise SpecError(".".join(path), "unknown section", f"one of the sections {_sections(data)}")
        node = node[part]
    last = parts[-1]
    if not isinstance(node, dict) or last not in node:
        raise SpecError(key, "unknown field", f"one of {_allowed(node, prefix='.'.join(parts[:-1]))}")

    def setter(value: Any) -> None:
        node[last] = value

    return setter


def _sections(data: dict[str, Any]) -> str:
    return ", ".join(k for k, v in data.items() if isinstance(v, dict))


def _allowed(node: Any, prefix: str = "") -> str:
    if not isinstance(node, dict):
        return "(none)"
    pre = f"{prefix}." if prefix else ""
    return ", ".join(f"{pre}{k}" for k in node)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _spec_error(exc: ValidationError, data: Mapping[str, Any]) -> SpecError:
    """Turn pydantic's first error into one SpecError naming the dotted field, the value and what is allowed."""
    error = exc.errors()[0]
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, SpecError):
        return inner
    field = ".".join(str(p) for p in error["loc"] if not isinstance(p, int)) or "spec"
    value = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        section = field.rsplit(".", 1)[0] if "." in field else ""
        model = _section_model(section)
        names = ", ".join(f"{section + '.' if section else ''}{n}" for n in model.model_fields) if model else "?"
        return SpecError(field, value, f"a known field; this is not one. Known fields: {names}")
    if kind.startswith("literal_error"):
        return SpecError(field, value, f"one of {ctx.get('expected')}")
    return SpecError(field, value, error["msg"].removeprefix("Value error, "))


def _section_model(section: str) -> type[BaseModel] | None:
    model: type[BaseModel] = Spec
    for part in filter(None, section.split(".")):
        info = model.model_fields.get(part)
        if info is None or not isinstance(info.annotation, type) or not issubclass(info.annotation, BaseModel):
            return None
        model = info.annotation
    return model
