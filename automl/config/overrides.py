"""``--set dotted.key=value`` overrides, applied to the parsed document before validation."""
from __future__ import annotations

from typing import Any

import yaml

from automl.config.yaml_text import load_yaml
from automl.errors import ConfigError

__all__ = ["apply_override"]


def apply_override(document: dict, item: str, source: str) -> None:
    """Apply ``dotted.key=value`` to ``document`` in place; the value is read as YAML (``[a, b]`` is a list).

    List items are addressed by index or, for entries with a ``name`` (streams), by name.

    Example:
        >>> document = {"data": {"streams": [{"name": "sales", "path": "a"}]}}
        >>> apply_override(document, "data.streams.sales.path=b", "use_case.yaml")
        >>> document["data"]["streams"][0]["path"]
        'b'
    """
    dotted, sep, text = item.partition("=")
    if not sep or not dotted.strip():
        raise ConfigError(f"{source}: --set {item!r}: expected dotted.key=value, e.g. tuning.max_evals=10")
    try:
        value = load_yaml(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    parts = dotted.strip().split(".")
    node: Any = document
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                raise ConfigError(f"{source}: --set {dotted}: no list item {part!r} at "
                                  f"{'.'.join(parts[:depth]) or '<top>'}")
            if last:
                node[index] = value
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:  # an absent section, or one left empty in YAML ("tuning:")
                    node[part] = {}
                node = node[part]
        else:
            raise ConfigError(f"{source}: --set {dotted}: {'.'.join(parts[:depth])} is a value, not a section")


def _list_index(items: list, part: str) -> int | None:
    if part.isdecimal() and int(part) < len(items):  # not isdigit(): int("²") fails
        return int(part)
    for i, entry in enumerate(items):
        if isinstance(entry, dict) and entry.get("name") == part:
            return i
    return None
