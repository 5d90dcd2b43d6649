"""``databricks.yml`` checked against the repository: the paths, parameters and schedules it names must exist,
be consumed and be valid, since nothing here can reach a workspace to ``databricks bundle validate``."""
from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

import pytest
from bundle_spec import (BUNDLE_FILE, REFERENCE, ROOT, WORKSPACE, job_parameters, jobs, load_bundle, notebook_file,
                         notebook_tasks, resolve, strings, task_parameters, task_values_set, variable_values,
                         widgets_of)
from dbutils_standin import HEADER, TASK_VALUE

from automl.notebook import load_job_config

BUNDLE = load_bundle()
JOBS = jobs(BUNDLE)
TASKS = [(name, task) for name, job in JOBS.items() for task in job.get("tasks", [])]
NOTEBOOK_TASKS = [(name, task) for name, job in JOBS.items() for task in notebook_tasks(job)]
SCHEDULED = {name: job for name, job in JOBS.items() if "schedule" in job}
# Values the Jobs service fills in when a run starts; the run-date widget accepts these.
RUN_DATE_REFERENCES = {"{{job.trigger.time.iso_date}}", "{{job.start_time.iso_date}}"}


# --- A Quartz cron validator (Databricks schedules are Quartz expressions, not Unix cron) ----------------------

MONTHS = {name: i for i, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
DAYS = {name: i for i, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}
# name, lowest, highest value, names accepted for values
FIELDS = [("seconds", 0, 59, {}), ("minutes", 0, 59, {}), ("hours", 0, 23, {}), ("day-of-month", 1, 31, {}),
          ("month", 1, 12, MONTHS), ("day-of-week", 1, 7, DAYS), ("year", 1970, 2099, {})]


def quartz_problems(expression: str) -> list[str]:
    """Why ``expression`` is not a valid Quartz cron expression (an empty list when it is).

    Fields: seconds minutes hours day-of-month month day-of-week [year]. Each is ``*``, a value, a range
    ``a-b`` (may wrap, e.g. ``22-2``), a step ``start/n`` or ``a-b/n`` or ``*/n``, or a comma list of those;
    months and weekdays also by name (``JAN``, ``MON``, any case). Exactly one of day-of-month and day-of-week
    is ``?``. Day-of-month alone may be ``L``, ``L-n``, ``LW`` or ``nW``; day-of-week alone may be ``L``, ``nL``
    or ``n#k`` (k-th weekday n of the month, k 1-5). ``*`` and these special forms are not list items.
    """
    parts = expression.split()
    if len(parts) not in (6, 7):
        return [f"{expression!r}: expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week "
                f"[year]), got {len(parts)}"]
    problems = []
    for (name, low, high, names), text in zip(FIELDS, parts):
        problems += [f"{name} {text!r}: {p}" for p in _field_problems(text.upper(), name, low, high, names)]
    if (parts[3] == "?") == (parts[5] == "?"):
        problems.append("exactly one of day-of-month and day-of-week must be '?' (Quartz cannot combine them)")
    return problems


def _field_problems(text: str, name: str, low: int, high: int, names: dict[str, int]) -> list[str]:
    if text == "?":
        return [] if name in ("day-of-month", "day-of-week") else ["'?' is only allowed in the day fields"]
    if name == "day-of-month":
        if text in ("L", "LW"):
            return []
        if match := re.fullmatch(r"L-(\d+)", text):
            return [] if int(match.group(1)) <= 30 else ["L-n needs an offset of at most 30 days"]
        if match := re.fullmatch(r"(\d+)W", text):
            return [] if 1 <= int(match.group(1)) <= 31 else ["nW needs a day 1-31"]
    if name == "day-of-week":
        if text == "L":
            return []
        if match := re.fullmatch(r"([A-Z0-9]+)L", text):
            return _value_problems(match.group(1), low, high, names)
        if match := re.fullmatch(r"([A-Z0-9]+)#(\d+)", text):
            problems = _value_problems(match.group(1), low, high, names)
            return problems + ([] if 1 <= int(match.group(2)) <= 5 else ["#k needs k in 1-5"])
    items = text.split(",")
    if len(items) > 1 and "*" in items:
        return ["'*' cannot be a list item"]
    problems = []
    for item in items:
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and 1 <= int(step) <= max(high, high - low)):
            problems.append(f"step {step!r} must be a whole number from 1 to {max(high, high - low)}")
        if base == "*":
            continue
        if not base:
            problems.append("empty list item or range")
            continue
        start, dash, stop = base.partition("-")
        if not start or (dash and not stop):
            problems.append("empty list item or range")
            continue
        problems += _value_problems(start, low, high, names)
        if dash:
            problems += _value_problems(stop, low, high, names)
    return problems


