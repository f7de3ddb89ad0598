"""Test set-up shared by all tests: offline, reading the project's local data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lstnet_tf.data import DATA_DIR_ENV, NO_DOWNLOAD_ENV


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """$LSTNET_DATA_DIR if set, else ../shared/data beside the repository (as laid out for CI)."""
    beside_repository = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get(DATA_DIR_ENV) or beside_repository)


@pytest.fixture(scope="session", autouse=True)
def offline_with_shared_data(shared_data_dir):
    """No test may reach the network, and code that loads data by default finds the shared copy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NO_DOWNLOAD_ENV, "1")
        patch.setenv(DATA_DIR_ENV, str(shared_data_dir))
        yield
