"""Building blocks of the config schema: the section base class, cross-field rules declared as data, and the
annotated types several sections share.

Pydantic runs a model's "after" validators only when every field of the model is valid, so a cross-field
check written as a plain model validator stays silent while any other setting is wrong. Rules are therefore
declared with the settings they read (:func:`rule`): :func:`unchecked_problems` runs, after a failed
validation, every rule whose settings are valid, so one run reports every problem at once.
"""
from __future__ import annotations

import functools
import types
import typing
from typing import Annotated, Any, Callable, Iterable, Iterator, TypeVar, Union

from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, ValidatorFunctionWrapHandler,
                      WrapValidator, model_validator)
from pydantic_core import PydanticCustomError

from automl.scenario.space import DistributionSpec

__all__ = ["Override", "PositiveInt", "Problem", "Problems", "Scalar", "Section", "Size", "plain_types", "rule",
           "unchecked_problems"]

# A problem found by a rule: the field path relative to the section that holds the rule, and the message.
Problem = tuple[tuple[Union[str, int], ...], str]
RuleMethod = TypeVar("RuleMethod", bound=Callable[..., Iterable[Problem]])


class Problems(ValueError):
    """Problems the rules of one section found; the error formatter locates each by its field path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def rule(*reads: str) -> Callable[[RuleMethod], RuleMethod]:
    """Mark a section method as a cross-field rule reading the settings ``reads`` (field names of the section).

    The method yields ``(field path, message)`` problems. Declaring what it reads lets the rule run while
    other settings of the section are invalid.
    """

    def mark(method: RuleMethod) -> RuleMethod:
        method.reads = frozenset(reads)  # type: ignore[attr-defined]
        return method

    return mark


class Section(BaseModel):
    """Base for every section: unknown keys are errors, settings are immutable once loaded, rules run last."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _apply_rules(self) -> Section:
        problems = [problem for check in type(self).rules() for problem in check(self)]
        if problems:
            raise Problems(problems)
        return self

    @classmethod
    def rules(cls) -> list[Callable[[Any], Iterable[Problem]]]:
        """The section's rules in definition order (base classes first)."""
        return _rules_of(cls)


@functools.cache
def _rules_of(cls: type) -> list[Callable[[Any], Iterable[Problem]]]:
    found: dict[str, Callable[[Any], Iterable[Problem]]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if callable(value) and hasattr(value, "reads"):
                found[name] = value
    return list(found.values())


def unchecked_problems(model: type[Section], raw: Any, errors: list[dict[str, Any]]) -> list[Problem]:
    """Problems of the rules pydantic skipped: those of ``model`` and of every section inside it that had an
    invalid setting, each run when the settings it reads are valid.

    ``errors`` are pydantic's errors for ``raw`` with locations relative to ``model``.
    """
    field_errors = [e for e in errors if e["loc"]]
    if not isinstance(raw, dict) or not field_errors:
        return []  # every setting valid: pydantic ran the rules (and reported what they found) itself
    failed = {e["loc"][0] for e in field_errors if e["loc"][0] in model.model_fields}
    found: list[Problem] = []
    for name in (n for n in model.model_fields if n in failed and n in raw):  # field order: stable output
        inner = [dict(e, loc=e["loc"][1:]) for e in field_errors if e["loc"][0] == name]
        found.extend(((name, *where), message) for where, message in _inner_problems(model, name, raw[name], inner))
    valid: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in failed:
            continue
        if name not in raw:
            valid[name] = field.get_default(call_default_factory=True)
            continue
        try:
            valid[name] = _adapter(model, name).validate_python(raw[name])
        except ValidationError:  # valid in context only: leave the rules reading it out
            continue
    partial = model.model_construct(**valid)  # only the valid settings: read by rules that need nothing else
    for check in model.rules():
        if check.reads <= valid.keys():  # type: ignore[attr-defined]
            found.extend(check(partial))
    return found


def _inner_problems(model: type[Section], name: str, raw: Any, errors: list[dict[str, Any]]) -> Iterator[Problem]:
    """Skipped rule problems inside the setting ``name``: a section, or a list of sections."""
    kind = _section_type(model.model_fields[name].annotation)
    if kind is not None:
        yield from unchecked_problems(kind, raw, errors)
        return
    item = _section_type(_list_item(model.model_fields[name].annotation))
    if item is not None and isinstance(raw, list):
        for index, entry in enumerate(raw):
            entry_errors = [dict(e, loc=e["loc"][1:]) for e in errors if e["loc"][:1] == (index,)]
            yield from (((index, *where), message) for where, message in unchecked_problems(item, entry, entry_errors))


@functools.cache
def _adapter(model: type[Section], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(model.model_fields[name].rebuild_annotation())


def plain_types(kinds: Iterable[Any]) -> list[Any]:
    """The types annotations allow, with ``Annotated`` and unions expanded."""
    out: list[Any] = []
    for kind in kinds:
        origin = typing.get_origin(kind)
        if origin is Annotated:
            out.extend(plain_types([typing.get_args(kind)[0]]))
        elif origin is Union or origin is types.UnionType:
            out.extend(plain_types(typing.get_args(kind)))
        else:
            out.append(kind)
    return out


def _section_type(kind: Any) -> type[Section] | None:
    sections = [k for k in plain_types([kind]) if isinstance(k, type) and issubclass(k, Section)]
    return sections[0] if len(sections) == 1 else None


def _list_item(kind: Any) -> Any:
    lists = [k for k in plain_types([kind]) if typing.get_origin(k) is list]
    return typing.get_args(lists[0])[0] if len(lists) == 1 else None


def _expected(what: str) -> WrapValidator:
    """Report a failed union as one ``expected ...`` error instead of one error per union member."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("expected", "expected {what}", {"what": what}) from None

    return WrapValidator(check)


def _override(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A mapping can only be a distribution: report its own problems (e.g. a misspelt 'low'), not the union's.
    if isinstance(value, dict):
        return DistributionSpec.model_validate(value)
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("expected", "expected a distribution (a mapping with type, low, high, log, "
                                  "values) or a fixed value (string, number, boolean or null)") from None


Scalar = Annotated[Union[str, int, float, bool], _expected("a string, number or boolean")]
PositiveInt = Annotated[int, Field(ge=1)]
# A size is either a fraction of the scenario's rows (0 < x < 1) or a number of rows/periods (>= 1).
Size = Annotated[Union[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0.0, lt=1.0)]],
                 _expected("a whole number of rows/periods >= 1 or a fraction between 0 and 1")]
Override = Annotated[Union[DistributionSpec, Scalar, None], WrapValidator(_override)]
