"""Search-space vocabulary shared by model families, config overrides and every tuner.

Families describe their spaces with these plain objects, so a tuner (hyperopt today, Optuna later)
translates them without the pipeline or the families knowing which tuner runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Choice", "Distribution", "DistributionSpec", "Float", "Int", "to_distribution"]


@dataclass(frozen=True)
class Float:
    """A float drawn uniformly, or log-uniformly when ``log``."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]``, log-scaled when ``log``."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of a few values (numbers, strings, booleans or None)."""

    options: tuple[Any, ...]


Distribution = Union[Float, Int, Choice]


class DistributionSpec(BaseModel):
    """A search-space override as written in YAML, e.g. ``{type: int, low: 4, high: 64, log: true}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["float", "int", "choice"]
    low: Annotated[float, Field(allow_inf_nan=False)] | None = None  # NaN/inf bounds break every tuner
    high: Annotated[float, Field(allow_inf_nan=False)] | None = None
    log: bool = False
    values: list[Any] | None = None

    @model_validator(mode="after")
    def _complete(self) -> DistributionSpec:
        if self.type == "choice":
            if not self.values:
                raise ValueError("type 'choice' needs a non-empty 'values' list")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError(f"type {self.type!r} needs 'low' <= 'high'")
        elif self.log and self.low <= 0:
            raise ValueError("'log' needs 'low' > 0")
        return self


def to_distribution(spec: DistributionSpec | Any) -> Distribution:
    """Turn a YAML override into a distribution; a plain scalar becomes a one-value choice (fixed)."""
    if not isinstance(spec, DistributionSpec):
        return Choice((spec,))
    if spec.type == "choice":
        return Choice(tuple(spec.values or ()))
    if spec.type == "int":
        return Int(int(spec.low), int(spec.high), spec.log)  # type: ignore[arg-type]
    return Float(float(spec.low), float(spec.high), spec.log)  # type: ignore[arg-type]
