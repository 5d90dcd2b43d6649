"""Every "cannot model this scenario" reason, worded once.

The pipeline raises these reasons as :class:`~automl.errors.ScenarioError` while it fits a scenario, and the
Spark-side pre-check calls :func:`reason_from_statistics` with one aggregation row per scenario, so a
scenario skipped before training and one skipped inside the pipeline read the same.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.scenario.split import holdout_rows

if TYPE_CHECKING:
    from automl.config import Config

__all__ = ["continuous_labels", "duplicated_times", "min_rows_needed", "missing_column",
           "no_target_values", "reason_from_statistics", "single_class", "too_few_rows", "unknown_positive_class"]

# A float target with more distinct values than this share of its rows (and more than a handful) is a
# measurement, not a set of labels: classification of it "succeeds" with roc_auc 0.5 and hundreds of warnings.
_MAX_LABEL_SHARE = 0.2
_MAX_FEW_LABELS = 10


def missing_column(role: str, column: str) -> str:
    """E.g. ``target column 'units' is missing``."""
    return f"{role} column {column!r} is missing"


def no_target_values(target: str, rows: int) -> str:
    return f"target column {target!r} has no values (null in all {rows} rows)"


def single_class(target: str, label: Any) -> str:
    return f"target {target!r} has a single class ({label!r}): nothing to learn"


def duplicated_times(time_column: str, count: int, first: Any) -> str:
    return (f"{count} duplicated {time_column!r} values (first: {first}); a scenario needs one row per period "
            f"(for event data with repeated times use split.order_by instead of time_column)")


def continuous_labels(target: str, n_labels: int, n_rows: int) -> str | None:
    """The reason a float classification target looks continuous, or None when it looks like labels."""
    if n_labels <= max(_MAX_FEW_LABELS, _MAX_LABEL_SHARE * n_rows):
        return None
    return (f"target {target!r} looks continuous for classification: {n_labels} distinct float values in "
            f"{n_rows} rows (use task: regression, or bin the target into classes)")


def unknown_positive_class(positive: Any, labels: list[Any]) -> str:
    return f"metrics.positive_class {positive!r} matches none of the target's labels {labels[:10]}"


def min_rows_needed(config: Config) -> int:
    """The fewest rows with a target that leave ``split.min_train_rows`` after the holdout."""
    n = config.split.min_train_rows + 1
    while n - holdout_rows(config.split.test_size, n) < config.split.min_train_rows:
        n += 1
    return n


def too_few_rows(n_rows: int, config: Config) -> str | None:
    """The reason ``n_rows`` rows with a target are too few to train and hold out, or None."""
    needed = min_rows_needed(config)
    if n_rows >= needed:
        return None
    return (f"too few rows: {n_rows} rows with a target; at least {needed} are needed "
            f"(split.min_train_rows {config.split.min_train_rows} for training plus the holdout, "
            f"split.test_size {config.split.test_size})")


def reason_from_statistics(stats: dict[str, Any], config: Config) -> str | None:
    """Why a scenario cannot be modelled, from its aggregate statistics alone (None when it can be tried).

    ``stats`` holds ``rows``, ``target_rows``, ``target_min``, ``target_max`` and, with a time column,
    ``distinct_times``: what one Spark aggregation gives per scenario.

    Example:
        >>> reason_from_statistics({"rows": 3, "target_rows": 3, "target_min": 1, "target_max": 2}, config)  # doctest: +SKIP
        'too few rows: 3 rows with a target; at least 26 are needed (...)'
    """
    rows, target_rows = int(stats["rows"]), int(stats["target_rows"])
    if target_rows == 0:
        return no_target_values(config.target, rows)
    few = too_few_rows(target_rows, config)
    if few:
        return few
    if config.task == "classification" and stats["target_min"] == stats["target_max"]:
        return single_class(config.target, stats["target_min"])  # a constant regression target is its forecast
    distinct = stats.get("distinct_times")
    if config.time_column and distinct is not None and int(distinct) < rows:
        return (f"duplicated (scenario, {config.time_column}) rows: {rows} rows but {int(distinct)} distinct "
                f"times; a scenario needs one row per period")
    return None