def _value_problems(text: str, low: int, high: int, names: dict[str, int]) -> list[str]:
    if text in names:
        return []
    if not text.isdigit():
        expected = f"{low}-{high}" + (f" or one of {', '.join(names)}" if names else "")
        return [f"{text!r} is not a value ({expected})"]
    return [] if low <= int(text) <= high else [f"{text} is outside {low}-{high}"]


@pytest.mark.parametrize("expression", [
    "0 0 5 ? * MON",            # Mondays 05:00
    "0 30 6 * * ?",             # daily 06:30
    "0 0/15 * * * ?",           # every 15 minutes
    "*/30 * * ? * *",           # every 30 seconds
    "0 0 12 ? * MON-FRI",       # weekdays at noon
    "0 0 8 ? JAN-MAR,OCT sun",  # names in any case, ranges in lists
    "0 0 22-2 * * ?",           # a range wrapping past midnight
    "0 0 12 1/5 * ?",           # every 5 days from the 1st
    "0 0 12 1-15/2 * ?",        # a stepped range
    "0 15 10 L * ?",            # last day of the month
    "0 15 10 L-2 * ?",          # two days before the last
    "0 15 10 LW * ?",           # last weekday of the month
    "0 0 0 15W * ?",            # weekday nearest the 15th
    "0 15 10 ? * 6L",           # last Friday
    "0 15 10 ? * FRIL",         # last Friday, by name
    "0 15 10 ? * L",            # Saturdays
    "0 15 10 ? * MON#2",        # second Monday
    "0 11 11 11 11 ? 2030",     # with a year
    "0 0 1 1 * ? 2025-2030/2",  # stepped years
])
def test_quartz_accepts_valid_expressions(expression):
    assert quartz_problems(expression) == []


@pytest.mark.parametrize(("expression", "problem"), [
    ("0 5 * * *", "expected 6 or 7 fields"),                    # Unix cron, not Quartz
    ("0 0 5 ? * MON 2030 extra", "expected 6 or 7 fields"),
    ("", "expected 6 or 7 fields"),
    ("0 0 5 * * *", "exactly one of day-of-month and day-of-week"),
    ("0 0 5 ? * ?", "exactly one of day-of-month and day-of-week"),
    ("0 0 5 15 * MON", "exactly one of day-of-month and day-of-week"),
    ("60 0 5 * * ?", "60 is outside 0-59"),
    ("0 60 5 * * ?", "60 is outside 0-59"),
    ("0 0 24 * * ?", "24 is outside 0-23"),
    ("0 0 5 0 * ?", "0 is outside 1-31"),
    ("0 0 5 32 * ?", "32 is outside 1-31"),
    ("0 0 5 ? 13 MON", "13 is outside 1-12"),
    ("0 0 5 ? JANUARY MON", "'JANUARY' is not a value"),
    ("0 0 5 ? * 8", "8 is outside 1-7"),
    ("0 0 5 ? * MONDAY", "'MONDAY' is not a value"),
    ("0 0 5 ? * MON 1969", "1969 is outside 1970-2099"),
    ("0 0/0 * * * ?", "step '0'"),
    ("0 0/60 * * * ?", "step '60'"),
    ("0 0/x * * * ?", "must be a whole number"),
    ("0 0 5 ? * MON#6", "#k needs k in 1-5"),
    ("0 0 5 ? * #3", "is not a value"),
    ("0 0 5 ? * 2W", "is not a value"),                         # W is for day-of-month only
    ("0 0 5 L-31 * ?", "offset of at most 30"),
    ("0 0 5 32W * ?", "nW needs a day 1-31"),
    ("0 0 5 1,L * ?", "is not a value"),                        # L is not a list item
    ("0 0 5 15W-20 * ?", "is not a value"),
    ("0 0 ? * * MON", "'?' is only allowed in the day fields"),
    ("0 0 5 ? * 1-", "empty list item or range"),
    ("0 0 5 1,,2 * ?", "empty list item or range"),
    ("0 0 5 *,1 * ?", "'*' cannot be a list item"),
    ("0 -1 5 * * ?", "empty list item or range"),
])
def test_quartz_rejects_invalid_expressions(expression, problem):
    problems = quartz_problems(expression)
    assert any(problem in p for p in problems), problems


