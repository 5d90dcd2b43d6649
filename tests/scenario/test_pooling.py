"""Slopes pooled across scenarios: the moments, the left-out slopes, the trust decision, and the pipeline's use."""
from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.config import parse_config
from automl.scenario.pipeline import fit_scenario, pooled_moments, pools, predict_scenario
from automl.scenario.pooling import MAX_LEVELS, POOLED_EFFECT, Moments, PooledEffect, PooledEvidence, design


def _schools(n_schools: int = 24, pupils: int = 36, slope: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """Schools with their own level and a shared slope on ``ses`` (and a gap for ``minority``), noisy enough
    that one school's 36 pupils cannot tell the slope from chance."""
    rng = np.random.default_rng(seed)
    parts = []
    for school in range(n_schools):
        ses = rng.normal(size=pupils)
        minority = rng.choice(["Yes", "No"], size=pupils)
        score = (50 + rng.normal(scale=8) + slope * ses - 1.5 * slope * (minority == "Yes")
                 + rng.normal(scale=6, size=pupils))
        parts.append(pd.DataFrame({"school": f"s{school:02d}", "id": [f"{school}-{i}" for i in range(pupils)],
                                   "ses": ses, "minority": minority, "score": score}))
    return pd.concat(parts, ignore_index=True)


def _config(**models: Any):
    return parse_config({"name": "t", "task": "regression", "scenario_keys": ["school"], "target": "score",
                         "sample_id": ["id"], "data": {"streams": [{"name": "s", "path": "s.parquet"}]},
                         "split": {"min_train_rows": 10}, "features": {"enabled": False},
                         "models": {"families": ["linear"], **models}, "tuning": {"max_evals": 3}}, source="test")


def _evidence(frame: pd.DataFrame, config) -> PooledEvidence:
    moments = [pooled_moments(rows, {"school": school}, config) for school, rows in frame.groupby("school")]
    return PooledEvidence.combine(m for m in moments if m is not None)


def test_moments_travel_as_json_and_align_by_name():
    inputs = pd.DataFrame({"a": [1.0, 2.0, np.nan, 5.0], "b": [0.0, 1.0, 1.0, 0.0]})
    moments = Moments.of(inputs, np.array([1.0, 2.0, 3.0, 6.0]))
    again = Moments.from_json(moments.to_json())
    assert again.names == ["a", "b"] and again.n == 4 and again.yty == pytest.approx(moments.yty)
    np.testing.assert_allclose(again.xtx, moments.xtx)
    # centred on its own mean; the missing value counts as that mean (no contribution)
    assert moments.xtx[0, 0] == pytest.approx((1 - 8 / 3) ** 2 + (2 - 8 / 3) ** 2 + (5 - 8 / 3) ** 2)
    xtx, xty = moments.aligned(["a", "b", "c"])
    assert xtx.shape == (3, 3) and xtx[2].sum() == 0 and xty[2] == 0 and xty[0] == pytest.approx(moments.xty[0])


def test_design_reads_numbers_and_few_level_text_and_leaves_out_dates_and_many_levels():
    rows = pd.DataFrame({"x": [1, 2, 3], "flag": [True, False, True], "colour": ["red", "blue", None],
                         "when": pd.to_datetime(["2020-01-01"] * 3), "key": ["k"] * 3,
                         "many": [f"v{i}" for i in range(3)]})
    rows = pd.concat([rows] * (MAX_LEVELS // 3 + 1), ignore_index=True)
    rows["many"] = [f"v{i}" for i in range(len(rows))]
    names = list(design(rows, exclude=["key"]).columns)
    assert names == ['["colour", "blue"]', '["colour", "red"]', '["flag", null]', '["x", null]']
    values = design(rows, exclude=["key"])
    assert np.isnan(values['["colour", "red"]'].iloc[2]) and values['["flag", null]'].iloc[1] == 0.0


def test_shared_slopes_are_trusted_and_each_scenario_gets_the_others_slopes():
    config = _config()
    frame = _schools()
    evidence = _evidence(frame, config)
    assert evidence.trusted and evidence.scenarios == 24 and evidence.gain > 0.05 and evidence.versus_own < 1
    own = pooled_moments(frame[frame["school"] == "s00"], {"school": "s00"}, config)
    slopes = evidence.slopes_without(own)
    assert slopes['["ses", null]'] == pytest.approx(2.0, abs=0.3)
    assert slopes['["minority", "Yes"]'] - slopes['["minority", "No"]'] == pytest.approx(-3.0, abs=1.0)
    # the left-out slopes really leave the school out: a school with the opposite slope moves them
    odd = frame[frame["school"] == "s00"].assign(score=lambda f: 50 - 200 * f["ses"])
    with_odd = pd.concat([frame[frame["school"] != "s00"], odd])
    odd_evidence = _evidence(with_odd, config)
    odd_own = pooled_moments(odd, {"school": "s00"}, config)
    assert odd_evidence.slopes_without(None)['["ses", null]'] < 0
    assert odd_evidence.slopes_without(odd_own)['["ses", null]'] == pytest.approx(2.0, abs=0.3)


def test_slopes_that_do_not_carry_over_are_not_trusted():
    config = _config()
    noise = _schools(slope=0.0)
    assert not _evidence(noise, config).trusted
    # each school its own slope, half of them opposite: no shared evidence either
    opposite = _schools()
    flip = opposite["school"].str[-1].astype(int) % 2 == 1
    opposite.loc[flip, "score"] = 100 - opposite.loc[flip, "score"]
    assert not _evidence(opposite, config).trusted
    assert not PooledEvidence.combine([Moments.of(pd.DataFrame({"x": [1.0, 2.0, 4.0]}), np.array([1.0, 2, 3]))]).trusted


def test_effect_fills_missing_inputs_with_the_scenario_mean():
    effect = PooledEffect({'["ses", null]': 2.0, '["minority", "Yes"]': -3.0, '["absent", null]': 5.0})
    effect.fit(pd.DataFrame({"ses": [0.0, 2.0], "minority": ["Yes", "No"]}))
    rows = pd.DataFrame({"ses": [3.0, np.nan], "minority": [None, "Yes"]})
    np.testing.assert_allclose(effect.transform(rows), [2.0 * 2.0, -3.0 * 0.5])


def test_a_trusted_pooled_default_ships_and_predicts_the_same_after_pickling():
    config = _config()
    frame = _schools()
    evidence = _evidence(frame, config)
    school = frame[frame["school"] == "s03"]
    fit = fit_scenario(school, {"school": "s03"}, config, pooled=evidence)
    assert fit.model.family == fit.baseline_name == "pooled_slopes"
    assert fit.leaderboard["pooled_slopes"] < fit.leaderboard["naive_mean"]
    assert POOLED_EFFECT in fit.model.features
    model = pickle.loads(pickle.dumps(fit.model))
    new = school.drop(columns=["score"]).head(5).assign(ses=[-2.0, -1.0, 0.0, 1.0, 2.0], minority="No")
    predicted = predict_scenario(new, model, config)["prediction"].to_numpy()
    # the school's mean plus about 2 per unit of ses, the slope learnt from the other schools
    slope = evidence.slopes_without(pooled_moments(school, {"school": "s03"}, config))['["ses", null]']
    np.testing.assert_allclose(np.diff(predicted), slope, rtol=1e-9)
    assert slope == pytest.approx(2.0, abs=0.3)
    # best_params names each input as MLflow accepts a key: the column, or column.level
    assert set(fit.model.params) == {"ses", "minority.No", "minority.Yes"}
    assert fit.model.params["ses"] == pytest.approx(slope, abs=1e-6)


def test_slopes_that_lose_to_the_scenarios_own_slopes_are_not_used():
    """Slopes of their own (1 to 5) and little noise: the others' average slope beats each store's mean, but
    not the slopes its own 36 rows give it, so the stores keep their means as the default and their own models."""
    rng = np.random.default_rng(1)
    stores = []
    for store in range(24):
        x = rng.normal(size=36)
        stores.append(pd.DataFrame({"school": f"s{store:02d}", "id": [f"{store}-{i}" for i in range(36)], "ses": x,
                                    "score": rng.uniform(1, 5) * x + rng.normal(scale=0.1, size=36)}))
    frame = pd.concat(stores, ignore_index=True)
    config = _config()
    evidence = _evidence(frame, config)
    assert evidence.gain > 0.5 and evidence.helped > 0.9 and evidence.versus_own > 10 and not evidence.trusted
    fit = fit_scenario(frame[frame["school"] == "s05"], {"school": "s05"}, config, pooled=evidence)
    assert fit.baseline_name in ("naive_mean", "naive_median") and POOLED_EFFECT not in fit.model.features
    assert fit.model.family == "linear" and fit.metrics["rmse"] < 0.5


def test_without_trusted_evidence_the_scenario_uses_its_own_rows_only():
    config = _config()
    school = _schools()
    school = school[school["school"] == "s03"]
    untrusted = _evidence(_schools(slope=0.0), config)
    for pooled in (None, untrusted):
        fit = fit_scenario(school, {"school": "s03"}, config, pooled=pooled)
        assert fit.baseline_name != "pooled_slopes" and POOLED_EFFECT not in fit.model.features


def test_only_regression_without_time_order_pools():
    assert pools(_config())
    assert not pools(_config(pooled_slopes=False))
    ordered = parse_config({"name": "t", "task": "regression", "scenario_keys": ["school"], "target": "score",
                            "data": {"streams": [{"name": "s", "path": "s.parquet"}]},
                            "split": {"order_by": "when"}}, source="test")
    assert not pools(ordered)
