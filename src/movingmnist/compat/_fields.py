"""Finding the spec fields a compat layer writes its arguments into, by name, in the preset it builds on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SpecError
from ..presets import get_preset
from ..spec import Spec


def flat_fields(spec: Spec) -> dict[str, Any]:
    """``{"section.field": value}`` of every field of ``spec``."""

    def walk(data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, Mapping):
                out.update(walk(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    return walk(spec.to_dict(), "")


def preset_spec(name: str, what: str) -> Spec:
    """The spec of preset ``name``, or a SpecError saying that ``what`` needs it."""
    try:
        return get_preset(name).spec()
    except SpecError as exc:
        raise SpecError(
            "preset", name, f"an installed preset: {what} is built on the {name!r} preset", str(exc)
        ) from None


def find_field(fields: Mapping[str, Any], candidates: Sequence[str], what: str) -> str:
    """The first of ``candidates`` (dotted names, or bare field names matched at the end) present in ``fields``."""
    for candidate in candidates:
        if candidate in fields:
            return candidate
    for candidate in candidates:
        if "." in candidate:
            continue
        matches = [name for name in fields if name.rsplit(".", 1)[-1] == candidate]
        if len(matches) == 1:
            return matches[0]
    raise SpecError(
        what,
        "no matching spec field",
        f"a field named one of {', '.join(candidates)} in the preset; its fields are {', '.join(fields)}",
    )
