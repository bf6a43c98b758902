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

MOTION_MODELS = ("srivastava", "reflect", "stochastic", "srvp", "free")
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
    """Frame size. ``channels`` 1 (grey)."""

    height: int = 64
    width: int = 64
    channels: Literal[1] = 1

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

    ``speed`` (polar models srivastava, reflect, free): speed range, in pixels per frame or, with
    ``speed_unit="free_range"``, in units of the free range (canvas minus glyph size) per frame.
    ``direction``: direction range in degrees (0 = +x, 90 = +y, i.e. down). ``max_step`` (integer models
    stochastic, srvp): velocity components are uniform integers in -max_step..max_step. ``bounce_on``: the walls
    stop the glyph's box (``box``, as the originals) or its ink bounding box (``ink``).
    """

    model: Literal["srivastava", "reflect", "stochastic", "srvp", "free"] = "srivastava"
    speed: FloatRange = (0.1, 0.1)
    speed_unit: Literal["px", "free_range"] = "free_range"
    direction: FloatRange = (0.0, 360.0)
    max_step: int = 4
    deterministic: bool = False
    bounce_on: Literal["box", "ink"] = "box"
    wrap: bool = False

    @model_validator(mode="after")
    def _check(self) -> MotionSpec:
        _check_range("motion.speed", self.speed, 0.0, 1e4)
        _check_range("motion.direction", self.direction, -720.0, 720.0)
        if not 0 <= self.max_step <= 1000:
            raise SpecError("motion.max_step", self.max_step, "an integer in [0, 1000]")
        return self


class AnnotationsSpec(_Section):
    """Which ground truth to produce (labels, present and glyph_index are always produced).

    ``tracks``: centers, velocities, angles, scales, brightness, depth. ``ignore_label``: semantic value of
    pixels no object owns. ``mask_threshold``: a pixel belongs to an object where the object's rendered intensity
    is above this value.
    """

    semantic: bool = True
    instance: bool = True
    boxes: bool = True
    amodal_boxes: bool = True
    visibility: bool = True
    tracks: bool = True
    ignore_label: int = 255
    mask_threshold: int = 0

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
        return self.semantic or self.instance or self.boxes or self.visibility


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
        return self

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

    # -- serialisation ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def fingerprint(self) -> str:
        """sha256 (hex, first 16 chars) of the canonical JSON of the content; ``preset`` is not included."""
        data = self.to_dict()
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
