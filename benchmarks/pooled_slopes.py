"""What evidence pooled across scenarios would give small groups: hsb82's schools, each with about 36 training pupils.

    python benchmarks/pooled_slopes.py

Each school is split as in ``quality.py``. One Ridge slope per input (``ses``, minority, sex) is fitted on every
*other* school's training rows, centred on their own school's means, and a school is predicted as its training
mean plus that slope times its pupils' distance from its own means: a random-intercept model in all but name.
For comparison, each school's own Ridge model on the same inputs, always shipped. Prints, over all schools, the
holdout RMSE relative to the school's training mean (median, share worse and better, mean). Not a framework
arm: the framework validates each scenario on its own rows (docs/benchmarks.md, sessions 9 and 10).
"""
from __future__ import annotations

import os
import sys

import numpy as np
from sklearn.linear_model import Ridge

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality  # the benchmark's loader and splits, next to this file


def _inputs(rows) -> np.ndarray:
    """ses, minority (0/1) and male (0/1) per pupil."""
    return np.column_stack([rows["ses"].to_numpy(float), (rows["minrty"] == "Yes").to_numpy(float),
                            (rows["sx"] == "Male").to_numpy(float)])


def _summary(name: str, ratios: list[float]) -> str:
    r = np.asarray(ratios)
    return (f"{name}: median {np.median(r):.3f}, worse than the mean {np.mean(r > 1 + quality.TIE):.0%}, "
            f"better {np.mean(r < 1 - quality.TIE):.0%}, mean ratio {r.mean():.4f} ({len(r)} schools)")


def main() -> int:
    splits, _ = quality.split_groups(quality.load_dataset("hsb82", quality.DATA_DIR), None, seed=0)
    centred = [(_inputs(s.train) - _inputs(s.train).mean(axis=0), s.y_train - s.y_train.mean()) for s in splits]
    pooled, own = [], []
    for i, split in enumerate(splits):
        others_x = np.vstack([x for j, (x, _) in enumerate(centred) if j != i])
        others_y = np.concatenate([y for j, (_, y) in enumerate(centred) if j != i])
        slope = Ridge(alpha=1.0, fit_intercept=False).fit(others_x, others_y)
        train_x, test_x = _inputs(split.train), _inputs(split.test)
        mean_rmse = np.sqrt(np.mean((split.y_test - split.y_train.mean()) ** 2))
        prediction = split.y_train.mean() + slope.predict(test_x - train_x.mean(axis=0))
        pooled.append(np.sqrt(np.mean((split.y_test - prediction) ** 2)) / mean_rmse)
        alone = Ridge(alpha=1.0).fit(train_x, split.y_train).predict(test_x)
        own.append(np.sqrt(np.mean((split.y_test - alone) ** 2)) / mean_rmse)
    print(_summary("slopes pooled over the other schools + the school's mean", pooled))
    print(_summary("the school's own Ridge model, always shipped", own))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
