"""Presets: the named, versioned recipes of :mod:`movingmnist.preset_recipes` as :class:`Preset` objects.

``get_preset("srivastava")`` is the latest version, ``get_preset("srivastava@1")`` pins one;
``get_preset(name).spec()`` is the Spec, as ``Spec.from_preset(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .preset_recipes import RECIPES, find_recipe, recipe_key
from .spec import Spec


@dataclass(frozen=True)
class Preset:
    name: str
    version: int
    summary: str
    reference: str
    fields: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def spec(self) -> Spec:
        return Spec.from_dict({**self.fields, "preset": self.key})


PRESETS: dict[str, list[Preset]] = {}
for _recipe in RECIPES:
    PRESETS.setdefault(_recipe["name"], []).append(Preset(**_recipe))
_BY_KEY: dict[str, Preset] = {preset.key: preset for versions in PRESETS.values() for preset in versions}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """``"name"`` (latest version) or ``"name@version"``."""
    return _BY_KEY[recipe_key(find_recipe(name))]


def list_presets() -> list[Preset]:
    """The latest version of every preset."""
    return [versions[-1] for versions in PRESETS.values()]
