"""``automl.notebook``: widget text -> overrides, run date -> as-of filter; pandas-free and Spark-free."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from automl.jobs import JobSummary
from automl.errors import AutoMLError, ConfigError
from automl.notebook import (as_of_filter, configure_logging, load_job_config, parse_overrides, parse_run_date,
                             raise_if_failed)

ROOT = Path(__file__).resolve().parents[2]
DEMAND = str(ROOT / "configs" / "demand.yaml")
CHURN = str(ROOT / "configs" / "churn.yaml")


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    (None, []),
    ("tuning.max_evals=3", ["tuning.max_evals=3"]),
    ("tuning.max_evals=3; models.families=[linear]", ["tuning.max_evals=3", "models.families=[linear]"]),
    ("tuning.max_evals=3\n\n  split.test_size = 4  \n", ["tuning.max_evals=3", "split.test_size=4"]),
    ("# fast\ntuning.max_evals=3;", ["tuning.max_evals=3"]),
    ("data.streams.sales.filter=units > 0; tuning.seed=1", ["data.streams.sales.filter=units > 0", "tuning.seed=1"]),
    ('data.filter=note LIKE "%;%"', ['data.filter=note LIKE "%;%"']),  # no key=value after ';': one value
    ("output.path=", ["output.path="]),
])
def test_parse_overrides(text, expected):
    assert parse_overrides(text) == expected


@pytest.mark.parametrize("text", ["tuning.max_evals", "=3", "tuning max_evals=3", "a=1\n=2"])
def test_parse_overrides_rejects_items_without_a_key(text):
    with pytest.raises(ConfigError, match=r"overrides widget: .* is not dotted.key=value"):
        parse_overrides(text)


def test_parse_run_date():
    assert parse_run_date("2024-06-03") == dt.date(2024, 6, 3)
    assert parse_run_date("  2024-06-03 ") == dt.date(2024, 6, 3)
    assert parse_run_date("") is None
    assert parse_run_date(None) is None


@pytest.mark.parametrize("text", ["2024-02-30", "03/06/2024", "20240603", "2024-06-03T06:00:00", "yesterday"])
def test_parse_run_date_rejects_anything_but_a_date(text):
    with pytest.raises(ConfigError, match=r"run_date widget: expected a date YYYY-MM-DD or nothing, got"):
        parse_run_date(text)


def test_parse_run_date_explains_an_unresolved_job_reference():
    with pytest.raises(ConfigError, match=r"only resolved when a job runs the notebook"):
        parse_run_date("{{job.trigger.time.iso_date}}")


def test_as_of_filter_cuts_on_the_time_column():
    config = load_job_config(DEMAND)
    day = dt.date(2023, 3, 27)
    assert as_of_filter(config, day, for_prediction=False) == "`week` < DATE'2023-03-27'"
    assert as_of_filter(config, day, for_prediction=True) == "`week` >= DATE'2023-03-27'"


def test_as_of_filter_keeps_the_configs_own_filter():
    config = load_job_config(DEMAND, overrides=["data.filter=units >= 0"])
    assert as_of_filter(config, dt.date(2023, 3, 27), for_prediction=False) == \
        "(units >= 0) AND `week` < DATE'2023-03-27'"


def test_as_of_filter_is_none_without_a_time_column():
    assert as_of_filter(load_job_config(CHURN), dt.date(2023, 3, 27), for_prediction=False) is None


def test_load_job_config_applies_widgets_in_order_then_the_run_date():
    config = load_job_config(DEMAND, overrides=["tuning.max_evals=7; data.filter=units >= 0", "tuning.max_evals=3"],
                             run_date="2023-03-27")
    assert config.tuning.max_evals == 3  # the later widget wins
    assert config.data.filter == "(units >= 0) AND `week` < DATE'2023-03-27'"
    predicting = load_job_config(DEMAND, run_date="2023-03-27", for_prediction=True)
    assert predicting.data.filter == "`week` >= DATE'2023-03-27'"


def test_load_job_config_without_run_date_leaves_the_data_alone():
    assert load_job_config(DEMAND, overrides=["", None]).data.filter is None


def test_load_job_config_ignores_the_run_date_without_a_time_column(caplog):
    with caplog.at_level(logging.WARNING, logger="automl.notebook"):
        config = load_job_config(CHURN, run_date="2023-03-27")
    assert config.data.filter is None
    assert "run_date 2023-03-27 ignored: use case 'churn' has no time_column" in caplog.text


def test_load_job_config_reports_bad_overrides_like_the_cli():
    with pytest.raises(ConfigError, match=r"tuning.max_evals: .*greater than or equal to 1"):
        load_job_config(DEMAND, overrides=["tuning.max_evals=0"])


def _summary(status: str) -> JobSummary:
    message = "75% of scenarios failed, above execution.max_failed_fraction 0%" if status == "failed" else ""
    return JobSummary("train", "abc", status, {"ok": 1, "failed": 3, "skipped": 0},
                      {"results": "/out/results", "report": ""}, 1.0, {"failed_fraction": 0.75}, message)


def test_raise_if_failed():
    raise_if_failed(_summary("succeeded"))
    with pytest.raises(AutoMLError, match=r"train run abc failed: 75% of scenarios failed, above execution"
                                          r".max_failed_fraction 0% \(.*\); see /out/results$"):
        raise_if_failed(_summary("failed"))


def test_configure_logging_adds_one_handler():
    logger = logging.getLogger("automl")
    handlers, level = list(logger.handlers), logger.level
    try:
        configure_logging()
        configure_logging()
        assert len(logger.handlers) == len(handlers) + 1
        assert logger.level == logging.INFO
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
