"""The width curve on the smoke preset: one point per width and checkpoint, both judges, from
validation only; a second run resumes and adds nothing twice."""

from __future__ import annotations

import json

import pytest

from lstnet_experiments.studies import width_curve


def test_one_point_per_width_and_checkpoint_under_both_judges(tmp_path, monkeypatch, smoke_run):
    """Both judges are the session smoke run's (the same preset and split), cached in the work
    directory, so that none is trained here."""
    from lstnet_tf import data

    def no_test_set(*args, **kwargs):
        raise AssertionError("the width curve read a test set")

    monkeypatch.setattr(data, "load_test", no_test_set)
    args = ["--preset", "smoke", "--widths", "0.0625", "0.125", "--steps", "4", "--every", "2",
            "--out", str(tmp_path / "out"), "--work-dir", str(tmp_path / "runs")]
    smoke_run.copy_judges_to(tmp_path / "runs")
    assert width_curve.main(args) == 0
    points = json.loads((tmp_path / "out" / "curve.json").read_text())
    assert sorted((p["width"], p["step"]) for p in points) == [
        (0.0625, 2), (0.0625, 4), (0.125, 2), (0.125, 4)]
    for p in points:
        for judge in ("plain", "augmented"):
            assert set(p[judge]) == {"usps_to_mnist", "mnist_to_usps"}
            assert all(0.0 <= v <= 1.0 for v in p[judge].values())
        assert p["seconds_per_step"] > 0 and p["git_commit"] and p["cpu"]
    assert (tmp_path / "out" / "curve.png").is_file()
    assert "| 0.125 | 4 |" in (tmp_path / "out" / "curve.md").read_text()
    # The same command again: every width is trained already; nothing is added twice.
    assert width_curve.main(args) == 0
    assert len(json.loads((tmp_path / "out" / "curve.json").read_text())) == 4


def test_steps_off_the_interval_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        width_curve.main(["--preset", "smoke", "--steps", "5", "--every", "2",
                          "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2 and "--every" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
