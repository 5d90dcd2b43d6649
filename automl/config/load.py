"""Config file -> validated :class:`~automl.config.schema.Config`: reading, ``${ENV}`` interpolation, ``--set``
overrides, validation with every problem reported at once, and the secrets that must never be shown.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

import yaml
from pydantic import ValidationError

from automl.config.base import unchecked_problems
from automl.config.errors import format_problems
from automl.config.overrides import apply_override
from automl.config.schema import Config
from automl.config.yaml_text import load_yaml
from automl.errors import ConfigError

__all__ = ["load_config", "parse_config", "redact", "redact_config", "secret_values"]

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MASK = "***"


def load_config(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, interpolate, override and validate one use-case YAML file.

    Example:
        >>> cfg = load_config("configs/demand.yaml", ["tuning.max_evals=5"])  # doctest: +SKIP
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}, column {where.column + 1}:" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{line} not valid YAML: {problem}") from None
    return parse_config(raw, source=str(source), overrides=overrides)


def parse_config(raw: Any, *, source: str = "<config>", overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Validate an already-parsed YAML document (a dict); see :func:`load_config`.

    Example:
        >>> parse_config({"name": "x", "task": "regression", "scenario_keys": ["store"], "target": "units",
        ...               "data": {"streams": [{"name": "sales", "path": "sales.parquet"}]}}).split_method
        'random'
    """
    if not isinstance(raw, dict):
        got = "an empty document" if raw is None else type(raw).__name__
        raise ConfigError(f"{source}: the top level must be a mapping of settings, got {got}")
    secrets: set[str] = set()
    document = _interpolate(raw, source, (), secrets)
    for item in overrides:
        apply_override(document, item, source)
    try:
        config = Config.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors()
        # Rules whose settings are valid still run, so one run reports every problem.
        extra = unchecked_problems(Config, document, errors)
        message = format_problems(source, document, errors, extra, Config)
        raise ConfigError(redact(message, secrets)) from None
    object.__setattr__(config, "_secrets", frozenset(secrets))
    return config


def secret_values(config: Config) -> frozenset[str]:
    """Values that came from ``${ENV}`` interpolation: never written to logs, MLflow or results.

    ``AUTOML_*`` variables (data and output locations) are settings and stay visible.
    """
    return getattr(config, "_secrets", frozenset())


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value, as written or URL-encoded (as in a URI), replaced by ``***``.

    Call it on anything that may echo a config value: error messages, Spark's messages, JSON summaries.

    Example:
        >>> redact("https://user:p@ss@host", {"p@ss"})
        'https://user:***@host'
    """
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    for value in sorted(forms, key=len, reverse=True):
        text = text.replace(value, _MASK)
    return text


def redact_config(config: Config) -> dict[str, Any]:
    """The config as a JSON-able dict (for manifests, MLflow params, summaries) with secrets redacted.

    Example:
        >>> redact_config(load_config("configs/demand.yaml"))["name"]  # doctest: +SKIP
        'demand'
    """
    secrets = secret_values(config)
    return _redacted(config.model_dump(mode="json"), secrets)


def _redacted(node: Any, secrets: frozenset[str]) -> Any:
    if isinstance(node, dict):
        return {_redacted(k, secrets): _redacted(v, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_redacted(v, secrets) for v in node]
    if isinstance(node, str):
        return redact(node, secrets)
    return node


def _interpolate(node: Any, source: str, where: tuple, secrets: set[str]) -> Any:
    """A copy of ``node`` with ``${VAR}`` / ``${VAR:-default}`` replaced in strings; values that came from the
    environment are added to ``secrets``."""
    if isinstance(node, dict):
        return {k: _interpolate(v, source, (*where, k), secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, source, (*where, i), secrets) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is None:
                field = ".".join(map(str, where)) or "<top>"
                raise ConfigError(f"{source}: {field}: environment variable {name} is not set "
                                  f"(use ${{{name}:-default}} to give a default)")
            return default
        if value and not name.startswith("AUTOML_"):  # AUTOML_* variables are settings, not secrets
            secrets.add(value)
        return value

    return _ENV_PATTERN.sub(substitute, node)
