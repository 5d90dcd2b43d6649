"""Log every champion as one :class:`~automl.tracking.many_model.ManyModel` and register it under an alias.

Nothing is half-registered: every champion's model is read and checked before MLflow is contacted, and
the registry is written last (registered model if new, version, alias); when the registry refuses a step,
the steps already done are undone.

The model's environment installs this project as built, never the unrelated ``automl`` of the public
package index: the project's wheel travels inside the model (``artifacts/<wheel>``) and
``requirements.txt`` names it by that relative path, as MLflow's own wheeled models do, so restoring the
environment (``mlflow models serve``, ``spark_udf(env_manager="virtualenv")``) needs no private index and
installs exactly the code that trained the models. Its dependencies are pinned to the versions that
pickled the models (a scikit-learn or LightGBM model is read back reliably only by the same version).
Pinning ``automl-many-models==<version>`` instead would depend on a package index that holds it.
"""
from __future__ import annotations

import contextlib
import glob
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from packaging.requirements import Requirement

import automl
from automl.config import Config, parse_config, redact_config
from automl.errors import ConfigError, DataError, TrackingError
from automl.results import prediction_columns, to_ddl
from automl.scenario.keys import scenario_id, scenario_label
from automl.tracking.many_model import BUNDLE_ARTIFACT, ManyModel, write_bundle
from automl.tracking.pyfunc import model_bytes, model_from_bytes, quiet_pyfunc_save
from automl.tracking.retry import reason
from automl.tracking.runs import JobRun

__all__ = ["DISTRIBUTION", "WHEEL_VARIABLE", "log_many_model", "many_model_signature", "project_wheel"]

log = logging.getLogger(__name__)

DISTRIBUTION = "automl-many-models"
WHEEL_VARIABLE = "AUTOML_WHEEL"  # a built wheel of this project, where no source tree is at hand
_WHEEL_ARTIFACT = "wheel"
_CHAMPION_COLUMNS = ("scenario_id", "model_path", "run_id", "trained_at", "data_fingerprint", "score",
                     "baseline_score", "beats_baseline")
_MLFLOW_TYPES = {"string": "string", "bigint": "long", "long": "long", "int": "integer", "integer": "integer",
                 "smallint": "integer", "tinyint": "integer", "double": "double", "float": "float",
                 "boolean": "boolean", "date": "datetime", "timestamp": "datetime", "timestamp_ntz": "datetime",
                 "binary": "binary"}


def log_many_model(config: Config, champions: pd.DataFrame, *, input_example: pd.DataFrame,
                   input_types: dict[str, str], registered_name: str, alias: str, tracking_uri: str,
                   wheel: str | None = None, untrained: dict[str, str] | None = None) -> dict[str, str]:
    """Log one pyfunc holding every champion, register it as a new version of ``registered_name`` and point
    ``alias`` at it.

    Args:
        config: the use case.
        champions: one row per scenario: the scenario keys, ``scenario_id``, ``model_path`` (a saved
            scenario model, either form), ``run_id``, ``trained_at``, ``data_fingerprint``, ``score``,
            ``baseline_score``, ``beats_baseline``.
        input_example: a few master-frame rows, logged with the model.
        input_types: master-frame column -> Spark type (``bigint``, ``double``, ``timestamp``...), for the
            signature.
        registered_name, alias: where in the Model Registry.
        tracking_uri: the tracking store (and registry) to use; the model is logged in a ``register`` run of
            the config's experiment.
        wheel: this project's built wheel; by default ``$AUTOML_WHEEL``, else built from the source tree.
        untrained: ``scenario_id`` -> why a trained scenario has no champion, for the error of its rows.

    Returns:
        ``{"model_uri": "models:/<name>@<alias>", "version": ..., "alias": ..., "run_id": ..., "logged_uri": ...}``

    Example:
        >>> log_many_model(config, model_set.champions, input_example=rows.head(5), input_types=types,
        ...                registered_name="demand", alias="champion", tracking_uri=uri)  # doctest: +SKIP
    """
    _check_champions(config, champions)
    bundle, read_columns = _read_models(config, champions)
    wheel_path = project_wheel(wheel)
    keys = list(config.scenario_keys)
    required = list(dict.fromkeys([*keys, *config.sample_id_columns,
                                   *([config.time_column] if config.time_column else []), *sorted(read_columns)]))
    signature = many_model_signature(config, input_types, required)
    output = prediction_columns(config, input_types)
    run_ids = dict(zip(champions["scenario_id"], champions["run_id"].astype(str)))
    model = ManyModel(_redacted_config(config), run_ids, required, output, untrained)
    job = JobRun(config, "register", uri=tracking_uri)
    job.start(tags={"automl.registered_model": registered_name, "automl.alias": alias})
    try:
        with tempfile.TemporaryDirectory(prefix="automl-many-model-") as folder:
            bundle_path = os.path.join(folder, "scenario_models.pkl")
            write_bundle(bundle, bundle_path)
            job.log_table(champions, "champions")
            # The fluent API (log_model, and resolving the logged model's URI when registering) uses the
            # process-wide tracking URI.
            with _tracking_uri(tracking_uri):
                with mlflow.start_run(run_id=job.run_id), quiet_pyfunc_save():
                    info = mlflow.pyfunc.log_model(
                        name="many_model", python_model=model,
                        artifacts={BUNDLE_ARTIFACT: bundle_path, _WHEEL_ARTIFACT: wheel_path},
                        signature=signature, input_example=input_example[[c for c in input_example.columns
                                                                          if c in input_types]],
                        pip_requirements=_requirements(wheel_path),
                        metadata={"automl_use_case": config.name, "automl_version": automl.__version__,
                                  "scenarios": len(champions), "scenario_keys": keys,
                                  "spark_result_type": to_ddl(output)})
                version = _register(info.model_uri, job.run_id, registered_name, alias, tracking_uri,
                                    len(champions))
    except BaseException:
        job.finish(False)
        raise
    job.finish(True, tags={"automl.model_version": version})
    log.info("registered %d scenario models as %s version %s (@%s)", len(champions), registered_name, version, alias)
    return {"model_uri": f"models:/{registered_name}@{alias}", "version": version, "alias": alias,
            "run_id": job.run_id, "logged_uri": info.model_uri}


