"""The pooled slopes' first pass over a pack of scenarios gives each scenario exactly its own moments."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.config import parse_config
from automl.scenario.first_pass import pack_moments
from automl.scenario.pipeline import pooled_moments
from automl.scenario.pooling import MAX_LEVELS


def _config(sample_id: list[str], **models: Any):
    return parse_config({"name": "t", "task": "regression", "scenario_keys": ["region", "store"], "target": "y",
                         "sample_id": sample_id, "data": {"streams": [{"name": "s", "path": "s.parquet"}]},
                         "split": {"min_train_rows": 8}, "features": {"enabled": False, "drop_columns": ["note"]},
                         "models": {"families": ["linear"], **models}}, source="test")


def _pack(seed: int = 3) -> pd.DataFrame:
    """Scenarios of every kind the training pass treats differently, their rows interleaved as a shuffle leaves
    them: ordinary ones, missing and infinite inputs, a text column of few levels in some scenarios and many in
    others, too few rows, a constant target, no target, some targets missing, negative targets, a null key."""
    rng = np.random.default_rng(seed)
    parts = []
    for number in range(14):
        n = {3: 4, 4: 30, 5: 30, 6: 25}.get(number, int(rng.integers(12, 40)))
        colours = rng.choice(["red", "blue", "green", None], size=n) if number % 2 else \
            np.array([f"c{i % (MAX_LEVELS + 3)}" for i in range(n)], dtype=object)
        part = pd.DataFrame({
            "region": "north" if number % 3 else None, "store": number, "id": [f"{number}-{i}" for i in range(n)],
            "x": rng.normal(size=n), "count": rng.integers(0, 5, size=n), "flag": rng.random(n) < 0.4,
            "colour": colours, "kind": pd.Categorical(rng.choice(["a", "b"], size=n)),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, size=n), unit="D"),
            "note": "ignored", "y": rng.normal(10, 3, size=n)})
        part.loc[part.index[::5], "x"] = np.nan
        part.loc[part.index[1], "count"] = 99
        if number == 2:
            part.loc[part.index[2], "x"] = np.inf
        if number == 4:
            part["y"] = 5.0  # constant
        if number == 5:
            part["y"] = np.nan  # no target at all
        if number == 6:
            part.loc[part.index[::3], "y"] = np.nan  # a third of the targets missing
        if number == 7:
            part["y"] -= 20.0  # negative
        parts.append(part)
    pack = pd.concat(parts, ignore_index=True)
    return pack.iloc[rng.permutation(len(pack))].reset_index(drop=True)


def _one_by_one(pack: pd.DataFrame, config) -> dict[tuple, Any]:
    found = {}
    for _, frame in pack.groupby(["region", "store"], sort=False, dropna=False):
        keys = {"region": frame["region"].iloc[0], "store": int(frame["store"].iloc[0])}
        found[(keys["region"], keys["store"])] = pooled_moments(frame, keys, config)
    return found


def _assert_same(pack: pd.DataFrame, config) -> list:
    expected = _one_by_one(pack, config)
    found = pack_moments(pack.copy(), ["region", "store"], config)
    assert [(s["region"], s["store"]) for s, _ in found] == list(expected)  # order of first row
    for scenario, moments in found:
        alone = expected[(scenario["region"], scenario["store"])]
        assert (moments is None) == (alone is None), scenario
        if moments is not None:
            assert moments.names == alone.names and moments.n == alone.n
            np.testing.assert_allclose(moments.xtx, alone.xtx, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(moments.xty, alone.xty, rtol=1e-12, atol=1e-9)
            assert moments.yty == pytest.approx(alone.yty, rel=1e-12)
    return found


@pytest.mark.parametrize("sample_id", [["id"], []])
def test_a_pack_gives_each_scenario_its_own_moments(sample_id):
    found = dict(((s["region"], s["store"]), m) for s, m in _assert_same(_pack(), _config(sample_id)))
    assert sum(m is None for m in found.values()) == 3  # too few rows, constant, no target
    assert found[(None, 0)] is not None and found[(None, 6)].n < 25  # null keys; missing targets dropped
    names = found[("north", 1)].names  # few colours: one input per level; the datetime and drop_columns left out
    assert '["colour", "red"]' in names and not any("when" in n or "note" in n for n in names)
    assert not any("colour" in n for n in found[(None, 0)].names)  # 13 colours: more than MAX_LEVELS


def test_log1p_skips_negative_targets_as_training_does():
    config = _config(["id"], target_transform="log1p")
    found = dict(((s["region"], s["store"]), m) for s, m in _assert_same(_pack(), config))
    assert found[("north", 7)] is None and found[("north", 8)] is not None


def test_packs_it_cannot_take_at_once_go_one_scenario_at_a_time():
    pack = _pack()
    pack["tags"] = [[i] for i in range(len(pack))]  # cells pandas cannot hash: the row's text is hashed
    _assert_same(pack, _config([]))
    words = _pack()
    words["y"] = words["y"].astype(object)
    words.loc[words["store"] == 9, "y"] = "n/a"  # a target of text in one scenario: only that one is lost
    found = dict(((s["region"], s["store"]), m) for s, m in _assert_same(words, _config(["id"])))
    assert found[(None, 9)] is None and found[("north", 8)] is not None


def test_a_surprise_in_the_pack_costs_speed_not_moments(caplog, monkeypatch):
    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("automl.scenario.first_pass.assemble", broken)  # the one-by-one path keeps its own
    with caplog.at_level(logging.WARNING, logger="automl.scenario.first_pass"):
        _assert_same(_pack(), _config(["id"]))
    assert "takes 14 scenarios one at a time: RuntimeError: boom" in caplog.text
