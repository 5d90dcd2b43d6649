"""The one formatter of config problems: ``file: N problems in the config:`` then one line per field,
``  - field.path: rule (got value)``, field paths as the user wrote them (``data.streams[sales].path``)."""
from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel

from automl.config.base import Problem, Problems, plain_types

__all__ = ["format_problems"]

_HIDDEN = object()  # marks "no value to show" (a missing setting, a default section)


def format_problems(source: str, document: dict, errors: list[dict[str, Any]], extra: list[Problem],
                    root: type[BaseModel]) -> str:
    """The message for pydantic ``errors`` on ``document`` plus ``extra`` problems (paths from the top).

    ``root`` is the model the document was validated against; its fields name the settings an unknown key
    could have meant.
    """
    fields: dict[str, tuple[list[str], Any]] = {}
    located = [item for error in errors for item in _locate(error, document, root)]
    for where, message in extra:
        field, given = _walk(where, document, exact=True)
        located.append((field, message, given))
    for field, message, given in located:
        messages, _ = fields.setdefault(field, ([], given))
        if message not in messages:
            messages.append(message)
    lines = []
    for field, (messages, given) in fields.items():
        got = "" if given is _HIDDEN else f" (got {_short(given)})"
        lines.append(f"  - {field}: {'; '.join(messages)}{got}")
    count = f"{len(lines)} problem" + ("s" if len(lines) > 1 else "")
    return f"{source}: {count} in the config:\n" + "\n".join(lines)


def _locate(error: dict[str, Any], document: dict, root: type[BaseModel]) -> list[tuple[str, str, Any]]:
    """``(field path, message, value given)`` for one pydantic error; a rule's error may give several."""
    loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Problems):
        located = []
        for where, message in cause.problems:
            field, given = _walk((*loc, *where), document, exact=True)
            located.append((field, message, given))
        return located
    kind = error["type"]
    field, _ = _walk(loc, document, exact=False, keep_last=kind == "missing")
    given = error.get("input", _HIDDEN)
    message = error["msg"].removeprefix("Value error, ")
    if kind == "model_type":
        message = "expected a mapping of settings"
    elif kind == "extra_forbidden":
        message = _unknown_setting(loc, root)
    elif kind == "missing":
        message, given = "required setting is missing", _HIDDEN
    if loc and loc[-1] == "[key]":
        message = f"invalid key: {message}"
    return [(field, message, given)]


def _walk(loc: tuple, document: Any, *, exact: bool, keep_last: bool = False) -> tuple[str, Any]:
    """The readable field path of ``loc`` and the value found there in the document.

    Parts that do not lead somewhere in the document are pydantic's union-member tags (``int``,
    ``function-wrap[check()]``, ...) or ``[key]``, never fields, and are left out, except with ``exact``
    (a path written by a rule) or for the last part of a missing setting. List items show their
    ``name`` when they have one: ``data.streams[sales].path``.
    """
    text, node = "", document
    for depth, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            label = node.get("name") if isinstance(node, dict) else None
            text += f"[{label}]" if isinstance(label, str) and label else f"[{part}]"
        elif isinstance(node, dict) and part in node:
            node = node[part]
            text += f".{part}"
        elif exact or (keep_last and depth == len(loc) - 1):
            node = _HIDDEN
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "<top>", node


def _unknown_setting(loc: tuple, root: type[BaseModel]) -> str:
    """Say which settings the section holding the unknown key ``loc[-1]`` accepts, and the likely one."""
    known = _settings_at(loc[:-1], root)
    if not known:
        return "unknown setting (check the spelling)"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting; {hint}expected one of: {', '.join(known)}"


def _settings_at(loc: tuple, root: type[BaseModel]) -> list[str]:
    """Field names of the section at ``loc``, found by walking the root model's type hints."""
    kinds: list[Any] = [root]
    for part in loc:
        inner = []
        for kind in plain_types(kinds):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                if isinstance(part, str) and part in kind.model_fields:
                    inner.append(kind.model_fields[part].annotation)
            elif typing.get_origin(kind) is list and isinstance(part, int):
                inner.append(typing.get_args(kind)[0])
            elif typing.get_origin(kind) is dict:
                inner.append(typing.get_args(kind)[1])
        kinds = inner or kinds  # nothing matched: a union-member tag, still the same value
    models = [k for k in plain_types(kinds) if isinstance(k, type) and issubclass(k, BaseModel)]
    return list(models[0].model_fields) if len(models) == 1 else []


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
