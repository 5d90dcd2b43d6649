"""Look at scenarios without a job run: fit one in this process (``breakpoint()`` works), or list them."""
from __future__ import annotations

import logging
import os
from typing import Any

import pandas as pd

from automl.config import Config
from automl.errors import DataError
from automl.jobs.engine import Engine, Selection
from automl.jobs.pooling import pooled_evidence
from automl.jobs.train import spark_engine
from automl.scenario.checks import reason_from_statistics
from automl.scenario.keys import scenario_label, to_python
from automl.scenario.pipeline import ScenarioFit, fit_scenario, pools

__all__ = ["debug", "list_scenarios"]

log = logging.getLogger(__name__)


def debug(config: Config, selection: dict[str, str], *, engine: Engine | None = None, spark: Any = None) -> ScenarioFit:
    """Fit one scenario in this Python process, with no UDF in between: ``breakpoint()`` works anywhere.

    Only that scenario's rows are read (the key filter is pushed down to the sources), except when scenarios
    share slopes (:func:`automl.scenario.pipeline.pools`): then every scenario's moments are summed first, as
    the training job does. Errors propagate so a debugger can open on them.
    """
    engine = engine or spark_engine(config, spark)
    pooled = None
    if pools(config):
        everything = engine.scenarios(Selection(), for_prediction=False)
        stats = everything.statistics()
        modelled = [not reason_from_statistics(row, config) for row in stats.to_dict("records")]
        pooled = pooled_evidence(everything, stats[modelled], config)
    rows = engine.scenarios(Selection([selection]), for_prediction=False).to_pandas()
    if rows.empty:
        raise DataError(f"no rows for scenario {scenario_label(selection)}; list the valid keys with "
                        f"'automl scenarios --config <file>'")
    keys = {k: to_python(rows[k].iloc[0]) for k in config.scenario_keys}
    log.info("scenario %s: %d rows", scenario_label(keys), len(rows))
    return fit_scenario(rows, keys, config, threads=os.cpu_count() or 1, pooled=pooled)


def list_scenarios(config: Config, *, engine: Engine | None = None, spark: Any = None, limit: int = 50) -> pd.DataFrame:
    """Scenario keys with their row counts, largest first (to pick one for ``automl debug``)."""
    engine = engine or spark_engine(config, spark)
    stats = engine.scenarios(Selection(), for_prediction=False).statistics()
    counts = stats[[*config.scenario_keys, "rows"]].rename(columns={"rows": "count"})
    return counts.sort_values("count", ascending=False, kind="stable").head(limit).reset_index(drop=True)
