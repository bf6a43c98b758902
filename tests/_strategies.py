"""Hypothesis strategies of valid specs, shared by the rule tests and the conformance suite.

``translation_specs`` draws specs that the translation renderer draws (every motion model, compositing mode and
annotation switch); ``appearance_specs`` draws specs that need the general renderer (rotation, scale, shear,
brightness, colour, backgrounds, distractors, amodal masks, flow). ``fixed`` pins dotted fields, e.g.
``appearance_specs({"annotations.amodal_masks": True})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

import movingmnist as mm


@st.composite
def translation_specs(draw, fixed: Mapping[str, Any] | None = None) -> mm.Spec:
    size = draw(st.sampled_from([None, 12, 16, 20, 28]))
    glyph = size or 28
    low = draw(st.integers(0, 3))
    model = draw(st.sampled_from(["srivastava", "reflect", "stochastic", "srvp", "free", "flip", "path"]))
    unit = draw(st.sampled_from(["px", "free_range"]))
    speed = sorted(draw(st.lists(st.floats(0, 8), min_size=2, max_size=2)))
    if unit == "free_range":
        speed = [v / 20 for v in speed]
    if model == "flip":
        unit, speed = "px", [1, 4]
    fields = {
        "canvas.height": draw(st.integers(glyph, 72)),
        "canvas.width": draw(st.integers(glyph, 72)),
        "frames": draw(st.integers(1, 12)),
        "objects.count": [low, draw(st.integers(max(low, 1), 4))],
        "objects.size": size,
        "motion.model": model,
        "motion.speed": speed,
        "motion.speed_unit": unit,
        "motion.integer_speed": draw(st.booleans()),
        "motion.margin": draw(st.sampled_from([0.0, 2.0, 4.5])),
        "motion.direction": sorted(draw(st.lists(st.floats(-360, 360), min_size=2, max_size=2))),
        "motion.max_step": draw(st.integers(0, 6)),
        "motion.deterministic": draw(st.booleans()),
        "motion.bounce_on": draw(st.sampled_from(["box", "ink"])),
        "motion.wrap": draw(st.booleans()),
        "compositing": draw(st.sampled_from(["max", "sum", "over"])),
        "annotations.semantic": draw(st.booleans()),
        "annotations.instance": draw(st.booleans()),
        "annotations.boxes": draw(st.booleans()),
        "annotations.amodal_boxes": draw(st.booleans()),
        "annotations.visibility": draw(st.booleans()),
        "annotations.tracks": draw(st.booleans()),
        "annotations.mask_threshold": draw(st.sampled_from([0, 0, 1, 40, 100, 200])),
        "annotations.ignore_label": draw(st.sampled_from([10, 255])),
    }
    fields.update(scene_motion(draw, model))
    fields.update(fixed or {})
    return mm.Spec.from_preset("srivastava", fields)


def scene_motion(draw, model: str) -> dict[str, Any]:
    """The fields of docs/scenes.md: path families and walls for ``path``; elastic collisions for the models that
    take them (then without ``wrap``)."""
    fields: dict[str, Any] = {}
    if model == "path":
        families = draw(st.lists(st.sampled_from(mm.spec.PATH_FAMILIES), min_size=1, max_size=4))
        fields["motion.path.families"] = ",".join(families)
        fields["motion.path.choose"] = draw(st.sampled_from(["object", "class"]))
        fields["motion.path.walls"] = draw(st.sampled_from(["bounce", "none"]))
    if model in mm.spec.COLLISION_MODELS and draw(st.booleans()):
        fields["motion.collisions"] = "elastic"
        fields["motion.wrap"] = False
        fields["motion.collision_mass"] = draw(st.sampled_from(["equal", "area"]))
    return fields


@st.composite
def appearance_specs(draw, fixed: Mapping[str, Any] | None = None) -> mm.Spec:
    def pair(lo, hi):
        a = round(draw(st.floats(lo, hi, allow_nan=False)), 3)
        b = round(draw(st.floats(lo, hi, allow_nan=False)), 3)
        return f"{min(a, b)}..{max(a, b)}"

    channels = draw(st.sampled_from([1, 3]))
    over = {
        "objects.count": draw(st.sampled_from(["1..1", "1..3", "2..3", "0..2"])),
        "frames": draw(st.integers(2, 6)),
        "canvas.channels": channels,
        "canvas.height": draw(st.sampled_from([32, 45, 64])),
        "canvas.width": draw(st.sampled_from([32, 61, 64])),
        "compositing": draw(st.sampled_from(["max", "sum", "over"])),
        "annotations.mask_threshold": draw(st.sampled_from([0, 10, 60])),
        "annotations.ignore_label": draw(st.sampled_from([10, 255])),
        "annotations.amodal_masks": draw(st.booleans()),
        "annotations.flow": draw(st.booleans()),
        "annotations.boxes": draw(st.booleans()),
        "annotations.tracks": draw(st.booleans()),
        "appearance.rotation.angle": pair(-360, 360),
        "appearance.rotation.velocity": pair(-30, 30),
        "appearance.rotation.integer": draw(st.booleans()),
        "appearance.rotation.hint": draw(st.booleans()),
        "appearance.scale.mode": draw(st.sampled_from(["constant", "ramp", "oscillate"])),
        "appearance.scale.start": pair(0.3, 2.0),
        "appearance.scale.end": pair(0.3, 2.0),
        "appearance.scale.random_phase": draw(st.booleans()),
        "appearance.shear": pair(-30, 30),
        "appearance.brightness.mode": draw(st.sampled_from(["constant", "ramp", "flicker", "blink"])),
        "appearance.brightness.start": pair(0.0, 2.0),
        "appearance.brightness.end": pair(0.0, 2.0),
        "appearance.interpolation": draw(st.sampled_from(["bilinear", "nearest"])),
        "appearance.subpixel": draw(st.booleans()),
        "motion.model": draw(
            st.sampled_from(["srivastava", "reflect", "free", "flip", "affine", "stochastic", "srvp", "path"])
        ),
        "motion.bounce_on": draw(st.sampled_from(["box", "ink"])),
        "motion.boundary": draw(st.sampled_from(["none", "bounce"])),
        "background.kind": draw(st.sampled_from(["none", "constant", "noise"])),
        "background.level": "0..255",
        "background.noise.dynamic": draw(st.booleans()),
        "background.extent": draw(st.sampled_from([0, 6])),
        "background.pan": "0..2",
        "background.shapes.count": draw(st.sampled_from(["0..0", "1..4"])),
        "background.shapes.size": "2..20",
        "background.distractors.count": draw(st.sampled_from(["0..0", "1..2"])),
        "background.distractors.occlude": draw(st.booleans()),
    }
    if channels == 3:
        over["appearance.colour.mode"] = draw(st.sampled_from(["white", "hue", "palette"]))
        over["appearance.colour.palette"] = [[255, 0, 0], [10, 200, 30], [90, 90, 250]]
        over["appearance.colour.saturation"] = pair(0.0, 1.0)
        over["background.colour"] = draw(st.booleans())
    if over["motion.model"] == "flip":
        over["motion.speed"] = "1..4"
        over["motion.speed_unit"] = "px"
    over.update(scene_motion(draw, over["motion.model"]))
    over.update(fixed or {})
    return mm.Spec.from_preset("srivastava", over)
