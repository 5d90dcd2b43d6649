"""Holdout splits: the last periods for time-indexed data, random or stratified otherwise."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from automl.errors import ScenarioError

__all__ = ["holdout_rows", "holdout_split", "validation_folds"]


def holdout_rows(size: int | float, n_rows: int) -> int:
    """Rows in a holdout of ``size`` (a fraction or a count) out of ``n_rows``."""
    return int(size) if isinstance(size, int) else max(1, math.ceil(size * n_rows))


def holdout_split(frame: pd.DataFrame, *, method: str, size: int | float, target: str, seed: int,
                  min_train_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and holdout rows of ``frame``.

    For ``method="time"`` the frame must already be sorted by time; the holdout is its tail, so nothing
    after the cut is ever seen in training.

    Example:
        >>> train, test = holdout_split(df, method="time", size=8, target="y", seed=0, min_train_rows=20)  # doctest: +SKIP
    """
    n_rows = len(frame)
    n_test = holdout_rows(size, n_rows)
    if n_rows - n_test < min_train_rows:
        raise ScenarioError(f"too few rows: {n_rows} rows cannot hold a holdout of {n_test} and "
                            f"{min_train_rows} rows to train on")
    positions = np.arange(n_rows)
    if method == "time":
        return positions[:-n_test], positions[-n_test:]
    rng = np.random.default_rng(seed)
    if method == "stratified":
        labels = frame[target].to_numpy()
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) > 1 and counts.min() >= 2:
            # Largest-remainder shares, so the holdout has n_test rows (per-class rounding could add or drop
            # rows and break min_train_rows); every class keeps at least one row on each side.
            quotas = n_test * counts / n_rows
            shares = np.floor(quotas).astype(int)
            shares[np.argsort(shares - quotas, kind="stable")[: n_test - shares.sum()]] += 1
            shares = np.clip(shares, 1, counts - 1)
            test_parts = []
            for label, share in zip(classes, shares):
                members = rng.permutation(positions[labels == label])
                test_parts.append(members[:share])
            test = np.sort(np.concatenate(test_parts))
            return np.setdiff1d(positions, test), test
    shuffled = rng.permutation(positions)
    return np.sort(shuffled[n_test:]), np.sort(shuffled[:n_test])


def validation_folds(frame: pd.DataFrame, *, method: str, size: int | float, folds: int, target: str, seed: int,
                     min_train_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Tuning folds inside the training rows, as (fit positions, validation positions) pairs.

    Time-indexed data gets rolling origins: fold j validates on the j-th window of ``size`` periods counted
    back from the end and fits on everything before it. Other data gets disjoint validation sets: the first
    ``folds`` parts of a seeded k-fold partition (stratified when asked and every class has k rows), with
    k = ``1 / size`` parts (at least ``folds``), so no row is validated twice and the folds' errors do not
    share rows. Averaging over folds keeps one lucky window from choosing the model.
    """
    if method != "time":
        return _disjoint_folds(frame, method=method, size=size, folds=folds, target=target, seed=seed,
                               min_train_rows=min_train_rows)
    n_rows = len(frame)
    width = holdout_rows(size, n_rows)
    positions = np.arange(n_rows)
    pairs = []
    for j in range(folds):
        end = n_rows - j * width
        start = end - width
        if start < min_train_rows:
            break
        pairs.append((positions[:start], positions[start:end]))
    if not pairs:
        raise ScenarioError(f"too few rows to validate: {n_rows} training rows cannot hold a validation window "
                            f"of {width} after {min_train_rows} rows (split.validation_size)")
    return pairs


def _disjoint_folds(frame: pd.DataFrame, *, method: str, size: int | float, folds: int, target: str, seed: int,
                    min_train_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    n_rows = len(frame)
    width = holdout_rows(size, n_rows)
    parts = max(folds, 2, n_rows // max(1, width))
    if n_rows - math.ceil(n_rows / parts) < min_train_rows or parts > n_rows:
        raise ScenarioError(f"too few rows to validate: {n_rows} training rows cannot hold a validation set "
                            f"of {width} and {min_train_rows} rows to fit on (split.validation_size)")
    labels = frame[target].to_numpy()
    splitter = KFold(parts, shuffle=True, random_state=seed)
    if method == "stratified":
        _, counts = np.unique(labels, return_counts=True)
        if len(counts) > 1 and counts.min() >= parts:
            splitter = StratifiedKFold(parts, shuffle=True, random_state=seed)
    pairs = list(splitter.split(np.zeros(n_rows), labels))[:folds]
    return [(np.sort(fit_rows), np.sort(valid_rows)) for fit_rows, valid_rows in pairs]
