"""A stand-in for Databricks' ``dbutils`` and ``display``, and a runner for notebook source files.

Just enough of the Databricks notebook API to execute ``notebooks/*.py`` locally, stricter than the real one
where strictness catches mistakes: reading a widget the notebook never created is an error (as on Databricks),
and :meth:`Widgets.unread` lists parameters passed to the notebook that it never declared a widget for.

Example:
    >>> run = run_notebook("notebooks/train.py", spark=spark, parameters={"config": "configs/demand.yaml"})
    >>> json.loads(run.exit_value)["status"]
    'succeeded'
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
TASK_VALUE = re.compile(r"\{\{\s*tasks\.([A-Za-z0-9_]+)\.values\.([A-Za-z0-9_]+)\s*\}\}")


class NotebookExit(Exception):
    """Raised by ``dbutils.notebook.exit``: the notebook stops there, like on Databricks."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class WidgetNotDefined(KeyError):
    """``dbutils.widgets.get`` of a widget the notebook did not create (Databricks: InputWidgetNotDefined)."""


class Widgets:
    """``dbutils.widgets``: values passed in (job or task parameters) win over the widgets' defaults."""

    def __init__(self, parameters: dict[str, str] | None = None) -> None:
        self.parameters = {k: str(v) for k, v in (parameters or {}).items()}
        self.defaults: dict[str, str] = {}
        self.read: set[str] = set()

    def text(self, name: str, defaultValue: str, label: str | None = None) -> None:  # noqa: N803 - Databricks' name
        self._create(name, defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: list[str],  # noqa: N803 - Databricks' name
                 label: str | None = None) -> None:
        if defaultValue not in choices:
            raise ValueError(f"dropdown {name!r}: default {defaultValue!r} is not one of {choices}")
        value = self.parameters.get(name)
        if value is not None and value not in choices:
            raise ValueError(f"dropdown {name!r}: value {value!r} is not one of {choices}")
        self._create(name, defaultValue)

    combobox = text

    def get(self, name: str) -> str:
        if name not in self.defaults:
            raise WidgetNotDefined(f"no widget named {name!r}; created: {sorted(self.defaults)}")
        self.read.add(name)
        return self.parameters.get(name, self.defaults[name])

    def getAll(self) -> dict[str, str]:  # noqa: N802 - Databricks' name
        return {name: self.get(name) for name in self.defaults}

    def removeAll(self) -> None:  # noqa: N802
        self.defaults.clear()

    def unread(self) -> set[str]:
        """Parameters passed in that the notebook never created a widget for or never read."""
        return set(self.parameters) - (set(self.defaults) & self.read)

    def _create(self, name: str, default: str) -> None:
        if not isinstance(default, str):
            raise TypeError(f"widget {name!r}: the default must be a string, got {type(default).__name__}")
        self.defaults[name] = default


class TaskValues:
    """``dbutils.jobs.taskValues``: values a task publishes for later tasks of the same job run."""

    def __init__(self, task_key: str, store: dict[str, dict[str, Any]]) -> None:
        self.task_key = task_key
        self.store = store

    def set(self, key: str, value: Any) -> None:
        json.dumps(value)  # Databricks stores task values as JSON
        self.store.setdefault(self.task_key, {})[key] = value

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:  # noqa: N803
        return self.store.get(taskKey, {}).get(key, default)


class _Notebook:
    def exit(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"dbutils.notebook.exit takes a string, got {type(value).__name__}")
        raise NotebookExit(value)


class _Jobs:
    def __init__(self, task_values: TaskValues) -> None:
        self.taskValues = task_values


class DBUtils:
    """The parts of ``dbutils`` the notebooks use: ``widgets``, ``notebook.exit``, ``jobs.taskValues``."""

    def __init__(self, parameters: dict[str, str] | None = None, *, task_key: str = "notebook",
                 task_values: dict[str, dict[str, Any]] | None = None) -> None:
        self.widgets = Widgets(parameters)
        self.notebook = _Notebook()
        self.task_values = task_values if task_values is not None else {}
        self.jobs = _Jobs(TaskValues(task_key, self.task_values))


class Display:
    """``display`` and ``displayHTML``: record what the notebook showed."""

    def __init__(self) -> None:
        self.shown: list[Any] = []
        self.html: list[str] = []

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> None:
        self.shown.append(obj)

    def show_html(self, text: str) -> None:
        self.html.append(text)


@dataclass
class NotebookRun:
    exit_value: str | None
    dbutils: DBUtils
    display: Display
    namespace: dict[str, Any] = field(repr=False)


def resolve_task_values(parameters: dict[str, str], task_values: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Replace ``{{tasks.<task>.values.<key>}}`` references the way the Jobs service does before a task runs."""

    def value(match: re.Match[str]) -> str:
        task, key = match.groups()
        if key not in task_values.get(task, {}):
            raise KeyError(f"task value {task}.{key} was never set (set: {task_values})")
        return str(task_values[task][key])

    return {name: TASK_VALUE.sub(value, str(text)) for name, text in parameters.items()}


def cells(path: str | Path) -> list[tuple[int, str]]:
    """The code cells of a Databricks source notebook as ``(first line number, source)``; markdown skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise ValueError(f"{path}: the first line must be {HEADER!r}")
    found, start, current = [], 2, []
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == SEPARATOR:
            found.append((start, current))
            start, current = number + 1, []
        else:
            current.append(line)
    found.append((start, current))
    code = []
    for first, body in found:
        text = [line for line in body if line.strip()]
        if text and all(line.startswith("# MAGIC") for line in text):
            magic = text[0].removeprefix("# MAGIC").strip()
            if not magic.startswith("%md"):
                raise NotImplementedError(f"{path}:{first}: magic {magic.split()[0]!r} cells cannot run locally; "
                                          f"notebooks should only read widgets and call the library")
            continue
        if text:
            code.append((first, "\n".join(body)))
    return code


def run_notebook(path: str | Path, *, spark: Any, parameters: dict[str, str] | None = None,
                 task_key: str = "notebook", task_values: dict[str, dict[str, Any]] | None = None) -> NotebookRun:
    """Execute the notebook's code cells in order in one namespace holding ``spark``, ``dbutils``, ``display``.

    Returns the value passed to ``dbutils.notebook.exit`` (``None`` if the notebook ran to its end). Errors
    propagate with tracebacks pointing at the notebook file's own line numbers.
    """
    dbutils = DBUtils(parameters, task_key=task_key, task_values=task_values)
    display = Display()
    namespace: dict[str, Any] = {"__name__": "__main__", "spark": spark, "dbutils": dbutils, "display": display,
                                 "displayHTML": display.show_html}
    exit_value = None
    for first, source in cells(path):
        code = compile("\n" * (first - 1) + source, str(path), "exec")
        try:
            exec(code, namespace)  # noqa: S102 - running our own notebook, the point of this helper
        except NotebookExit as stop:
            exit_value = stop.value
            break
    return NotebookRun(exit_value, dbutils, display, namespace)
