"""The Spec: one frozen, validated, serialisable description of a dataset.

A Spec says *what* to generate; a seed and an index range say *which* sequences. Build one from a preset name plus
dotted overrides, from a YAML/JSON file, or from keyword arguments::

    spec = Spec.from_preset("srivastava", {"objects.count": "1..3", "frames": 30})
    spec = Spec.from_file("my_spec.yaml")
    spec = spec.replace({"motion.speed": "2..6"})

Every error names the field, the value and what is allowed (:class:`movingmnist.errors.SpecError`).

The package: :mod:`~movingmnist.spec.model` (the Spec), :mod:`~movingmnist.spec.sections` (canvas, source,
objects, motion, annotations), :mod:`~movingmnist.spec.appearance`, :mod:`~movingmnist.spec.background`,
:mod:`~movingmnist.spec.fields` (the section base class and range fields) and :mod:`~movingmnist.spec.overrides`
(dotted ``KEY=VALUE`` overrides).
"""

from .appearance import AppearanceSpec, BrightnessSpec, ColourSpec, RotationSpec, ScaleSpec
from .background import SHAPE_KINDS, BackgroundSpec, DistractorsSpec, NoiseSpec, ShapesSpec
from .fields import FloatRange, IntRange
from .model import Spec
from .overrides import flatten, parse_overrides
from .sections import (
    ANNOTATION_SWITCHES,
    COLLISION_MODELS,
    COMPOSITING_MODES,
    MOTION_MODELS,
    PATH_FAMILIES,
    AffineStepSpec,
    AnnotationsSpec,
    CanvasSpec,
    MotionSpec,
    ObjectsSpec,
    PathSpec,
    SourceSpec,
)

#: The former private name of :func:`~movingmnist.spec.overrides.flatten`.
_flatten = flatten

__all__ = [
    "ANNOTATION_SWITCHES",
    "COLLISION_MODELS",
    "COMPOSITING_MODES",
    "MOTION_MODELS",
    "PATH_FAMILIES",
    "SHAPE_KINDS",
    "AffineStepSpec",
    "AnnotationsSpec",
    "AppearanceSpec",
    "BackgroundSpec",
    "BrightnessSpec",
    "CanvasSpec",
    "ColourSpec",
    "DistractorsSpec",
    "FloatRange",
    "IntRange",
    "MotionSpec",
    "NoiseSpec",
    "ObjectsSpec",
    "PathSpec",
    "RotationSpec",
    "ScaleSpec",
    "ShapesSpec",
    "SourceSpec",
    "Spec",
    "flatten",
    "parse_overrides",
]
