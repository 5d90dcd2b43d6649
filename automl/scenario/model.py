"""The fitted artefact of one scenario: transformation + selected features + estimator."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.scenario.features import FeatureEnricher

__all__ = ["ScenarioModel", "encode_labels"]


@dataclass
class ScenarioModel:
    """Everything needed to score new rows of one scenario exactly as its holdout was scored.

    ``classes`` holds the original labels in encoded order (classification only); ``predict`` returns
    ``prediction`` and, for classification, ``probability`` (of the positive class for binary tasks, of
    the predicted class otherwise) and ``class_probabilities`` (JSON, one entry per class).
    """

    task: str
    keys: dict[str, Any]
    enricher: FeatureEnricher
    features: list[str]
    estimator: Any
    family: str
    params: dict[str, Any]
    classes: list[Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score rows sorted by time (if any); their target may be absent."""
        features = self.enricher.transform(frame, with_history=True)[self.features].to_numpy(dtype="float64")
        if self.task == "regression":
            return pd.DataFrame({"prediction": self.estimator.predict(features).astype("float64")},
                                index=frame.index)
        probabilities = self.estimator.predict_proba(features)
        best = probabilities.argmax(axis=1)
        labels = np.asarray(self.classes, dtype=object)
        probability = probabilities[:, -1] if len(labels) == 2 else probabilities[np.arange(len(best)), best]
        return pd.DataFrame({
            "prediction": labels[best],
            "probability": probability.astype("float64"),
            "class_probabilities": [json.dumps({str(c): round(float(p), 6) for c, p in zip(labels, row)})
                                    for row in probabilities],
        }, index=frame.index)


def encode_labels(labels: pd.Series, positive_class: Any = None) -> tuple[np.ndarray, list[Any]]:
    """Codes 0..K-1 and the class list; for binary tasks the positive class is last (code 1)."""
    classes = sorted(labels.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    if positive_class is not None and len(classes) == 2:
        matches = [c for c in classes if c == positive_class or str(c) == str(positive_class)]
        if matches:
            classes = [c for c in classes if c != matches[0]] + [matches[0]]
    index = {c: i for i, c in enumerate(classes)}
    return labels.map(index).to_numpy(dtype="int64"), classes
