"""Tiny synthetic use cases for the job tests: one weekly series per scenario, a config built in code."""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.config import parse_config


def series(name, n: int = 48, *, seed: int = 0, target=None, key: str = "s") -> pd.DataFrame:
    """A learnable weekly series ``y = 10 + 3x + noise`` of scenario ``name``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 10 + 3 * x + rng.normal(scale=0.1, size=n) if target is None else target
    weeks = pd.date_range("2022-01-03", periods=n, freq="W-MON").as_unit("us")
    return pd.DataFrame({key: name, "t": weeks, "x": x, "y": y})


def config(path, output, **overrides) -> object:
    """A fast config over the parquet file ``path``; ``a__b=v`` overrides nested fields."""
    document = {
        "name": "faults", "task": "regression", "scenario_keys": ["s"], "target": "y", "time_column": "t",
        "data": {"streams": [{"name": "rows", "path": str(path)}]},
        "split": {"test_size": 6, "validation_size": 6, "min_train_rows": 20},
        "features": {"enabled": False}, "models": {"families": ["linear"]},
        "tuning": {"max_evals": 2}, "output": {"path": str(output)},
    }
    for dotted, value in overrides.items():
        node = document
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return parse_config(document)
