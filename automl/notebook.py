"""What the Databricks notebooks need beyond ``automl.jobs``: widget text into a config, a job into a table.

Widgets hold strings only. This module parses them (one place, unit-tested) so a notebook is nothing but
widget reads and library calls, the same calls ``automl train`` / ``automl predict`` make.

The run date reaches a job as the ``run_date`` widget and becomes an *as-of* filter on the config's
``time_column``, ANDed onto ``data.filter``: training sees only rows before the run date, prediction scores
only rows on or after it. So a rerun with an old run date trains on what was known then, and a schedule can
pass ``{{job.trigger.time.iso_date}}``. An empty run date leaves the data unfiltered; a config without a
time column (e.g. churn) ignores it.

Example (in a notebook):
    >>> config = load_job_config("../configs/demand.yaml", run_date="2024-06-03",
    ...                          overrides=["tuning.max_evals=5; models.families=[lightgbm]"])  # doctest: +SKIP
    >>> summary = jobs.train(config, spark=spark)  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
from typing import TYPE_CHECKING, Iterable

from automl.config import Config, load_config
from automl.errors import AutoMLError, ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from automl.jobs import JobSummary

__all__ = ["as_of_filter", "configure_logging", "load_job_config", "output_frame", "parse_overrides",
           "parse_run_date", "raise_if_failed", "report_html"]

log = logging.getLogger(__name__)

_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
# ';' starts a new override only when a ``dotted.key=`` follows, so a ';' inside a value survives.
_SEPARATOR = re.compile(r";\s*(?=[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\s*=)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_overrides(text: str | None) -> list[str]:
    """``key=value`` overrides from a widget: one a line or ``;``-separated; blank and ``#`` lines are skipped.

    Example:
        >>> parse_overrides("tuning.max_evals=3; models.families=[linear]\\n# a comment\\nsplit.test_size=4")
        ['tuning.max_evals=3', 'models.families=[linear]', 'split.test_size=4']
    """
    items: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for item in _SEPARATOR.split(line):
            item = item.strip().rstrip(";").strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or not _KEY.fullmatch(key.strip()):
                raise ConfigError(f"overrides widget: {item!r} is not dotted.key=value (e.g. tuning.max_evals=10); "
                                  f"put several on separate lines or separate them with ';'")
            items.append(f"{key.strip()}={value.strip()}")
    return items


def parse_run_date(text: str | None) -> dt.date | None:
    """The ``run_date`` widget as a date; empty means "no run date" (use all rows).

    Example:
        >>> parse_run_date("2024-06-03")
        datetime.date(2024, 6, 3)
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        hint = " (a {{...}} reference is only resolved when a job runs the notebook)" if "{{" in text else ""
        raise ConfigError(f"run_date widget: expected a date YYYY-MM-DD or nothing, got {text!r}{hint}") from None


def as_of_filter(config: Config, run_date: dt.date, *, for_prediction: bool) -> str | None:
    """``data.filter`` restricted to rows before (training) or from (prediction) ``run_date``.

    ``None`` when the config has no time column: there is nothing to cut by date.

    Example:
        >>> as_of_filter(demand_config, dt.date(2024, 6, 3), for_prediction=False)  # doctest: +SKIP
        "`week` < DATE'2024-06-03'"
    """
    column = config.time_column
    if column is None:
        return None
    clause = f"`{column.replace('`', '``')}` {'>=' if for_prediction else '<'} DATE'{run_date.isoformat()}'"
    existing = config.data.filter
    return f"({existing}) AND {clause}" if existing else clause


def load_job_config(path: str, *, overrides: Iterable[str | None] = (), run_date: str | None = None,
                    for_prediction: bool = False) -> Config:
    """Load ``path`` with the widgets' overrides (later texts win) and the run date's as-of filter.

    Each text in ``overrides`` is one widget's content (see :func:`parse_overrides`); the run date is applied
    last, onto whatever ``data.filter`` the file and overrides set.
    """
    items = [item for text in overrides for item in parse_overrides(text)]
    config = load_config(path, items)
    day = parse_run_date(run_date)
    if day is None:
        return config
    clause = as_of_filter(config, day, for_prediction=for_prediction)
    if clause is None:
        log.warning("run_date %s ignored: use case %r has no time_column to filter on", day, config.name)
        return config
    log.info("run date %s: %s rows where %s", day, "scoring" if for_prediction else "training on", clause)
    # A JSON string is a YAML double-quoted scalar: the filter stays one string whatever it contains.
    return load_config(path, [*items, f"data.filter={json.dumps(clause)}"])


def output_frame(spark: SparkSession, config: Config, summary: JobSummary) -> DataFrame:
    """The table a job wrote (training results or predictions), read back for ``display()``."""
    training = summary.kind == "train"
    table = config.output.results_table if training else config.output.predictions_table
    if table:
        return spark.table(table)
    return spark.read.format(config.output.format).load(summary.outputs["results" if training else "predictions"])


def report_html(summary: JobSummary) -> str:
    """The run's report for ``displayHTML``, headed by where the run is in MLflow."""
    path = summary.outputs.get("report") or ""
    if not path:
        return f"<p>{html.escape(summary.kind)} run {html.escape(summary.run_id)}: no report was written</p>"
    with open(path, encoding="utf-8") as handle:
        page = handle.read()
    link = summary.details.get("mlflow_run_url") or f"MLflow run id {summary.run_id}"
    return f"<p>{html.escape(str(link))} &middot; report: {html.escape(path)}</p>" + page


def raise_if_failed(summary: JobSummary) -> None:
    """Fail the notebook (and so the job task, which triggers ``on_failure`` mail) when the job failed."""
    if not summary.succeeded:
        raise AutoMLError(f"{summary.kind} run {summary.run_id} {summary.status}: {summary.message} "
                          f"({summary.counts}); see {', '.join(p for p in summary.outputs.values() if p)}")


def configure_logging(level: int = logging.INFO) -> None:
    """Show the library's progress lines in the notebook output (once; the root logger is left alone)."""
    logger = logging.getLogger("automl")
    logger.setLevel(level)
    if not any(getattr(h, "_automl_notebook", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._automl_notebook = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
