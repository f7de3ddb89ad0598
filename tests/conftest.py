"""Test set-up shared by all tests: offline, reading the project's local data directory; one
smoke run of reproduce.py per session, whose outputs and judges the slow tests share."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lstnet_tf.data import DATA_DIR_ENV, NO_DOWNLOAD_ENV

ROOT = Path(__file__).resolve().parents[1]


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


# The slowest modules first (pytest --durations on the 2-core VMs, December 2026): under
# pytest-xdist each module runs whole on one worker (pytest.ini), and the two workers then
# end at about the same time instead of one waiting for a slow module sent last. test_tune
# needs the smoke run at once, so one worker starts it while the other runs test_devices'
# two-replica checks, which need it only later.
SLOWEST_MODULES = ("test_tune.py", "test_devices.py", "test_methods.py", "test_training.py",
                   "test_reproduce.py", "test_vae_transfer.py", "test_precision_check.py",
                   "test_width_curve.py", "test_adaptation.py", "test_lstnet.py",
                   "test_bench.py", "test_step_logger_cost.py")


def pytest_collection_modifyitems(items):
    rank = {name: position for position, name in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a module


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


# ---------------------------------------------------------------------------------------
# One smoke run of reproduce.py for the whole session

SMOKE_TIMEOUT_S = 400


@dataclass
class SmokeRun:
    """The session's end-to-end smoke run: its process, its --out and --work-dir, and a copy of
    the classifiers (judges) it trained, taken right after it finished."""
    result: subprocess.CompletedProcess
    out: Path
    work: Path
    judges: Path

    @property
    def table(self) -> dict:
        return json.loads((self.out / "table2.json").read_text())

    def copy_judges_to(self, work_dir: Path) -> Path:
        """Puts the run's cached classifiers into ``work_dir/classifiers``, where a Runner on
        that work directory finds them (same preset, same split): it trains no judge."""
        shutil.copytree(self.judges, Path(work_dir) / "classifiers", dirs_exist_ok=True)
        return Path(work_dir)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, shared_data_dir) -> SmokeRun:
    """The README's Quick start command as written (`reproduce.py --all --data-dir DATA`), at
    the smoke preset, from a fresh folder, in a fresh process: it trains into the default
    my_results/smoke/ and runs/smoke/ of that folder. Run once per session, by whichever
    pytest-xdist worker needs it first (the others wait for it, under a file lock, and read
    what it wrote); the tests that change its files work on copies (tests/test_reproduce.py
    checks the run itself)."""
    # Workers have their own basetemp in one shared folder: the run goes to that folder.
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    base = shared / "smoke"
    out, work, judges = base / "my_results" / "smoke", base / "runs" / "smoke", base / "judges"
    record = base / "result.json"
    with _exclusive(shared / "smoke.lock"):
        if not record.is_file():
            base.mkdir(exist_ok=True)
            env = dict(os.environ, **{NO_DOWNLOAD_ENV: "1"})
            result = subprocess.run(
                [sys.executable, str(ROOT / "reproduce.py"), "--all", "--data-dir",
                 str(shared_data_dir), "--preset", "smoke", "--no-download"],
                cwd=base, env=env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)
            if result.returncode == 0:
                shutil.copytree(work / "classifiers", judges)
            record.write_text(json.dumps({"args": result.args, "returncode": result.returncode,
                                          "stdout": result.stdout, "stderr": result.stderr}))
    result = subprocess.CompletedProcess(**json.loads(record.read_text()))
    assert result.returncode == 0, (
        f"exit code {result.returncode}\n--- stdout ---\n{_tail(result.stdout)}\n"
        f"--- stderr ---\n{_tail(result.stderr)}")
    return SmokeRun(result, out, work, judges)


@contextlib.contextmanager
def _exclusive(lock_file: Path):
    """Holds an exclusive lock on ``lock_file`` (created if missing) until the block ends."""
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def in_process(capsys):
    """A command's ``main`` run in this process, as ``in_process(main, *args)``: its exit code
    (argparse's exit included) and what it printed, as a ``subprocess.CompletedProcess``."""
    import tensorflow  # noqa: F401  (imported: main() then leaves this process's stderr be)

    def run(main, *args) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit:
            code = exit.code
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)
    return run
