"""Fixtures for tracking tests (helpers in ``tracking_helpers``)."""
from __future__ import annotations

import pytest
from tracking_helpers import MlflowServer


@pytest.fixture
def mlflow_server(tmp_path_factory):
    """A running MLflow server, stopped (whole process group) at teardown."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()
