"""The domain-adaptation methods (CoGAN, DeepJDOT) through the runner: one training per Table 2
row with its labelled domain's labels only, scored on LSTNet's images, the seed file and
per-image arrays that ``compare`` pairs with LSTNet's, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstnet_experiments.reproduction import reproduce
from lstnet_experiments.reproduction.report import load_per_image


def test_a_deepjdot_seed_runs_end_to_end_on_lstnets_images(tmp_path, shared_data_dir,
                                                           smoke_run):
    # The session smoke run's judges: the same preset and split, so none is trained here.
    out, work = tmp_path / "out", smoke_run.copy_judges_to(tmp_path / "work")
    assert reproduce.main(["--all", "--preset", "smoke", "--method", "deepjdot", "--out",
                           str(out), "--work-dir", str(work), "--data-dir",
                           str(shared_data_dir), "--no-download", "--quiet"]) == 0
    result = json.loads((out / "seed0.json").read_text())
    assert result["method"] == "deepjdot" and result["output"] == "classifier"
    assert "labelled domain only" in result["provenance"]["labels_read"]
    assert result["timing"]["classifier_pairs_trained"] == 0  # the shared judges
    # One training per row, each with its own labelled domain and warm start.
    assert set(result["pretraining"]) == {"usps_to_mnist", "mnist_to_usps"}
    assert result["pretraining"]["usps_to_mnist"]["warm_start"]["domain"] == "mnist"
    assert (work / "deepjdot" / "seed0" / "labelled_mnist" / "checkpoints").is_dir()
    assert (work / "deepjdot" / "seed0" / "labelled_usps" / "checkpoints").is_dir()
    # The same images, in the same order, as LSTNet's rows: what compare pairs.
    correct = load_per_image(out / "correct_seed0.npz")
    lstnet = load_per_image(smoke_run.out / "correct_seed0.npz")  # the smoke run's LSTNet
    for split, judges in lstnet.items():
        for judge in ("plain", "augmented"):
            for direction, lstnet_correct in judges[judge].items():
                assert correct[split][judge][direction].shape == lstnet_correct.shape
                # The method's own classifier: the same answers under either judge.
                np.testing.assert_array_equal(correct[split][judge][direction],
                                              correct[split]["plain"][direction])
    test = result["test"]["plain"]
    for direction in lstnet["test"]["plain"]:
        assert test["translator"][direction] == pytest.approx(
            np.mean(correct["test"]["plain"][direction]))
    models = out / "models" / "seed0"
    assert (models / "adapted_usps_classifier.keras").is_file()
    assert (models / "adapted_mnist_classifier.keras").is_file()
    assert not (models / "usps_to_mnist.keras").exists()
    assert (out / "losses_seed0_labelled_mnist.csv").is_file()
    monitor = (out / "monitor_seed0.csv").read_text().splitlines()
    assert monitor[0].startswith("step,usps_to_mnist,mnist_to_usps")
    assert "own classifier" in (out / "table2.md").read_text()


@pytest.mark.parametrize("method", ["cogan", "deepjdot"])
def test_a_method_that_cannot_run_on_several_devices_is_refused_and_writes_nothing(
        method, tmp_path, capsys):
    out, work = tmp_path / "out", tmp_path / "work"
    with pytest.raises(SystemExit) as exit_code:
        reproduce.main(["--all", "--preset", "smoke", "--method", method, "--devices", "2",
                        "--out", str(out), "--work-dir", str(work)])
    assert exit_code.value.code == 2
    assert "one device" in capsys.readouterr().err
    assert not out.exists() and not work.exists()
