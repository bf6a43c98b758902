"""Dotted field names: parsing ``KEY=VALUE`` overrides, setting a dotted field in nested data, flattening."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SpecError


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


def set_dotted(data: dict[str, Any], key: str):
    parts = key.split(".")
    node: Any = data
    path = []
    for part in parts[:-1]:
        path.append(part)
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            raise SpecError.unknown(".".join(path), "section", _sections(data, ".".join(path[:-1])))
        node = node[part]
    last = parts[-1]
    if not isinstance(node, dict) or last not in node:
        raise SpecError.unknown(key, "field", _allowed(node, prefix=".".join(parts[:-1])))

    def setter(value: Any) -> None:
        node[last] = value

    return setter


def _sections(data: dict[str, Any], prefix: str = "") -> list[str]:
    node: Any = data
    for part in filter(None, prefix.split(".")):
        node = node.get(part) if isinstance(node, dict) else None
    pre = f"{prefix}." if prefix else ""
    return [f"{pre}{k}" for k, v in node.items() if isinstance(v, dict)] if isinstance(node, dict) else []


def _allowed(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    pre = f"{prefix}." if prefix else ""
    return [f"{pre}{k}" for k in node]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
