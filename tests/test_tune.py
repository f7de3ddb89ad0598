"""The tuning command on the smoke preset: a study that resumes, a space that is checked, a
killed trial that is failed and retried, overrides that reach the runner, no test set read."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lstnet_experiments.studies import tune, tuning_space

ROOT = Path(__file__).resolve().parents[1]

SPACE = {
    "study": "smoke-study", "preset": "smoke", "seed": 0, "sampler_seed": 0, "checkpoints": 2,
    "equal_cost": True,
    "levers": {
        "cross_cycle_weight": {"fields": ["train.loss_weights.cycle_3",
                                          "train.loss_weights.cycle_4"],
                               "low": 20.0, "high": 400.0, "log": True},
        "batch_size": {"fields": ["train.batch_size"], "choices": [8, 16]},
    },
}


def _space(tmp_path: Path, **changes) -> Path:
    spec = json.loads(json.dumps(SPACE))
    for key, value in changes.items():
        if value is None:
            spec.pop(key)
        else:
            spec[key] = value
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _args(tmp_path: Path, space: Path, *extra) -> list[str]:
    return ["--space", str(space), "--study", str(tmp_path / "study" / "study.db"),
            "--work-dir", str(tmp_path / "runs"), *map(str, extra)]


def _trials(tmp_path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(tmp_path / "study" / "study.db") as db:
        return db.execute("SELECT number, state FROM trials ORDER BY number").fetchall()


@pytest.fixture(scope="module")
def two_trials(tmp_path_factory, smoke_run):
    """``tune --trials 2`` then the same command with ``--trials 1``: the study resumes. The
    judge is the session smoke run's (the same preset and split), cached in the work
    directory, so that none is trained here."""
    tmp = tmp_path_factory.mktemp("tune")
    smoke_run.copy_judges_to(tmp / "runs")
    space = _space(tmp)
    from lstnet_tf import data

    def no_test_set(*args, **kwargs):
        raise AssertionError("the tuner read a test set")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "load_test", no_test_set)
        assert tune.main(_args(tmp, space, "--trials", 2)) == 0
        first = _trials(tmp)
        assert tune.main(_args(tmp, space, "--trials", 1)) == 0
    return tmp, first


def test_two_trials_then_resume_numbers_the_next_trial_2(two_trials):
    tmp, first = two_trials
    assert first == [(0, "COMPLETE"), (1, "COMPLETE")]
    assert _trials(tmp) == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    rows = json.loads((tmp / "study" / "trials.json").read_text())
    assert [r["number"] for r in rows] == [0, 1, 2]
    assert (tmp / "study" / "score_by_trial.png").is_file()
    table = [line for line in (tmp / "study" / "trials.md").read_text().splitlines()
             if line.startswith("|")]
    assert len(table) == 2 + 3 and len({line.count("|") for line in table}) == 1


def test_first_trial_is_the_base_preset_and_every_trial_records_its_provenance(two_trials):
    tmp, _ = two_trials
    rows = json.loads((tmp / "study" / "trials.json").read_text())
    assert rows[0]["params"] == {"cross_cycle_weight": 100.0, "batch_size": 8}
    assert rows[0]["role"] == "the base preset"
    for row in rows:
        assert row["seed"] == 0 and row["git_commit"] and row["machine"]["cpu"]
        assert row["precision"]["precision"] == "float32" and row["wall_seconds"] > 0
        # Two reports per trial (space checkpoints: 2), the last one the trial's value.
        assert [c["step"] for c in row["curve"]] == [row["steps"] // 2, row["steps"]]
        assert row["curve"][-1]["score"] == pytest.approx(row["score"])
        plain = row["curve"][-1]["plain"]
        assert row["score"] == pytest.approx((plain["usps_to_mnist"] + plain["mnist_to_usps"]) / 2)


def test_trial_overrides_reach_the_runners_resolved_config(two_trials):
    tmp, _ = two_trials
    for row in json.loads((tmp / "study" / "trials.json").read_text()):
        recorded = json.loads((tmp / "runs" / row["run_key"] / "seed0" / "config.json").read_text())
        weight = row["params"]["cross_cycle_weight"]
        assert recorded["train"]["loss_weights"]["cycle_3"] == pytest.approx(weight)
        assert recorded["train"]["loss_weights"]["cycle_4"] == pytest.approx(weight)
        assert recorded["train"]["batch_size"] == row["params"]["batch_size"]
        assert recorded["train"]["steps"] == row["steps"]


def test_equal_cost_scales_steps_with_the_flops_per_step(tmp_path):
    space = tuning_space.load_space(_space(tmp_path, checkpoints=1))
    base = tuning_space.space_config(space, {"cross_cycle_weight": 100.0, "batch_size": 8})
    double = tuning_space.space_config(space, {"cross_cycle_weight": 100.0, "batch_size": 16})
    assert base.train.steps == 4  # the smoke preset's
    assert double.train.steps == 2  # twice the images per step: half the steps
    assert tuning_space.iteration_cost(0.25, 64) * 2 == tuning_space.iteration_cost(0.25, 128)
    assert tuning_space.iteration_cost(0.5, 64) > 3 * tuning_space.iteration_cost(0.25, 64)


@pytest.mark.parametrize("change, message", [
    ({"levers": {"x": {"fields": ["train.no_such_field"], "low": 1.0, "high": 2.0}}},
     "unknown config field"),
    ({"levers": {"x": {"fields": ["train.beta_1"], "low": 0.9, "high": 0.5}}}, "empty range"),
    ({"levers": {"x": {"fields": ["train.batch_size"], "choices": []}}}, "non-empty list"),
    ({"levers": {"x": {"fields": ["train.beta_1"], "low": 0.5, "high": 0.9, "step": 1}}},
     "unknown key"),
    ({"budget": 3}, "unknown key"),
    ({"levers": {"x": {"fields": ["train.steps"], "choices": [4, 8]}}}, "not by a lever"),
    ({"levers": {"x": {"fields": ["train.beta_1"], "low": 0.85, "high": 0.9}}},
     "leaves out the base preset's value 0.8"),
    ({"levers": {"x": {"fields": ["model.width"], "low": 0.0, "high": 1.0}}}, "model.width"),
])
def test_a_bad_search_space_exits_2_and_writes_nothing(tmp_path, capsys, change, message):
    space = _space(tmp_path, **change)
    with pytest.raises(SystemExit) as exit_info:
        tune.main(_args(tmp_path, space, "--trials", 1))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "study").exists() and not (tmp_path / "runs").exists()


def test_a_killed_trial_is_failed_and_queued_again_and_the_next_trial_runs(tmp_path, smoke_run):
    # Killed as its training begins (losses.csv is opened then), while the first step is
    # still being traced, which takes seconds: 40 steps are long enough to be killed mid-run.
    space = _space(tmp_path, steps=40)
    smoke_run.copy_judges_to(tmp_path / "runs")  # the judge cached: the trial starts at once
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "lstnet_experiments.studies.tune", *_args(tmp_path, space, "--trials", 1)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (tmp_path / "study" / "study.db").is_file() and (0, "RUNNING") in _trials(tmp_path) \
                and list((tmp_path / "runs").glob("*/seed0/losses.csv")):
            break
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _trials(tmp_path) == [(0, "RUNNING")]
    time.sleep(2)
    # A short grace period: the dead process's heartbeat is older than it.
    assert tune.main(_args(tmp_path, space, "--trials", 1, "--grace-seconds", 1)) == 0
    assert _trials(tmp_path) == [(0, "FAIL"), (1, "COMPLETE")]
    rows = json.loads((tmp_path / "study" / "trials.json").read_text())
    assert rows[1]["retry_of"] == 0 and rows[1]["params"] == rows[0]["params"]


def test_report_without_a_study_exits_2_and_creates_none(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tune.main(_args(tmp_path, _space(tmp_path), "--report"))
    assert exit_info.value.code == 2 and "no study at" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()
