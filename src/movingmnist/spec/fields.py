"""The building blocks of the spec sections: the frozen section base class and the (low, high) range fields."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import SpecError


def parse_range(value: Any) -> Any:
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


def refuse_bool(value: Any) -> Any:
    """Why: pydantic (and YAML's ``true``) would pass ``True`` as the integer 1, so ``frames=true`` meant one
    frame; a count or a size must be written as a number."""
    if isinstance(value, bool):
        raise ValueError(f"a number, not the boolean {str(value).lower()}")
    return value


#: An integer field (a count, a size, a label) that refuses booleans.
Int = Annotated[int, BeforeValidator(refuse_bool)]
#: A float field that refuses booleans.
Float = Annotated[float, BeforeValidator(refuse_bool)]

IntRange = Annotated[tuple[Int, Int], BeforeValidator(parse_range)]
FloatRange = Annotated[tuple[Float, Float], BeforeValidator(parse_range)]


class Section(BaseModel):
    """Base of every spec section: frozen, unknown fields refused, defaults validated."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def check_range(field: str, value: tuple[float, float], low: float | None = None, high: float | None = None):
    """Raise a SpecError naming ``field`` unless ``value`` is a finite range ``(lo, hi)`` with lo <= hi that lies
    within the bounds ``low`` and ``high`` (None: unbounded)."""
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise SpecError(field, value, "finite numbers")
    if lo > hi:
        raise SpecError(field, value, "a range low..high with low <= high")
    if low is not None and lo < low:
        raise SpecError(field, value, f"values >= {low}")
    if high is not None and hi > high:
        raise SpecError(field, value, f"values <= {high}")
