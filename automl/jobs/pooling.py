"""The first pass of a training job whose scenarios share slopes (:mod:`automl.scenario.pooling`)."""
from __future__ import annotations

import functools
import logging

import pandas as pd

from automl.config import Config
from automl.jobs.engine import Scenarios
from automl.scenario.first_pass import pack_moments
from automl.scenario.keys import scenario_id
from automl.scenario.pipeline import pools
from automl.scenario.pooling import MIN_GAIN, Moments, PooledEvidence

__all__ = ["pooled_evidence"]

log = logging.getLogger(__name__)


def pooled_evidence(scenarios: Scenarios, todo: pd.DataFrame, config: Config) -> PooledEvidence | None:
    """The moments of every scenario of ``todo`` (statistics rows), summed on the driver; None when the
    config does not pool (:func:`automl.scenario.pipeline.pools`) or there is nothing to train."""
    if not pools(config) or todo.empty:
        return None
    rows = scenarios.summarise(todo, functools.partial(_moments, config=config), [("moments", "string")])
    texts = rows.sort_values("scenario_id", kind="stable")["moments"]  # the same sums whatever the task order
    evidence = PooledEvidence.combine(Moments.from_json(text) for text in texts if isinstance(text, str))
    verdict = "used" if evidence.trusted else (f"not used (they must remove {MIN_GAIN:.0%}, help half, and beat "
                                                 f"the scenarios' own slopes)")
    log.info("slopes pooled over %d scenarios (%d inputs) remove %.1f%% of the scenario means' squared error, help "
             "%.0f%% of the scenarios, and make %.2f times the error of their own slopes: %s", evidence.scenarios,
             len(evidence.names), 100 * evidence.gain, 100 * evidence.helped, evidence.versus_own, verdict)
    return evidence


def _moments(rows: pd.DataFrame, keys: list[str], *, config: Config) -> pd.DataFrame:
    """Each scenario's moments as JSON; None when it has none to give (the training pass reports why)."""
    found = pack_moments(rows, keys, config)
    return pd.DataFrame({"scenario_id": [scenario_id(scenario) for scenario, _ in found],
                         "moments": [m.to_json() if m is not None else None for _, m in found]})
