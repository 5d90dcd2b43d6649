"""Every champion scenario model behind one MLflow pyfunc that routes each input row by its scenario keys.

Input: master-frame rows (after the config's joins, filters and derives; the target may be absent), any
mix of scenarios, in any order. Output: one row per input row, in input order, with the columns of
``automl predict`` (:func:`automl.results.prediction_columns`): scenario keys, sample ids, ``prediction``
(plus ``probability`` and ``class_probabilities`` for classification), ``model_run_id`` (the champion's
training run) and ``error`` ("" when scored; otherwise the reason, and a null prediction). A row of a
scenario without a champion is such a row; a column the models need that is absent from the whole input is
an error naming it.

With ``mlflow.pyfunc.spark_udf``, a scenario's rows must reach the model in one batch when its champion uses
target lags or windows (they reach back over the earlier future rows): ``repartition(*scenario_keys)``
first, as ``automl predict`` groups by scenario. Call the UDF on ``struct(*columns)`` so that the model
sees column names, and take ``metadata["spark_result_type"]`` of the logged model as ``result_type`` (or a
subset of it, e.g. ``"prediction double, error string"``).

The scenario models travel as one artifact, a pickled ``{scenario_id: model file bytes}``: one file to
upload and download however many scenarios there are, and each model is unpickled only when a row of its
scenario arrives (a Spark task scoring a few scenarios loads only those).
"""
from __future__ import annotations

from typing import Any

import cloudpickle
import mlflow
import numpy as np
import pandas as pd

from automl.config import Config
from automl.errors import DataError
from automl.scenario.keys import scenario_id, scenario_label
from automl.scenario.model import ScenarioModel
from automl.scenario.pipeline import predict_scenario
from automl.tracking.pyfunc import model_from_bytes

__all__ = ["BUNDLE_ARTIFACT", "ManyModel", "read_bundle", "write_bundle"]

BUNDLE_ARTIFACT = "scenario_models"
_BUNDLE_FORMAT = "automl.many_model_bundle"


class ManyModel(mlflow.pyfunc.PythonModel):
    """Routes rows to their scenario's champion (see the module docstring).

    Args:
        config: the use case (secrets redacted): keys, sample ids, time column, task.
        run_ids: ``scenario_id`` -> the champion's training run id, for every scenario in the bundle.
        required: input columns every call must carry: keys, sample ids, time column and every raw
            column a champion reads.
        output: the output columns and their Spark types, in order.
        untrained: ``scenario_id`` -> why a trained scenario has no champion (the model set's
            :meth:`~automl.modelset.ModelSet.untrained_reasons`), told in its rows' ``error``.
    """

    def __init__(self, config: Config, run_ids: dict[str, str], required: list[str],
                 output: list[tuple[str, str]], untrained: dict[str, str] | None = None) -> None:
        self.config = config
        self.run_ids = run_ids
        self.required = required
        self.output = output
        self.untrained = dict(untrained or {})
        self._bundle: dict[str, bytes] = {}
        self._models: dict[str, ScenarioModel] = {}

    def load_context(self, context: Any) -> None:
        self._bundle = read_bundle(context.artifacts[BUNDLE_ARTIFACT])
        self._models = {}

    def __getstate__(self) -> dict[str, Any]:
        # MLflow pickles this object into the model; the scenario models travel in the bundle artifact.
        return {**self.__dict__, "_bundle": {}, "_models": {}}

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.score(model_input)

    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One output row per input row, in input order (see the module docstring)."""
        missing = [c for c in self.required if c not in rows.columns]
        if missing:
            raise DataError(f"the many-model's input lacks columns {missing}: it expects master-frame rows (after "
                            f"the config's joins and derives) with the scenario keys {self.config.scenario_keys}, "
                            f"the sample ids and every column the champion models read")
        rows = rows.reset_index(drop=True)
        keys = list(self.config.scenario_keys)
        ids = [c for c in self.config.sample_id_columns if c not in keys]
        out = rows[keys + ids].copy()
        scored_columns = [name for name, _ in self.output if name not in {*keys, *ids, "model_run_id", "error"}]
        values: dict[str, np.ndarray] = {name: np.full(len(rows), None, dtype=object) for name in scored_columns}
        run_ids = np.full(len(rows), "", dtype=object)
        errors = np.full(len(rows), "", dtype=object)
        for key_values, positions in rows.groupby(keys, dropna=False, sort=False).indices.items():
            scenario = dict(zip(keys, key_values if isinstance(key_values, tuple) else (key_values,)))
            identity = scenario_id(scenario)
            run_id = self.run_ids.get(identity, "")
            run_ids[positions] = run_id
            try:
                if not run_id:
                    # getattr: a many-model registered before the reasons were kept has none
                    reason = getattr(self, "untrained", {}).get(identity)
                    raise LookupError(f"scenario {scenario_label(scenario)} has no champion model in this many-model "
                                      f"({reason or 'train it, or check the keys of the input rows'})")
                order, scored = self._score_scenario(rows.iloc[positions], scenario)
            except Exception as exc:  # every input row is still returned, with the reason it has no prediction
                errors[positions] = f"{type(exc).__name__}: {exc}"
                continue
            for name in scored_columns:
                values[name][positions[order]] = scored[name].to_numpy()
        for name in scored_columns:
            out[name] = values[name]
        out["model_run_id"], out["error"] = run_ids, errors
        return _typed(out[[name for name, _ in self.output]], self.output)

    def _score_scenario(self, part: pd.DataFrame, scenario: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame]:
        """The scenario's predictions and, for each, the position in ``part`` of the row it belongs to.

        The pipeline sorts rows by time (stable); sorting first, the same way, tells whose row is whose.
        """
        order = np.arange(len(part))
        time_column = self.config.time_column
        if time_column is not None:
            order = np.argsort(pd.to_datetime(part[time_column]).to_numpy(), kind="stable")
        scored = predict_scenario(part.iloc[order], self._model(scenario), self.config)
        if len(scored) != len(part):
            raise ValueError(f"{len(part)} input rows gave {len(scored)} predictions")
        return order, scored.reset_index(drop=True)

    def _model(self, scenario: dict[str, Any]) -> ScenarioModel:
        key = scenario_id(scenario)
        if key not in self._models:
            self._models[key] = model_from_bytes(self._bundle[key], f"the model of scenario {scenario_label(scenario)}")
        return self._models[key]


def write_bundle(models: dict[str, bytes], path: str) -> None:
    """Write ``{scenario_id: model file bytes}`` as the many-model's one artifact."""
    with open(path, "wb") as out:
        out.write(cloudpickle.dumps({"format": _BUNDLE_FORMAT, "models": models}))


def read_bundle(path: str) -> dict[str, bytes]:
    """The ``{scenario_id: model file bytes}`` written by :func:`write_bundle`."""
    with open(path, "rb") as saved:
        bundle = cloudpickle.loads(saved.read())
    if not isinstance(bundle, dict) or bundle.get("format") != _BUNDLE_FORMAT:
        raise DataError(f"{path} is not an automl many-model bundle")
    return bundle["models"]


_PANDAS_TYPES = {"double": "float64", "float": "float64", "string": "object"}


def _typed(frame: pd.DataFrame, columns: list[tuple[str, str]]) -> pd.DataFrame:
    """Scored columns with the types the signature promises (a column of nulls would otherwise be object)."""
    casts = {name: _PANDAS_TYPES[kind] for name, kind in columns
             if kind in _PANDAS_TYPES and name in frame.columns and frame[name].dtype == object}
    return frame.astype(casts) if casts else frame
