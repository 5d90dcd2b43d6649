"""Use-case config: one YAML file -> validated, typed, immutable settings.

Every problem in a file is reported at once, each located as ``file: field.path: rule (got value)``.
Nothing in a config executes code: YAML is loaded safely (no objects, bounded aliases, no duplicate keys),
Spark expressions may not call functions that reach the JVM, files or the network, and model families /
metrics are chosen by registered name only.

Modules, one job each: :mod:`.schema` (the sections), :mod:`.base` (rules and shared types),
:mod:`.expressions` (the SQL check), :mod:`.yaml_text` (safe YAML), :mod:`.load` (reading, ``${ENV}``,
secrets), :mod:`.overrides` (``--set``), :mod:`.errors` (the problem formatter).
"""
from __future__ import annotations

from automl.config.load import load_config, parse_config, redact, redact_config, secret_values
from automl.config.schema import (ROW_ID, Config, DataConfig, ExecutionConfig, FeaturesConfig, JoinConfig,
                                  MetricsConfig, MlflowConfig, ModelsConfig, OutputConfig, PredictConfig,
                                  SelectionConfig, SparkConfig, SplitConfig, StreamConfig, TuningConfig)

__all__ = [
    "ROW_ID",
    "Config",
    "DataConfig",
    "ExecutionConfig",
    "FeaturesConfig",
    "JoinConfig",
    "MetricsConfig",
    "MlflowConfig",
    "ModelsConfig",
    "OutputConfig",
    "PredictConfig",
    "SelectionConfig",
    "SparkConfig",
    "SplitConfig",
    "StreamConfig",
    "TuningConfig",
    "load_config",
    "parse_config",
    "redact",
    "redact_config",
    "secret_values",
]
