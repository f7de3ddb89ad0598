"""The precision comparison: same-seed runs in two precisions, its files, its errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lstnet_experiments.speed import precision_check
from lstnet_tf.data import DATA_DIR_ENV

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def precision_runs(tmp_path_factory, smoke_run):
    """Both precisions trained; the judges are the session smoke run's (the same preset and
    split), put in the work directory's cache, so that none is trained here."""
    root = tmp_path_factory.mktemp("precision")
    smoke_run.copy_judges_to(root / "work")
    argv = ["--preset", "smoke", "--steps", "2", "--monitor-every", "1",
            "--out", str(root / "out"), "--work-dir", str(root / "work")]
    assert precision_check.main(argv) == 0
    return root, argv


def _losses(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_writes_table_json_logs_and_figures(precision_runs):
    root, _ = precision_runs
    out = root / "out"
    rows = json.loads((out / "precision_check.json").read_text())["rows"]
    assert [r["precision"] for r in rows] == ["float32", "mixed_bfloat16"]
    for r in rows:
        assert r["seconds_per_step"] > 0
        assert all(0 <= v <= 1 for v in r["accuracy"].values())
        assert set(r["loss_tail_means"]) == set(precision_check.COMPARED_LOSSES)
        assert len(_losses(out / f"losses_{r['precision']}.csv")) == 2
    text = (out / "precision_check.md").read_text()
    assert "| float32 |" in text and "| mixed_bfloat16 |" in text
    assert "python -m lstnet_experiments.speed.precision_check --preset smoke" in text
    for figure in ("loss_curves.png", "accuracy_monitor.png"):
        assert (out / figure).read_bytes().startswith(PNG_MAGIC)


def test_both_precisions_start_from_the_same_weights_and_batches(precision_runs):
    """Step 1 sees the same initial weights and batch, so only rounding separates the losses;
    different seeds or data would change them by far more than bfloat16's ~3 digits."""
    out = precision_runs[0] / "out"
    first = [_losses(out / f"losses_{p}.csv")[0] for p in ("float32", "mixed_bfloat16")]
    for name in ("d_total", "g_total", "cycle_1", "cycle_4"):
        np.testing.assert_allclose(float(first[1][name]), float(first[0][name]), rtol=0.03)


def test_a_rerun_reuses_the_finished_runs_and_says_they_were_not_timed(precision_runs, capsys):
    root, argv = precision_runs
    assert precision_check.main(argv) == 0
    assert "already trained to step 2" in capsys.readouterr().out
    rows = json.loads((root / "out" / "precision_check.json").read_text())["rows"]
    assert all(r["seconds_per_step"] is None for r in rows)
    assert "| float32 | - |" in (root / "out" / "precision_check.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--precisions", "float32"], "at least two different precisions"),
    (["--steps", "5", "--monitor-every", "2"], "--steps (5) must be a multiple of --monitor-every (2)"),
    (["--preset", "nope"], "invalid choice: 'nope'"),
])
def test_impossible_arguments_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        precision_check.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_missing_data_is_one_clear_error(tmp_path, monkeypatch, capsys):
    """No data anywhere and downloads off: one "error:" line naming the file, exit 1, and
    nothing written."""
    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(empty))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    out, work = tmp_path / "out", tmp_path / "work"
    code = precision_check.main(["--preset", "smoke", "--steps", "2", "--monitor-every", "1",
                                 "--no-download", "--out", str(out), "--work-dir", str(work)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("error:") == 1 and "train-images-idx3-ubyte" in err
    assert not out.exists() and not work.exists()


def test_checkpoint_study_scores_an_earlier_checkpoint_beside_another_run(precision_runs, tmp_path,
                                                                        smoke_run):
    """Step 1 of the float32 run, beside a hand-made seed file at 0.5 everywhere: every
    variant is scored on validation and the difference is the checkpoint's accuracy - 0.5.
    (Its judges, cached in that runs directory, are the session smoke run's.)"""
    from lstnet_experiments.studies import checkpoint_study

    root, _ = precision_runs
    smoke_run.copy_judges_to(root / "work" / "float32")
    beside = tmp_path / "beside"
    beside.mkdir()
    variants = {f"{w}/{b}": {"usps_to_mnist": 0.5, "mnist_to_usps": 0.5}
                for w in ("raw", "ema") for b in ("moving", "recomputed", "batch")}
    (beside / "seed0.json").write_text(json.dumps({"validation": {"variants": variants}}))
    out = tmp_path / "out"
    assert checkpoint_study.main(["--preset", "smoke", "--work-dir", str(root / "work" / "float32"),
                                  "--seed", "0", "--step", "1", "--beside", str(beside),
                                  "--out", str(out)]) == 0
    row = json.loads((out / "checkpoint_seed0.json").read_text())
    assert row["step"] == 1 and row["precision"] == "float32" == row["beside_precision"]
    assert set(row["variants"]) == set(variants)
    u2m = row["variants"]["ema/recomputed"]["usps_to_mnist"]
    assert 0 <= u2m <= 1
    assert (f"| ema/recomputed | USPS→MNIST | 0: {u2m:.4f} / 0.5000 | {u2m - 0.5:+.4f} |"
            in (out / "checkpoints.md").read_text())


def test_checkpoint_study_names_a_step_that_was_not_kept(precision_runs, tmp_path, capsys):
    from lstnet_experiments.studies import checkpoint_study

    root, _ = precision_runs
    (tmp_path / "seed0.json").write_text("{}")
    argv = ["--preset", "smoke", "--work-dir", str(root / "work" / "float32"), "--seed", "0",
            "--beside", str(tmp_path), "--out", str(tmp_path / "out")]
    for step, message in (("7", "no checkpoint of step 7"),
                          ("1", "is not a seed file with validation variants")):
        with pytest.raises(SystemExit):
            checkpoint_study.main(argv + ["--step", step])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
