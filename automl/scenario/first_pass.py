"""The first pass of pooling (:mod:`automl.scenario.pooling`) over a pack of scenarios at once.

:func:`~automl.scenario.pipeline.pooled_moments` defines a scenario's moments: its rows with a target in
canonical order, the same holdout split as its training, the pooled inputs of its training rows. Called once per
scenario it pays pandas' fixed costs a dozen times: about 3 ms of Python per tiny scenario (docs/benchmarks.md),
16-18 s of a 10,000-scenario job on 2 cores. :func:`pack_moments` computes the same moments with one pandas call
per column of the pack and a few numpy calls per scenario (about 0.3 ms). A pack it cannot take that way (cells
pandas cannot hash, a target that is not numbers, any surprise) goes one scenario at a time.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.errors import ScenarioError
from automl.scenario import checks
from automl.scenario.keys import scenario_label, scenario_seed, to_python
from automl.scenario.pipeline import identity_hashes, not_inputs, pooled_moments
from automl.scenario.pooling import Moments, assemble, input_columns, number_matrix, text_values
from automl.scenario.split import holdout_split

if TYPE_CHECKING:
    from automl.config import Config

__all__ = ["pack_moments"]

log = logging.getLogger(__name__)

Found = list[tuple[dict[str, Any], "Moments | None"]]


def pack_moments(rows: pd.DataFrame, keys: list[str], config: Config) -> Found:
    """Every scenario of ``rows`` (told apart by the ``keys`` columns), in order of first row: its key values
    and its :func:`~automl.scenario.pipeline.pooled_moments`, None where its training would skip it."""
    groups = rows.groupby(keys, sort=False, dropna=False)
    codes = groups.ngroup().to_numpy()
    scenarios = [{k: to_python(rows[k].iloc[i]) for k in keys} for i in np.unique(codes, return_index=True)[1]]
    target = rows[config.target] if config.target in rows.columns else None
    if target is not None and pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        try:
            found = _at_once(rows, codes, scenarios, config)
            if found is not None:
                return list(zip(scenarios, found))
        except Exception as exc:  # never lose the pass to one pack's data
            log.warning("the pooled slopes' first pass takes %d scenarios one at a time: %s: %s", len(scenarios),
                        type(exc).__name__, exc)
    return [(scenario, _alone(frame, scenario, config)) for scenario, (_, frame) in zip(scenarios, groups)]


def _at_once(rows: pd.DataFrame, codes: np.ndarray, scenarios: list[dict[str, Any]],
             config: Config) -> list[Moments | None] | None:
    """The moments of each scenario (``codes``: its position in ``scenarios`` by row); None for a pack with cells
    pandas cannot hash (their rows' text is hashed instead, which only the scenarios holding them may do)."""
    known = rows[config.target].notna().to_numpy()
    rows, codes = rows[known], codes[known]
    try:
        hashed = identity_hashes(rows, config, text_fallback=False)
    except TypeError:
        return None
    order = np.lexsort((hashed, codes))  # by scenario, then in the order prepare_rows gives its rows
    rows, codes = rows.iloc[order].reset_index(drop=True), codes[order]
    target = rows[config.target].to_numpy(dtype="float64")
    numeric, text = input_columns(rows, not_inputs(config))
    values = number_matrix(rows, numeric)
    texts = [(name, *pd.factorize(text_values(rows[name]), sort=True)) for name in text]
    bounds = np.searchsorted(codes, np.arange(len(scenarios) + 1))
    found: list[Moments | None] = []
    for scenario, start, stop in zip(scenarios, bounds[:-1], bounds[1:]):
        try:
            train = start + _training_positions(rows.iloc[start:stop], target[start:stop], scenario, config)
        except ScenarioError:
            found.append(None)
            continue
        names, matrix = assemble(numeric, values[train], [(name, c[train], levels) for name, c, levels in texts])
        found.append(Moments.of_matrix(names, matrix, target[train]))
    return found


def _training_positions(rows: pd.DataFrame, target: np.ndarray, scenario: dict[str, Any],
                        config: Config) -> np.ndarray:
    """The training positions among a scenario's rows with a target, or a ScenarioError where
    :func:`~automl.scenario.pipeline.pooled_moments` would find one (the training pass gives the reason)."""
    if not len(target) or target.min() == target.max():
        raise ScenarioError("no target values, or a constant one")
    if config.models.target_transform == "log1p" and (target < 0).any():
        raise ScenarioError("a negative target under log1p")
    few = checks.too_few_rows(len(target), config)
    if few:
        raise ScenarioError(few)
    seed = scenario_seed(config.tuning.seed, scenario)
    train, _ = holdout_split(rows, method=config.split_method, size=config.split.test_size, target=config.target,
                             seed=seed, min_train_rows=config.split.min_train_rows)
    return train


def _alone(frame: pd.DataFrame, scenario: dict[str, Any], config: Config) -> Moments | None:
    try:
        return pooled_moments(frame, scenario, config)
    except Exception as exc:  # one scenario's data never stops the others: it just adds nothing
        log.warning("scenario %s adds nothing to the pooled slopes: %s: %s", scenario_label(scenario),
                    type(exc).__name__, exc)
        return None
