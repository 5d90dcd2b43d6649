"""A shallow exception hierarchy: the CLI turns each into one clear message and an exit code."""
from __future__ import annotations

__all__ = ["AutoMLError", "ConfigError", "DataError", "ScenarioError", "TrackingError"]


class AutoMLError(Exception):
    """Base class for every error the framework raises on purpose."""


class ConfigError(AutoMLError):
    """A use-case config is unreadable or invalid; the message names the file and field."""


class DataError(AutoMLError):
    """The input data does not fit the config (missing column, wrong type, empty input, ...)."""


class ScenarioError(AutoMLError):
    """One scenario cannot be modelled; the scenario is skipped with this message as its reason."""


class TrackingError(AutoMLError):
    """MLflow cannot be reached or refused a request after retries."""
