"""Read ``databricks.yml`` the way the Databricks CLI would, as far as local checks need: variables resolved per
target, notebook paths mapped to repository files, the widgets each notebook creates."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_FILE = ROOT / "databricks.yml"

# Stand-ins for what only a workspace knows; `${workspace.file_path}` is where the repository's files land.
WORKSPACE = {
    "workspace.file_path": str(ROOT),
    "workspace.root_path": "/Workspace/Users/someone@example.com/.bundle/automl/dev",
    "workspace.current_user.userName": "someone@example.com",
    "workspace.current_user.short_name": "someone",
}
REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\-\[\]]+)\}")
WIDGET_KINDS = {"text", "dropdown", "combobox", "multiselect"}


def load_bundle(path: Path = BUNDLE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def variable_values(bundle: dict[str, Any], target: str = "dev") -> dict[str, Any]:
    """Variable defaults with the target's overrides applied (a target sets a variable by value)."""
    values = {name: spec.get("default") for name, spec in (bundle.get("variables") or {}).items()}
    values.update((bundle["targets"][target] or {}).get("variables") or {})
    return values


def resolve(value: Any, bundle: dict[str, Any], target: str = "dev") -> Any:
    """Substitute ``${var.*}``, ``${bundle.*}`` and ``${workspace.*}`` in every string of ``value``."""
    if isinstance(value, dict):
        return {k: resolve(v, bundle, target) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, bundle, target) for v in value]
    if not isinstance(value, str):
        return value
    known = {**WORKSPACE, "bundle.name": bundle["bundle"]["name"], "bundle.target": target,
             **{f"var.{k}": v for k, v in variable_values(bundle, target).items()}}
    for _ in range(5):  # a variable's value may hold further references
        if not REFERENCE.search(value):
            return value
        value = REFERENCE.sub(lambda m: _lookup(known, m.group(1)), value)
    raise ValueError(f"references do not settle: {value!r}")


def _lookup(known: dict[str, Any], name: str) -> str:
    if name not in known or known[name] is None:
        raise KeyError(f"${{{name}}} is not defined (or has no value) in the bundle")
    return str(known[name])


def strings(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in the document with its location, e.g. ``resources.jobs.demand.tasks[0].task_key``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def jobs(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return (bundle.get("resources") or {}).get("jobs") or {}


def notebook_tasks(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [task for task in job.get("tasks", []) if "notebook_task" in task]


def notebook_file(notebook_path: str, root: Path = ROOT) -> Path:
    """The repository file behind a task's ``notebook_path`` (relative to the bundle root; ``.py`` optional)."""
    path = (root / notebook_path).resolve()
    if path.suffix == "" and not path.exists():
        path = path.with_suffix(".py")
    return path


def job_parameters(job: dict[str, Any], bundle: dict[str, Any], target: str = "dev") -> dict[str, str]:
    """Job-level parameters and their resolved defaults (what a run without ``--params`` gets)."""
    return {p["name"]: resolve(p.get("default", ""), bundle, target) for p in job.get("parameters") or []}


def task_parameters(task: dict[str, Any], bundle: dict[str, Any], target: str = "dev") -> dict[str, str]:
    return {k: str(v) for k, v in resolve(task["notebook_task"].get("base_parameters") or {}, bundle, target).items()}


def _dbutils_calls(path: Path, chain: tuple[str, ...]) -> Iterator[ast.Call]:
    """Calls of ``dbutils.<chain...>.<method>(...)`` in a notebook source file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            parts, inner = [], node.func.value
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == "dbutils" and tuple(reversed(parts)) == chain:
                yield node


def _string_argument(call: ast.Call, position: int, keyword: str) -> str | None:
    if len(call.args) > position and isinstance(call.args[position], ast.Constant):
        return call.args[position].value
    for kw in call.keywords:
        if kw.arg == keyword and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


def widgets_of(path: Path) -> set[str]:
    """Names of the widgets a notebook creates (``dbutils.widgets.text("name", ...)`` and friends)."""
    return {_string_argument(call, 0, "name") for call in _dbutils_calls(path, ("widgets",))
            if call.func.attr in WIDGET_KINDS} - {None}


def task_values_set(path: Path) -> set[str]:
    """Keys a notebook publishes with ``dbutils.jobs.taskValues.set(key=..., value=...)``."""
    return {_string_argument(call, 0, "key") for call in _dbutils_calls(path, ("jobs", "taskValues"))
            if call.func.attr == "set"} - {None}
