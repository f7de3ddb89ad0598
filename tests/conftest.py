"""Test set-up shared by all tests: offline, reading the project's local data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lstnet_tf.data import DATA_DIR_ENV, NO_DOWNLOAD_ENV


def data_dir_for_tests() -> Path:
    """$LSTNET_DATA_DIR if set, else ../shared/data beside the repository (as laid out for CI)."""
    beside_repository = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get(DATA_DIR_ENV) or beside_repository)


def pytest_sessionstart(session):
    """The suite reads the real MNIST and USPS files (offline): without them, one message that
    names the missing files and how to provide them, instead of dozens of failures."""
    from lstnet_tf.data import DataError, missing_files

    folder = data_dir_for_tests()
    try:
        missing_files(folder, download=False)
    except DataError as error:
        pytest.exit(f"the tests need the MNIST and USPS files in {folder} (set {DATA_DIR_ENV}=DIR, "
                    "or lay a copy out as ../shared/data beside the repository; "
                    "docs/data.md says where to get them; the tests never download).\n"
                    + str(error).split("\nDownloads are off")[0], returncode=4)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return data_dir_for_tests()


@pytest.fixture(scope="session", autouse=True)
def offline_with_shared_data(shared_data_dir):
    """No test may reach the network, and code that loads data by default finds the shared copy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NO_DOWNLOAD_ENV, "1")
        patch.setenv(DATA_DIR_ENV, str(shared_data_dir))
        yield
