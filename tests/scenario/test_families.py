"""Contract over every registered family and task: its space samples, builds, fits and predicts with NaNs."""
from __future__ import annotations

import numpy as np
import pytest

from automl.scenario.families import FAMILIES
from automl.scenario.space import Choice, Float, Int
from automl.scenario.tuning import HyperoptTuner

CASES = [(family, task) for family in sorted(FAMILIES) for task in sorted(FAMILIES[family].tasks)]


def _data(task: str, n_classes: int = 2, n_rows: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, 4))
    x[rng.random(x.shape) < 0.1] = np.nan  # features from lags and unseen categories contain NaNs
    x[:, 3] = np.nan  # and a column can be entirely empty
    signal = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1])
    if task == "regression":
        return x, 10 + 3 * signal
    edges = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
    return x, np.digitize(signal, edges).astype("int64")


def _corner(space: dict, pick: str) -> dict:
    """Every parameter at its low (or high) end: the extremes a tuner may reach."""
    params = {}
    for name, dist in space.items():
        if isinstance(dist, Choice):
            params[name] = dist.options[0 if pick == "low" else -1]
        else:
            params[name] = getattr(dist, pick)
    return params


def _fit_predict(family: str, task: str, params: dict, x: np.ndarray, y: np.ndarray, threads: int = 1,
                 bounded: tuple[int, ...] = ()):
    estimator = FAMILIES[family].build(task, params, threads, 7, bounded=bounded).fit(x, y)
    if task == "regression":
        prediction = estimator.predict(x)
        assert prediction.shape == (len(x),) and np.isfinite(prediction).all()
        return prediction
    proba = estimator.predict_proba(x)
    n_classes = len(np.unique(y))
    assert proba.shape == (len(x), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    return proba


@pytest.mark.parametrize(("family", "task"), CASES)
def test_sampled_parameters_build_estimators_that_fit_and_predict(family, task):
    x, y = _data(task)
    space = FAMILIES[family].space
    errors: list[str] = []

    def objective(name: str, params: dict) -> float:
        for param, value in params.items():
            dist = space[param]
            if isinstance(dist, (Int, Float)):
                assert dist.low <= value <= dist.high, (param, value)
                assert isinstance(value, int) == isinstance(dist, Int), (param, value)
            else:
                assert value in dist.options
        try:
            _fit_predict(name, task, params, x, y)
        except Exception as exc:  # the tuner would swallow it: keep it for the assertion below
            errors.append(f"{params}: {type(exc).__name__}: {exc}")
            raise
        return 0.0

    result = HyperoptTuner("random").tune(objective, {family: space}, max_evals=3, timeout_seconds=60, seed=1)
    assert not errors
    assert len(result.trials) == 3


@pytest.mark.parametrize("bounded", [(), (0, 1, 2, 3)], ids=["series", "held_to_range"])
@pytest.mark.parametrize("pick", ["low", "high"])
@pytest.mark.parametrize(("family", "task"), CASES)
def test_the_corners_of_the_space_work(family, task, pick, bounded):
    x, y = _data(task)
    _fit_predict(family, task, _corner(FAMILIES[family].space, pick), x, y, bounded=bounded)


@pytest.mark.parametrize("family", [f for f in sorted(FAMILIES) if "classification" in FAMILIES[f].tasks])
def test_multiclass(family):
    x, y = _data("classification", n_classes=3, n_rows=60)
    _fit_predict(family, "classification", _corner(FAMILIES[family].space, "low"), x, y)


@pytest.mark.parametrize(("family", "task"), CASES)
def test_same_seed_same_model(family, task):
    x, y = _data(task)
    params = _corner(FAMILIES[family].space, "low")
    np.testing.assert_array_equal(_fit_predict(family, task, params, x, y), _fit_predict(family, task, params, x, y))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_estimators_use_exactly_the_given_threads(family):
    estimator = FAMILIES[family].build("regression", _corner(FAMILIES[family].space, "low"), 3, 0)
    threads = {value for name, value in estimator.get_params().items() if name.endswith("n_jobs")}
    assert threads <= {3, None}
    if family in ("lightgbm", "random_forest"):
        assert threads == {3}


def test_registry_is_consistent():
    for name, family in FAMILIES.items():
        assert family.name == name
        assert family.tasks <= {"regression", "classification"} and family.tasks
        assert family.param_names == frozenset(family.space)
        assert family.curve_params <= family.param_names
        for start in (family.defaults, *family.starts):  # every first trial is a point of the space
            assert set(start) == family.param_names
            assert all(value in dist.options for name, dist in family.space.items() if isinstance(dist, Choice)
                       for value in [start[name]])


def test_the_linear_family_holds_bounded_inputs_to_their_fitted_range():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.arange(40.0), rng.normal(size=40)])  # column 0 grows with time, column 1 does not
    y = 2.0 * x[:, 0] + 3.0 * x[:, 1]
    free = FAMILIES["linear"].build("regression", {"alpha": 1e-6}, 1, 0).fit(x, y)
    held = FAMILIES["linear"].build("regression", {"alpha": 1e-6}, 1, 0, bounded=(0,)).fit(x, y)
    beyond = np.array([[100.0, 1.0], [-50.0, 1.0], [np.nan, 1.0], [20.0, 10.0]])

    np.testing.assert_allclose(free.predict(beyond[:1]), [203.0], atol=0.01)  # extrapolated along the slope
    np.testing.assert_allclose(held.predict(beyond[:2]), [2.0 * 39 + 3.0, 0.0 + 3.0], atol=0.01)  # the edges
    np.testing.assert_allclose(held.predict(beyond[2:]), free.predict(beyond[2:]))  # missing; unbounded column


def test_the_linear_family_bends_bounded_inputs_along_a_spline_basis():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(-2.0, 2.0, 200), rng.normal(size=200)])
    y = x[:, 0] ** 2 + x[:, 1]  # a U-shaped effect of column 0, a straight one of column 1
    x[::10, 0] = np.nan  # missing values are imputed before the basis is built
    rows = ~np.isnan(x[:, 0])

    def fitted(knots: int, bounded: tuple[int, ...]):
        return FAMILIES["linear"].build("regression", {"alpha": 1e-3, "spline_knots": knots}, 1, 0,
                                        bounded=bounded).fit(x, y)

    straight, bent = fitted(0, (0, 1)), fitted(8, (0, 1))
    assert np.std(y[rows] - bent.predict(x[rows])) < 0.05 < 1.0 < np.std(y[rows] - straight.predict(x[rows]))
    edge, beyond = np.array([[np.nanmax(x[:, 0]), 0.5]]), np.array([[10.0, 0.5]])
    np.testing.assert_allclose(bent.predict(beyond), bent.predict(edge))  # flat beyond the fitted range
    # A series holds no input to its range, so it gets no basis: the knots change nothing there.
    np.testing.assert_array_equal(fitted(8, ()).predict(x), fitted(0, ()).predict(x))


def test_clipping_leaves_missing_values_and_columns_never_seen_alone():
    from automl.scenario.clipping import ClipToFitRange

    fitted = np.array([[1.0, np.nan, 5.0], [3.0, np.nan, 7.0]])
    clip = ClipToFitRange((0, 1)).fit(fitted)
    out = clip.transform(np.array([[9.0, 9.0, 9.0], [np.nan, -9.0, -9.0], [2.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(out, [[3.0, 9.0, 9.0], [np.nan, -9.0, -9.0], [2.0, 0.0, 0.0]])
    assert list(clip.get_feature_names_out(["a", "b", "c"])) == ["a", "b", "c"]
