"""The Spec: one frozen, validated, serialisable description of a dataset (see :mod:`movingmnist.spec`)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, model_validator

from ..errors import SpecError
from ..preset_recipes import find_recipe, recipe_key
from .appearance import AppearanceSpec
from .background import BackgroundSpec
from .fields import Int, Section
from .overrides import flatten, load_yaml, parse_overrides, set_dotted
from .sections import (
    ANNOTATION_SWITCHES,
    AnnotationsSpec,
    CanvasSpec,
    MotionSpec,
    ObjectsSpec,
    SourceSpec,
)


class Spec(Section):
    """Everything that determines a dataset's content, apart from the seed and the index range.

    ``preset`` records which named recipe (``name@version``) the spec started from; it is provenance only and is
    not part of :attr:`fingerprint`.
    """

    preset: str | None = None
    canvas: CanvasSpec = CanvasSpec()
    frames: Int = 20
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
        objects = self.objects
        if objects.max_births > 0 and (self.motion.model != "free" or self.motion.wrap):
            raise SpecError(
                "objects.max_births", objects.max_births,
                f"0 with motion.model={self.motion.model!r}{' and wrap' if self.motion.wrap else ''} (births enter "
                "through a wall in straight lines: motion.model='free' without wrap)",
            )
        if self.motion.collisions != "none" and (objects.appear[1] > 0 or objects.max_births > 0):
            raise SpecError(
                "motion.collisions", self.motion.collisions,
                "'none' with late appearances or births (objects.appear, objects.max_births): collisions are "
                "solved from frame 0 for every object of the sequence",
            )
        if objects.appear[1] >= self.frames:
            raise SpecError("objects.appear", objects.appear, f"frames in 0..{self.frames - 1} (frames={self.frames})")
        size = self.objects.size
        if size is not None and (size > self.canvas.height or size > self.canvas.width):
            raise SpecError(
                "objects.size",
                size,
                f"at most the canvas size {self.canvas.height}x{self.canvas.width} (glyphs must fit on the canvas)",
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

    @property
    def simulated_frames(self) -> int:
        """T1, the frames the latents are simulated for: T, or T + 1 when velocities are needed (the last frame's
        velocity needs the next position): track annotations or captions."""
        ann = self.annotations
        return self.frames + 1 if (ann.tracks or ann.captions != "none") else self.frames

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
        recipe = find_recipe(name)
        return Spec.from_dict({**recipe["fields"], "preset": recipe_key(recipe)}).replace(overrides)

    @classmethod
    def from_file(cls, path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> Spec:
        """A spec from a YAML or JSON file; a top-level ``preset: name`` key starts from that preset."""
        import yaml

        from ..limits import MAX_CONFIG_BYTES

        path = Path(path)
        try:
            with open(path, "rb") as f:  # at most the cap and one byte more: /dev/zero never ends
                raw = f.read(MAX_CONFIG_BYTES + 1)
                size = os.fstat(f.fileno()).st_size
        except OSError as exc:
            raise SpecError("config", str(path), "a readable YAML or JSON file", str(exc)) from None
        if len(raw) > MAX_CONFIG_BYTES:
            held = f"{size:,} bytes" if size > MAX_CONFIG_BYTES else "more (reading stopped there)"
            raise SpecError(
                "config", str(path), f"a YAML or JSON file of at most {MAX_CONFIG_BYTES:,} bytes (1 MiB); it holds "
                f"{held}"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(
                "config", str(path), "a YAML or JSON text file in UTF-8", f"byte {exc.start} is not UTF-8"
            ) from None
        if b"\0" in raw:
            raise SpecError(
                "config", str(path), "a YAML or JSON text file", f"byte {raw.index(0)} is a NUL: a binary file"
            )
        try:
            data = load_yaml(text, "config", str(path))
        except yaml.YAMLError as exc:
            raise SpecError("config", str(path), "valid YAML or JSON", str(exc).splitlines()[0]) from None
        if not isinstance(data, dict):
            raise SpecError("config", str(path), "a mapping of spec fields at the top level")
        preset = data.pop("preset", None)
        if preset is not None and not isinstance(preset, str):
            raise SpecError("preset", preset, f"a preset name such as 'srivastava' (in {path})")
        if preset:
            spec = cls.from_preset(preset, flatten(data))
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
            set_dotted(data, key)(value)
        return Spec.from_dict(data)

    def frames_only(self) -> Spec:
        """This spec with every annotation switched off: the same frames, rendered faster."""
        return self.replace({
            **{f"annotations.{name}": False for name in ANNOTATION_SWITCHES}, "annotations.captions": "none"
        })

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
        a, b = flatten(self.to_dict()), flatten(other.to_dict())
        return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


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
        names = [f"{section + '.' if section else ''}{n}" for n in model.model_fields] if model else []
        return SpecError.unknown(field, "field", names)
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
