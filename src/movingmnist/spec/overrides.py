"""Dotted field names: parsing ``KEY=VALUE`` overrides, setting a dotted field in nested data, flattening."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SpecError


def load_yaml(text: str, field: str = "config", value: object = None) -> Any:
    """Parse YAML (or JSON) text with safe_load's types, but refuse anchors/aliases and duplicate keys.

    Why: an alias lets 1 KB of YAML expand to billions of items (a "billion laughs" bomb) that validation and
    error messages would then walk; a duplicate key silently drops one of the two values. No spec needs either.
    A SpecError names ``field`` and ``value`` (default: the text), the problem and its line.
    """
    import yaml

    value = text if value is None else value

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                mark = ("*" if isinstance(event, yaml.AliasEvent) else "&") + str(event.anchor)
                line = event.start_mark.line + 1
                raise SpecError(field, value, f"YAML without anchors (&) or aliases (*); found {mark} on line {line}")
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) or key is None:
                    if key in seen:
                        line = key_node.start_mark.line + 1
                        raise SpecError(field, value, f"each key once per mapping; {key!r} is repeated on line {line}")
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader subclass


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
                value = load_yaml(text, key) if text else None
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