def many_model_signature(config: Config, input_types: dict[str, str], required: list[str]) -> ModelSignature:
    """Inputs: every master-frame column (``required`` ones required, the rest, target included, optional);
    outputs: the prediction columns."""
    unknown = [c for c in required if c not in input_types]
    if unknown:
        raise DataError(f"input_types lacks the types of columns the many-model needs: {unknown}")
    inputs = Schema([ColSpec(_mlflow_type(name, kind), name, required=name in required)
                     for name, kind in input_types.items()])
    outputs = Schema([ColSpec(_mlflow_type(name, kind), name)
                      for name, kind in prediction_columns(config, input_types)])
    return ModelSignature(inputs=inputs, outputs=outputs)


def project_wheel(wheel: str | None = None) -> str:
    """This project's wheel: ``wheel``, else ``$AUTOML_WHEEL``, else built (``pip wheel --no-deps``) from the
    source tree this package runs from. Its name and version must be this package's."""
    given = wheel or os.environ.get(WHEEL_VARIABLE)
    if given:
        if not os.path.isfile(given):
            raise ConfigError(f"the project wheel {given!r} does not exist (argument or ${WHEEL_VARIABLE})")
        _check_wheel(given)
        return given
    root = os.path.dirname(os.path.dirname(os.path.abspath(automl.__file__)))
    if not os.path.isfile(os.path.join(root, "setup.py")):
        raise ConfigError(f"automl runs from {root}, not from its source tree: set ${WHEEL_VARIABLE} to the wheel "
                          f"this environment was installed from, so the registered model installs the same code")
    return _build_wheel(root)


def _build_wheel(root: str) -> str:
    """Build from a copy of the source tree: the checkout gets no ``build/`` or ``.egg-info`` leftovers."""
    target = tempfile.mkdtemp(prefix="automl-wheel-")
    source = os.path.join(target, "source")
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "tests", "data", "output", "spark-warehouse",
        "metastore_db", "mlruns", "mlartifacts", "*.db", ".venv"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", target, source],
                          capture_output=True, text=True, check=False)
    shutil.rmtree(source, ignore_errors=True)
    built = glob.glob(os.path.join(target, "*.whl"))
    if done.returncode != 0 or len(built) != 1:
        raise ConfigError(f"could not build this project's wheel from {root} (pip wheel exited {done.returncode}: "
                          f"{done.stderr.strip()[-500:]}); set ${WHEEL_VARIABLE} to a built wheel")
    _check_wheel(built[0])
    return built[0]


def _check_wheel(path: str) -> None:
    metadata = _wheel_metadata(path)
    found = (metadata.get("Name", ""), metadata.get("Version", ""))
    if found != (DISTRIBUTION, automl.__version__):
        raise ConfigError(f"{path} is {found[0]} {found[1]}, not this project ({DISTRIBUTION} {automl.__version__})")


