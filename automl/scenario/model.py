"""The fitted artefact of one scenario: transformation + selected features + estimator."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.scenario.calibration import Calibration
from automl.scenario.features import FeatureEnricher

__all__ = ["ScenarioModel", "class_probabilities", "encode_labels"]


@dataclass
class ScenarioModel:
    """Everything needed to score new rows of one scenario exactly as its holdout was scored.

    ``classes`` holds the original labels in encoded order (classification only); ``predict`` returns
    ``prediction`` and, for classification, ``probability`` (of the positive class for binary tasks, of
    the predicted class otherwise) and ``class_probabilities`` (JSON, one entry per class). ``ordered``
    models forecast rows that follow the history (1, 2, ... periods ahead); ``calibration`` keeps class
    probabilities at least as good as the prior on validation.
    """

    task: str
    keys: dict[str, Any]
    enricher: FeatureEnricher
    features: list[str]
    estimator: Any
    family: str
    params: dict[str, Any]
    classes: list[Any] | None = None
    ordered: bool = False
    calibration: Calibration | None = None

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score rows sorted by time (if any), the next periods after the history; their target may be absent."""
        features = self.enricher.transform(frame, with_history=True)[self.features].to_numpy(dtype="float64")
        if self.task == "regression":
            steps = np.arange(1, len(frame) + 1) if self.ordered else None
            return pd.DataFrame({"prediction": np.asarray(self.estimator.predict(features, steps), dtype="float64")},
                                index=frame.index)
        probabilities = class_probabilities(self.estimator, features, len(self.classes or ()))
        if self.calibration is not None:
            probabilities = self.calibration.apply(probabilities)
        best = probabilities.argmax(axis=1)
        labels = np.asarray(self.classes, dtype=object)
        probability = probabilities[:, -1] if len(labels) == 2 else probabilities[np.arange(len(best)), best]
        return pd.DataFrame({
            "prediction": labels[best],
            "probability": probability.astype("float64"),
            "class_probabilities": [json.dumps({str(c): round(float(p), 6) for c, p in zip(labels, row)})
                                    for row in probabilities],
        }, index=frame.index)


def class_probabilities(estimator: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` with one column per class code 0..K-1.

    An estimator fitted on rows that lack a rare class has fewer columns, ordered by its ``classes_``; the
    classes it never saw get probability 0, so columns always mean the same codes as ``encode_labels``.
    """
    proba = np.asarray(estimator.predict_proba(x), dtype="float64")
    seen = getattr(estimator, "classes_", None)
    if seen is None or proba.shape[1] == n_classes:
        return proba
    full = np.zeros((len(proba), n_classes))
    full[:, np.asarray(seen, dtype="int64")] = proba
    return full


def encode_labels(labels: pd.Series, positive_class: Any = None) -> tuple[np.ndarray, list[Any]]:
    """Codes 0..K-1 and the class list; for binary tasks the positive class is last (code 1)."""
    classes = sorted(labels.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    if positive_class is not None and len(classes) == 2:
        matches = [c for c in classes if c == positive_class or str(c) == str(positive_class)]
        if matches:
            classes = [c for c in classes if c != matches[0]] + [matches[0]]
    index = {c: i for i, c in enumerate(classes)}
    return labels.map(index).to_numpy(dtype="int64"), classes
