"""Fixtures for the Spark tests: the example data written once, and the shared real datasets."""
from __future__ import annotations

from pathlib import Path

import pytest

from automl.demo_data import write_all

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """Small example data (demand and churn), written once; configs find it through AUTOML_DATA_DIR."""
    root = tmp_path_factory.mktemp("demo-data")
    write_all(root, small=True)
    return root


@pytest.fixture
def data_env(demo_data: Path, tmp_path: Path, monkeypatch) -> Path:
    """Point the example configs at the demo data and a fresh output directory; returns the output dir."""
    output = tmp_path / "output"
    monkeypatch.setenv("AUTOML_DATA_DIR", str(demo_data))
    monkeypatch.setenv("AUTOML_OUTPUT_DIR", str(output))
    return output


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "manifest.json").exists():
        raise FileNotFoundError(f"the shared datasets are expected at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA

