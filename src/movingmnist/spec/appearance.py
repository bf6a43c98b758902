"""The ``appearance`` section of a Spec: how each glyph looks in each frame (rotation, scale, shear, brightness,
colour, sampling)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import model_validator

from ..errors import SpecError
from .fields import Float, FloatRange, Int, Section, check_range


class RotationSpec(Section):
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
    hint_scale: Float = 2.0

    @model_validator(mode="after")
    def _check(self) -> RotationSpec:
        check_range("appearance.rotation.angle", self.angle, -3600.0, 3600.0)
        check_range("appearance.rotation.velocity", self.velocity, -3600.0, 3600.0)
        if not (math.isfinite(self.hint_scale) and abs(self.hint_scale) <= 3600.0):
            raise SpecError("appearance.rotation.hint_scale", self.hint_scale, "a finite number in [-3600, 3600]")
        return self

    @property
    def is_identity(self) -> bool:
        return self.angle == (0.0, 0.0) and self.velocity == (0.0, 0.0) and not self.hint


class ScaleSpec(Section):
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
        check_range("appearance.scale.start", self.start, 1e-3, 100.0)
        check_range("appearance.scale.end", self.end, 1e-3, 100.0)
        check_range("appearance.scale.period", self.period, 1e-3, 1e6)
        return self

    @property
    def is_identity(self) -> bool:
        return self.start == (1.0, 1.0) and (self.mode == "constant" or self.end == (1.0, 1.0))


class BrightnessSpec(Section):
    """Per-object brightness factor b(t): rendered intensity = glyph * b, rounded, values above 255 saturate.

    ``constant``: b ~ U(start). ``ramp``: linear from b0 ~ U(start) at frame 0 to b1 ~ U(end) at the last frame.
    ``flicker``: b0 + (b1 - b0) (1 - cos(2 pi (rate t + phase))) / 2, rate ~ U(rate) cycles per frame, phase
    ~ U[0, 1). ``blink``: b0 while frac(rate t + phase) < duty, else b1 (``end`` = 0 blinks off).
    """

    mode: Literal["constant", "ramp", "flicker", "blink"] = "constant"
    start: FloatRange = (1.0, 1.0)
    end: FloatRange = (1.0, 1.0)
    rate: FloatRange = (0.1, 0.1)
    duty: Float = 0.5

    @model_validator(mode="after")
    def _check(self) -> BrightnessSpec:
        check_range("appearance.brightness.start", self.start, 0.0, 255.0)
        check_range("appearance.brightness.end", self.end, 0.0, 255.0)
        check_range("appearance.brightness.rate", self.rate, 0.0, 1e3)
        if not (math.isfinite(self.duty) and 0.0 <= self.duty <= 1.0):
            raise SpecError("appearance.brightness.duty", self.duty, "a fraction in [0, 1]")
        return self

    @property
    def is_identity(self) -> bool:
        return self.start == (1.0, 1.0) and (self.mode == "constant" or self.end == (1.0, 1.0))


class ColourSpec(Section):
    """Per-object colour (needs ``canvas.channels=3``): ``white``; ``hue``: a random hue with saturation ~
    U(saturation) and value ~ U(value) (HSV); ``palette``: one of the RGB triples of ``palette`` (0..255)."""

    mode: Literal["white", "hue", "palette"] = "white"
    saturation: FloatRange = (1.0, 1.0)
    value: FloatRange = (1.0, 1.0)
    palette: tuple[tuple[Int, Int, Int], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> ColourSpec:
        check_range("appearance.colour.saturation", self.saturation, 0.0, 1.0)
        check_range("appearance.colour.value", self.value, 0.0, 1.0)
        if self.mode == "palette" and not self.palette:
            raise SpecError("appearance.colour.palette", self.palette, "a non-empty list of [r, g, b] triples")
        for rgb in self.palette:
            if not all(0 <= c <= 255 for c in rgb):
                raise SpecError("appearance.colour.palette", rgb, "[r, g, b] triples of integers in [0, 255]")
        return self


class AppearanceSpec(Section):
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
        check_range("appearance.shear", self.shear, -80.0, 80.0)
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
