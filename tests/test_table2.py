"""Table 2 with every column measured (lstnet_experiments/reproduction/table2.py), from seed
files written here (no training), and the ``--methods`` flag's refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstnet_experiments.reproduction import reproduce, table2
from lstnet_experiments.reproduction.report import ResultsError, save_per_image


def _seed(root, method, seed, accuracy, correct, output="translator"):
    """A seed file and its per-image arrays: test accuracy per row under both judges."""
    directory = table2.results_directory(root, "smoke", method)
    tests = {judge: {"translator": {d: accuracy[d] for d in accuracy}}
             for judge in ("plain", "augmented")}
    (directory).mkdir(parents=True, exist_ok=True)
    (directory / f"seed{seed}.json").write_text(json.dumps({
        "seed": seed, "preset": "smoke", "method": method, "output": output, "test": tests,
        "provenance": {"config": {"method": method}}}))
    save_per_image(directory / f"correct_seed{seed}.npz",
                   {"test": {judge: correct for judge in ("plain", "augmented")}})


def test_every_measured_column_with_its_pairing_against_lstnet(tmp_path):
    rng = np.random.default_rng(0)
    lstnet = {d: rng.random(50) < 0.8 for d in ("usps_to_mnist", "mnist_to_usps")}
    for seed in (0, 1):
        _seed(tmp_path, "lstnet", seed, {d: float(np.mean(v)) for d, v in lstnet.items()},
              lstnet)
    better = {d: np.ones(50, bool) for d in lstnet}
    _seed(tmp_path, "deepjdot", 0, {"usps_to_mnist": 1.0, "mnist_to_usps": 1.0}, better,
          output="classifier")
    table = table2.build(tmp_path, "smoke")
    assert set(table["columns"]) == {"lstnet", "deepjdot"}
    entry = table["columns"]["deepjdot"]["plain"]["usps_to_mnist"]
    assert entry["n"] == 1 and entry["std"] is None and entry["output"] == "classifier"
    pair = entry["against_lstnet_test"]["0"]
    assert pair["only_method"] == int(np.sum(~lstnet["usps_to_mnist"]))
    assert pair["only_lstnet"] == 0
    assert table["columns"]["lstnet"]["plain"]["mnist_to_usps"]["n"] == 2
    text = table2.markdown(table)
    assert "not run" in text  # CoGAN and UNIT
    assert "| USPS→MNIST (cited) | 0.9315 | 0.9358 | 0.9640 | 0.9701 |" in text
    assert "labelled MNIST → unlabelled USPS" in text
    written = table2.write(tmp_path, "smoke")
    assert written[0].read_text() == text


def test_no_lstnet_seed_is_an_error(tmp_path):
    with pytest.raises(ResultsError, match="no LSTNet seed"):
        table2.write(tmp_path, "smoke")


@pytest.mark.parametrize("argv, message", [
    (["--all", "--methods", "unit", "--method", "unit"], "exclude each other"),
    (["--summary", "--methods", "unit"], "goes with --all"),
    (["--all", "--methods", "lstnet", "unit", "--set", "unit.gan=5"], "has no setting unit.gan"),
])
def test_methods_flag_refusals(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_code:
        reproduce.parse_args([*argv, "--preset", "smoke", "--out", str(tmp_path / "out")])
    assert exit_code.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_methods_flag_places_each_method_under_the_root(tmp_path):
    args = reproduce.parse_args(["--all", "--methods", "cogan", "lstnet", "--preset", "smoke",
                                 "--out", str(tmp_path)])
    assert list(args.configs) == ["cogan", "lstnet"]
    assert args.configs["cogan"].method == "cogan" and args.configs["lstnet"].method == "lstnet"
    assert table2.results_directory(args.root, "smoke", "cogan") == tmp_path / "methods" / "cogan"
    assert table2.results_directory(args.root, "smoke", "lstnet") == tmp_path / "smoke"


def test_methods_run_one_after_the_other_then_the_table_is_written(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(reproduce, "run_all",
                        lambda args: ran.append((args.config.method, args.out)) or 0)

    def fake_write(root, preset):
        path = tmp_path / "table2.md"
        path.write_text(f"{root} {preset}")
        return [path]

    monkeypatch.setattr(table2, "write", fake_write)
    args = reproduce.parse_args(["--all", "--methods", "unit", "lstnet", "--preset", "smoke",
                                 "--out", str(tmp_path)])
    assert reproduce.run_methods(args) == 0
    assert ran == [("unit", tmp_path / "methods" / "unit"), ("lstnet", tmp_path / "smoke")]
    assert (tmp_path / "table2.md").read_text() == f"{tmp_path} smoke"