# --- The bundle ----------------------------------------------------------------------------------------------


def test_bundle_has_a_name_and_dev_default_and_prod_targets():
    assert BUNDLE["bundle"]["name"]
    targets = BUNDLE["targets"]
    assert targets["dev"]["mode"] == "development"
    assert targets["dev"].get("default") is True
    assert targets["prod"]["mode"] == "production"
    assert [name for name, spec in targets.items() if spec.get("default")] == ["dev"]
    assert targets["prod"]["workspace"]["host"].startswith("https://")
    assert targets["prod"]["workspace"]["root_path"]


def test_every_referenced_variable_is_declared_and_every_declared_one_used():
    declared = set(BUNDLE.get("variables") or {})
    used = set()
    for where, text in strings(BUNDLE):
        for name in REFERENCE.findall(text):
            namespace = name.split(".")[0]
            assert namespace in ("var", "bundle", "workspace"), f"{where}: unexpected reference ${{{name}}}"
            if namespace == "var":
                used.add(name.removeprefix("var."))
            elif namespace == "workspace":
                assert name in WORKSPACE, f"{where}: unknown workspace field ${{{name}}}"
    assert used - declared == set(), f"undeclared variables: {used - declared}"
    assert declared - used == set(), f"declared but never used: {declared - used}"
    for target, spec in BUNDLE["targets"].items():
        overridden = set((spec or {}).get("variables") or {})
        assert overridden <= declared, f"target {target} sets undeclared variables {overridden - declared}"


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_variable_has_a_value_in_each_target(target):
    missing = [name for name, value in variable_values(BUNDLE, target).items() if value is None]
    assert missing == []


def test_artifact_builds_the_wheel_from_setup_py():
    artifacts = BUNDLE["artifacts"]
    assert artifacts
    for name, artifact in artifacts.items():
        assert artifact["type"] == "whl", name
        assert (ROOT / artifact.get("path", ".") / "setup.py").is_file(), name
        assert re.fullmatch(r"python3? (setup\.py bdist_wheel|-m build( --wheel)?)", artifact["build"]), name


def test_every_wheel_library_is_an_artifact_build_output():
    outputs = [(ROOT / a.get("path", ".") / "dist").resolve() for a in BUNDLE["artifacts"].values()]
    wheels = [(where, text) for where, text in strings(BUNDLE) if where.endswith(".whl")]
    assert wheels
    for where, text in wheels:
        path = (ROOT / text).resolve()
        assert path.name.endswith(".whl") and path.parent in outputs, f"{where}: {text} is not built by an artifact"
    for name, task in TASKS:
        assert any("whl" in lib for lib in task.get("libraries", [])), f"{name}.{task['task_key']}: no wheel"


@pytest.mark.parametrize(("job", "task"), NOTEBOOK_TASKS, ids=lambda v: v if isinstance(v, str) else v["task_key"])
def test_notebook_paths_exist_as_databricks_source_notebooks(job, task):
    path = notebook_file(task["notebook_task"]["notebook_path"])
    assert path.is_file(), f"{job}.{task['task_key']}: {path} does not exist"
    assert path.is_relative_to(ROOT / "notebooks")
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_workspace_file_paths_exist_in_the_repository():
    found = [(where, text) for where, text in strings(BUNDLE) if "${workspace.file_path}/" in text]
    assert found
    for where, text in found:
        path = Path(resolve(text, BUNDLE))
        assert path.exists(), f"{where}: {text} -> {path} does not exist"


@pytest.mark.parametrize(("job", "task"), NOTEBOOK_TASKS, ids=lambda v: v if isinstance(v, str) else v["task_key"])
def test_every_parameter_is_a_widget_of_its_notebook(job, task):
    # Job parameters are pushed down to every notebook task of the job, beside the task's base_parameters.
    widgets = widgets_of(notebook_file(task["notebook_task"]["notebook_path"]))
    passed = set(job_parameters(JOBS[job], BUNDLE)) | set(task_parameters(task, BUNDLE))
    assert passed - widgets == set(), f"{job}.{task['task_key']}: no widget for {passed - widgets}"


@pytest.mark.parametrize("target", ["dev", "prod"])
@pytest.mark.parametrize("job", [name for name, job in JOBS.items() if "config" in job_parameters(job, BUNDLE)])
def test_config_loads_with_the_jobs_parameters(job, target):
    params = job_parameters(JOBS[job], BUNDLE, target)
    run_date = params.get("run_date", "")
    assert run_date in RUN_DATE_REFERENCES or re.fullmatch(r"(\d{4}-\d{2}-\d{2})?", run_date), run_date
    config = load_job_config(params["config"], overrides=[params.get("platform_overrides"), params.get("overrides")],
                             run_date="2024-06-03" if run_date in RUN_DATE_REFERENCES else run_date)
    assert config.name == job