def _wheel_metadata(path: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if name is None:
            raise ConfigError(f"{path} is not a wheel (no .dist-info/METADATA)")
        return Parser().parsestr(archive.read(name).decode())


def _requirements(wheel_path: str) -> list[str]:
    """The wheel by its path inside the model, and its dependencies pinned to the versions installed here."""
    pinned = []
    for line in _wheel_metadata(wheel_path).get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        try:
            pinned.append(f"{requirement.name}=={importlib.metadata.version(requirement.name)}")
        except importlib.metadata.PackageNotFoundError:
            pinned.append(str(requirement))
    return [f"artifacts/{os.path.basename(wheel_path)}", *pinned]


def _check_champions(config: Config, champions: pd.DataFrame) -> None:
    if champions.empty:
        raise DataError(f"no champion models to register for use case {config.name!r}: train at least one "
                        f"scenario successfully first")
    missing = [c for c in (*config.scenario_keys, *_CHAMPION_COLUMNS) if c not in champions.columns]
    if missing:
        raise DataError(f"the champions table lacks columns {missing}")
    duplicated = champions["scenario_id"].duplicated()
    if duplicated.any():
        raise DataError(f"{int(duplicated.sum())} scenarios appear twice among the champions (first: "
                        f"{champions.loc[duplicated, 'scenario_id'].iloc[0]})")


def _read_models(config: Config, champions: pd.DataFrame) -> tuple[dict[str, bytes], set[str]]:
    """Every champion's model file bytes by scenario id, each checked by loading it, and the raw columns the
    models read. Every unreadable model is reported at once."""
    keys = list(config.scenario_keys)
    bundle: dict[str, bytes] = {}
    read: set[str] = set()
    problems: list[str] = []
    for row in champions.to_dict("records"):
        scenario = {k: row[k] for k in keys}
        label, path = scenario_label(scenario), str(row["model_path"] or "")
        if row["scenario_id"] != scenario_id(scenario):
            problems.append(f"{label}: scenario_id {row['scenario_id']!r} does not match its keys")
            continue
        if not path or not os.path.exists(path):
            problems.append(f"{label}: model file {path!r} is missing")
            continue
        try:
            data = model_bytes(path)
            read.update(model_from_bytes(data, path).enricher.raw_columns_)
        except Exception as exc:  # a foreign or damaged file: named with the others, nothing is registered
            problems.append(f"{label}: {path} cannot be read ({type(exc).__name__}: {exc})")
            continue
        bundle[row["scenario_id"]] = data
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise DataError(f"{len(problems)} of {len(champions)} champion models cannot be registered: {shown}. "
                        f"Retrain those scenarios (or restore their files); nothing was registered")
    read.discard(config.target)
    return bundle, read


def _register(logged_uri: str, run_id: str, name: str, alias: str, uri: str, n_scenarios: int) -> str:
    """Registered model (if new), version and alias; a refused step undoes the ones before it."""
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    created_model, version = False, None
    try:
        try:
            client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            client.create_registered_model(name, description="automl many-model: one pyfunc routing rows to the "
                                                             "champion of their scenario")
            created_model = True
        version = client.create_model_version(name, logged_uri, run_id=run_id,
                                              tags={"automl.scenarios": str(n_scenarios)})
        client.set_registered_model_alias(name, alias, version.version)
    except MlflowException as exc:
        _undo(client, name, version.version if version else None, created_model)
        raise TrackingError(f"the model registry at {uri} refused registered model {name!r} with alias {alias!r} "
                            f"({reason(exc)}); nothing was registered") from None
    return str(version.version)


def _undo(client: mlflow.MlflowClient, name: str, version: str | None, created_model: bool) -> None:
    with contextlib.suppress(MlflowException):
        if created_model:
            client.delete_registered_model(name)
        elif version is not None:
            client.delete_model_version(name, version)


def _mlflow_type(column: str, spark_type: str) -> str:
    kind = spark_type.strip().lower()
    if kind.startswith("decimal"):
        return "double"
    if kind not in _MLFLOW_TYPES:
        raise DataError(f"column {column!r} has Spark type {spark_type!r}, which a model signature cannot hold "
                        f"(supported: {sorted(_MLFLOW_TYPES)}, decimal)")
    return _MLFLOW_TYPES[kind]


def _redacted_config(config: Config) -> Config:
    """The config the model carries: secrets (values from ``${ENV}``) replaced, so none is stored in it."""
    return parse_config(redact_config(config), source=f"{config.name} (registered)")


@contextlib.contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """Set the process-wide tracking URI for a moment, then restore it."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
