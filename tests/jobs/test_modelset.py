"""The model set: promotion rules, atomic storage, version checks (pandas and files only)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from automl.config import parse_config
from automl.errors import AutoMLError
from automl.modelset import ModelSet, config_hash, promote


def _config(tmp_path, **models) -> object:
    return parse_config({"name": "u", "task": "regression", "scenario_keys": ["s"], "target": "y",
                         "data": {"streams": [{"name": "rows", "path": "rows.parquet"}]},
                         "output": {"path": str(tmp_path)}, "models": models})


def _results(*rows: dict) -> pd.DataFrame:
    base = {"status": "ok", "score": 1.0, "baseline_score": 2.0, "beats_baseline": True, "model_path": "/m",
            "model_uri": "", "mlflow_run_id": "", "data_fingerprint": "f", "primary_metric": "rmse",
            "best_family": "linear"}
    return pd.DataFrame([{**base, **row, "scenario_id": f"id-{row['s']}"} for row in rows])


def test_a_partial_run_replaces_only_its_scenarios(tmp_path):
    config = _config(tmp_path)
    first, _ = promote(None, _results({"s": "a"}, {"s": "b"}), config, run_id="r1", meta={})
    second, notes = promote(first, _results({"s": "b", "status": "failed"}, {"s": "c"}), config, run_id="r2",
                            meta={})
    runs = second.champions.set_index("s")["run_id"].to_dict()
    assert runs == {"a": "r1", "b": "r1", "c": "r2"}
    assert notes["id-b"][0] == "r1" and notes["id-b"][1].startswith("failed: kept the champion of run r1")
    assert notes["id-c"] == ("r2", "promoted")


def test_beats_baseline_policy_holds_back_a_weaker_model_but_never_leaves_a_scenario_without_one(tmp_path):
    config = _config(tmp_path, promote="beats_baseline")
    first, _ = promote(None, _results({"s": "a", "beats_baseline": False}), config, run_id="r1", meta={})
    assert first.champions["run_id"].tolist() == ["r1"]  # nothing earlier: a model beats no model
    second, notes = promote(first, _results({"s": "a", "beats_baseline": False}), config, run_id="r2", meta={})
    assert second.champions["run_id"].tolist() == ["r1"]
    assert notes["id-a"][1].startswith("not promoted: does not beat its naive baseline")
    always, _ = promote(first, _results({"s": "a", "beats_baseline": False}), _config(tmp_path), run_id="r2",
                        meta={})
    assert always.champions["run_id"].tolist() == ["r2"]


def test_write_and_read_back_and_refuse_another_format_version(tmp_path):
    config = _config(tmp_path)
    model_set, _ = promote(None, _results({"s": "a"}), config, run_id="r1", meta={"use_case": "u"})
    model_set.write(config.output_path)
    read = ModelSet.read(config.output_path)
    assert read.models() == {"id-a": ("/m", "r1")} and read.meta["use_case"] == "u"
    assert read.champions["config_hash"].tolist() == [config_hash(config)]
    meta = tmp_path / "model_set" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format_version": 99}))
    with pytest.raises(AutoMLError, match=r"model set format version 99 is not the 1"):
        ModelSet.read(config.output_path)


def test_no_model_set_says_how_to_get_one(tmp_path):
    with pytest.raises(AutoMLError, match="run 'automl train' first"):
        ModelSet.read(str(tmp_path))
    assert ModelSet.read(str(tmp_path), required=False) is None


def test_the_config_hash_follows_modelling_settings_only(tmp_path):
    base = config_hash(_config(tmp_path))
    assert config_hash(_config(tmp_path / "elsewhere")) == base  # output path: not a modelling setting
    assert config_hash(_config(tmp_path, families=["linear"])) != base


def test_scenarios_without_a_champion_keep_the_latest_reason_until_one_trains(tmp_path):
    config = _config(tmp_path)
    first, _ = promote(None, _results({"s": "a"}, {"s": "b", "status": "skipped", "error": "too few rows: 9"}),
                       config, run_id="r1", meta={})
    assert first.untrained_reasons() == {"id-b": "training run r1: skipped: too few rows: 9"}
    second, _ = promote(first, _results({"s": "a", "status": "failed", "error": "boom"},
                                        {"s": "c", "status": "failed", "error": float("nan")}), config,
                        run_id="r2", meta={})
    # a keeps its champion (not untrained); b keeps run r1's reason; c's missing error is blank, not "nan"
    assert second.untrained_reasons() == {"id-b": "training run r1: skipped: too few rows: 9",
                                          "id-c": "training run r2: failed: "}
    second.write(config.output_path)
    assert ModelSet.read(config.output_path).untrained_reasons() == second.untrained_reasons()
    third, _ = promote(second, _results({"s": "b"}), config, run_id="r3", meta={})
    assert set(third.untrained_reasons()) == {"id-c"} and "id-b" in third.models()


def test_a_model_set_written_before_untrained_scenarios_were_kept_reads_with_none(tmp_path):
    config = _config(tmp_path)
    model_set, _ = promote(None, _results({"s": "a"}), config, run_id="r1", meta={})
    model_set.write(config.output_path)
    (tmp_path / "model_set" / "untrained.parquet").unlink()
    assert ModelSet.read(config.output_path).untrained_reasons() == {}