def test_task_dependencies_exist_and_have_no_cycles():
    for name, job in JOBS.items():
        keys = [task["task_key"] for task in job["tasks"]]
        assert len(keys) == len(set(keys)), f"{name}: repeated task keys"
        upstream = {task["task_key"]: {d["task_key"] for d in task.get("depends_on", [])} for task in job["tasks"]}
        for task, deps in upstream.items():
            assert deps <= set(keys), f"{name}.{task} depends on unknown tasks {deps - set(keys)}"
            assert task not in _ancestors(task, upstream), f"{name}.{task} depends on itself"


def _ancestors(task: str, upstream: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(upstream[task])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(upstream.get(current, ()))
    return seen


def test_task_value_references_name_an_upstream_task_that_sets_the_value():
    found = 0
    for name, job in JOBS.items():
        upstream = {task["task_key"]: {d["task_key"] for d in task.get("depends_on", [])} for task in job["tasks"]}
        by_key = {task["task_key"]: task for task in job["tasks"]}
        for task in job["tasks"]:
            for where, text in strings(task):
                for source, key in TASK_VALUE.findall(text):
                    found += 1
                    assert source in _ancestors(task["task_key"], upstream), \
                        f"{name}.{task['task_key']}.{where}: {source} does not run before it"
                    notebook = notebook_file(by_key[source]["notebook_task"]["notebook_path"])
                    assert key in task_values_set(notebook), f"{notebook.name} never sets task value {key!r}"
    assert found


def test_job_clusters_are_defined_and_complete():
    for name, job in JOBS.items():
        clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job.get("job_clusters", [])}
        for task in job["tasks"]:
            assert task.get("job_cluster_key") in clusters, f"{name}.{task['task_key']}: unknown job cluster"
        for key, cluster in clusters.items():
            assert {"spark_version", "node_type_id", "num_workers"} <= set(cluster), f"{name}.{key}"
            assert isinstance(cluster["num_workers"], int) and cluster["num_workers"] >= 0
            cpus = (cluster.get("spark_conf") or {}).get("spark.task.cpus")
            assert cpus is None or (isinstance(cpus, str) and cpus.isdigit() and int(cpus) >= 1), cpus
        for task in notebook_tasks(job):
            if notebook_file(task["notebook_task"]["notebook_path"]).stem in ("train", "predict"):
                env = clusters[task["job_cluster_key"]].get("spark_env_vars") or {}
                assert {"AUTOML_DATA_DIR", "AUTOML_OUTPUT_DIR"} <= set(env), f"{name}: configs need both"


@pytest.mark.parametrize("job", sorted(SCHEDULED))
def test_schedules_are_valid_quartz_with_a_time_zone(job):
    schedule = SCHEDULED[job]["schedule"]
    assert quartz_problems(schedule["quartz_cron_expression"]) == []
    assert zoneinfo.ZoneInfo(resolve(schedule["timezone_id"], BUNDLE))
    assert schedule.get("pause_status", "UNPAUSED") in ("PAUSED", "UNPAUSED")


def test_the_example_use_cases_each_have_a_train_then_predict_job():
    for use_case in ("demand", "churn"):
        job = JOBS[use_case]
        assert "schedule" in job
        tasks = {task["task_key"]: task for task in job["tasks"]}
        assert [d["task_key"] for d in tasks["predict"]["depends_on"]] == ["train"]
        assert notebook_file(tasks["train"]["notebook_task"]["notebook_path"]).name == "train.py"
        assert notebook_file(tasks["predict"]["notebook_task"]["notebook_path"]).name == "predict.py"
        assert job_parameters(job, BUNDLE)["config"].endswith(f"configs/{use_case}.yaml")


@pytest.mark.parametrize("job", sorted(JOBS))
def test_failures_are_mailed(job):
    for target in ("dev", "prod"):
        emails = resolve(JOBS[job]["email_notifications"]["on_failure"], BUNDLE, target)
        assert emails and all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", e) for e in emails), emails


def test_bundle_file_is_at_the_repository_root():
    assert BUNDLE_FILE.parent == ROOT and (ROOT / "setup.py").is_file()
