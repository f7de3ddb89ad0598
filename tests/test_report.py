"""Table 2 aggregated from per-seed result files, on hand-made files whose numbers are known."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from lstnet_experiments.reproduction.report import (CSV_COLUMNS, ResultsError, build_table,
                                       read_seed_results, seed_file, write_table2)

PUBLISHED = {
    "USPS→MNIST": {"CoGAN": 0.9315, "UNIT": 0.9358, "DeepJDOT": 0.964, "LSTNet (paper)": 0.9701,
                   "classifier (paper)": 0.9941},
    "MNIST→USPS": {"CoGAN": 0.9565, "UNIT": 0.9597, "DeepJDOT": 0.957, "LSTNet (paper)": 0.9761,
                   "classifier (paper)": 0.9751},
}


def _judge(u2m, m2u, source_only=(0.5, 0.6), p=(0.01, 0.02), classifiers=(0.99, 0.97)):
    return {
        "classifier_accuracy": {"mnist": classifiers[0], "usps": classifiers[1]},
        "translator": {"usps_to_mnist": u2m, "mnist_to_usps": m2u},
        "source_only": {"usps_to_mnist": source_only[0], "mnist_to_usps": source_only[1]},
        "mcnemar": {"usps_to_mnist": {"p_value": p[0]}, "mnist_to_usps": {"p_value": p[1]}},
    }


def _seed_result(seed, u2m, m2u, config=None, **judge):
    return {
        "seed": seed, "preset": "test", "evaluated": "ema/recomputed",
        # Table 2's judge (plain) first; the second judge (augmented) scores lower here.
        "test": {"plain": _judge(u2m, m2u, **judge), "augmented": _judge(u2m - 0.1, m2u - 0.2)},
        "timing": {"seconds_per_step": 0.5},
        "provenance": {
            "config": config or {"model": {"width": 0.25}}, "command": "python reproduce.py",
            "data_split": {"fraction": 0.1, "seed": 0,
                           "sizes": {"validation": {"mnist": 6000, "usps": 729}}},
            "environment": {"git_commit": "abc1234", "cpu": "test CPU"},
        },
    }


def _write(out, result):
    seed_file(out, result["seed"]).parent.mkdir(parents=True, exist_ok=True)
    seed_file(out, result["seed"]).write_text(json.dumps(result))


@pytest.fixture
def three_seeds(tmp_path):
    for seed, u2m, m2u in ((2, 0.9, 0.6), (0, 0.5, 0.8), (1, 0.7, 0.7)):
        _write(tmp_path, _seed_result(seed, u2m, m2u))
    return tmp_path


def _rows(out):
    return {r["direction"]: r for r in build_table(read_seed_results(out))}


def test_three_seeds_give_mean_and_sample_std_by_hand(three_seeds):
    """USPS→MNIST 0.5/0.7/0.9 -> 0.7 ± 0.2; MNIST→USPS 0.8/0.7/0.6 -> 0.7 ± 0.1, seeds in order."""
    rows = _rows(three_seeds)
    u2m, m2u = rows["USPS→MNIST"], rows["MNIST→USPS"]
    assert list(u2m["judges"]) == ["plain", "augmented"]  # Table 2's judge first
    plain, second = u2m["judges"]["plain"], m2u["judges"]["plain"]
    assert (plain["mean"], plain["std"]) == pytest.approx((0.7, 0.2))
    assert (second["mean"], second["std"]) == pytest.approx((0.7, 0.1))
    assert plain["per_seed"] == {"0": 0.5, "1": 0.7, "2": 0.9}
    assert u2m["seeds"] == m2u["seeds"] == 3
    assert u2m["judges"]["augmented"]["mean"] == pytest.approx(0.6)
    assert m2u["judges"]["augmented"]["per_seed"] == pytest.approx({"0": 0.6, "1": 0.5, "2": 0.4})


def test_adding_a_seed_file_changes_mean_and_std_as_by_hand(three_seeds):
    """A fourth seed at 0.3 / 0.7: USPS→MNIST 0.5/0.7/0.9/0.3 -> mean 0.6, sample std
    sqrt(0.2 / 3); MNIST→USPS 0.8/0.7/0.6/0.7 -> mean 0.7, sample std sqrt(0.02 / 3)."""
    write_table2(three_seeds)
    _write(three_seeds, _seed_result(7, 0.3, 0.7))
    write_table2(three_seeds)
    table = json.loads((three_seeds / "table2.json").read_text())
    u2m, m2u = (row["judges"]["plain"] for row in table["rows"])
    assert u2m["mean"] == pytest.approx(0.6)
    assert u2m["std"] == pytest.approx((0.2 / 3) ** 0.5)
    assert u2m["std"] == pytest.approx(statistics.stdev([0.5, 0.7, 0.9, 0.3]))
    assert m2u["std"] == pytest.approx((0.02 / 3) ** 0.5)
    assert table["summary"]["seeds"] == [0, 1, 2, 7]
    assert "| 4 |" in (three_seeds / "table2.md").read_text()


def test_one_seed_has_no_std(tmp_path):
    _write(tmp_path, _seed_result(3, 0.25, 0.75))
    rows = _rows(tmp_path)
    assert rows["USPS→MNIST"]["judges"]["plain"]["std"] is None
    assert rows["MNIST→USPS"]["judges"]["plain"]["mean"] == 0.75


def test_published_source_only_mcnemar_and_classifier_columns(tmp_path):
    """Published numbers are the paper's; each direction gets its own source-only value and
    p-value, and the target domain's classifier (MNIST for USPS→MNIST)."""
    _write(tmp_path, _seed_result(0, 0.9, 0.8, source_only=(0.31, 0.42), p=(1e-5, 0.2),
                                  classifiers=(0.11, 0.22)))
    rows = _rows(tmp_path)
    for direction, published in PUBLISHED.items():
        for column, value in published.items():
            if column == "classifier (paper)":
                assert rows[direction]["classifier_paper"] == value
            else:
                assert rows[direction]["published"][column] == value
    u2m, m2u = rows["USPS→MNIST"]["judges"]["plain"], rows["MNIST→USPS"]["judges"]["plain"]
    assert u2m["source_only"] == 0.31 and m2u["source_only"] == 0.42
    assert u2m["mcnemar_p_per_seed"] == {"0": 1e-5}
    assert m2u["mcnemar_p_per_seed"] == {"0": 0.2}
    assert u2m["classifier"] == 0.11 and m2u["classifier"] == 0.22


def test_written_tables_agree_with_the_rows(three_seeds):
    """table2.csv has '#' provenance lines, exactly CSV_COLUMNS and the rows' numbers;
    table2.md shows mean ± std, per-seed values and p-values; no temporary file is left."""
    write_table2(three_seeds)
    rows = json.loads((three_seeds / "table2.json").read_text())["rows"]
    lines = (three_seeds / "table2.csv").read_text().splitlines()
    assert any("abc1234" in line for line in lines if line.startswith("#"))
    reader = csv.DictReader([line for line in lines if not line.startswith("#")])
    records = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    for record, row in zip(records, rows):
        assert set(record) == set(CSV_COLUMNS) and record["direction"] == row["direction"]
        expected = {**row["published"], "seeds": row["seeds"],
                    "classifier_paper": row["classifier_paper"],
                    **{f"{judge}_{field}": value for judge, values in row["judges"].items()
                       for field, value in values.items()}}
        for column in CSV_COLUMNS[1:]:
            value = json.loads(record[column])
            assert value == pytest.approx(expected[column]), column
    text = (three_seeds / "table2.md").read_text()
    u2m = next(line for line in text.splitlines() if line.startswith("| USPS→MNIST"))
    assert "0.7000 ± 0.2000" in u2m and "0: 0.5000, 1: 0.7000, 2: 0.9000" in u2m
    assert "0: 0.01" in u2m and "0.9900 / 0.9941" in u2m
    assert not list(three_seeds.glob(".tmp-*"))


def test_seed_files_of_different_configurations_are_not_mixed(three_seeds):
    _write(three_seeds, _seed_result(5, 0.9, 0.9, config={"model": {"width": 1.0}}))
    with pytest.raises(ResultsError, match="different configurations"):
        write_table2(three_seeds)


def test_an_empty_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError, match="reproduce.py --all"):
        write_table2(tmp_path)


def _write_study_seeds(directory, variants_by_seed, config=None):
    """Seed files whose validation holds the given {variant: accuracy} (both directions)."""
    directory.mkdir(exist_ok=True)
    for seed, variants in variants_by_seed.items():
        result = _seed_result(seed, 0.5, 0.5, config=config)
        result["validation"] = {"variants": {
            name: {"usps_to_mnist": v, "mnist_to_usps": v} for name, v in variants.items()}}
        _write(directory, result)
        (directory / f"monitor_seed{seed}.csv").write_text("step,usps_to_mnist\n500,0.5\n1000,0.6\n")


def test_study_compares_variants_on_validation_by_hand(tmp_path):
    """raw/moving 0.8/0.9 on two seeds, ema/recomputed 0.85/0.88: mean gain (0.05 - 0.02) / 2,
    better on one seed of two."""
    from lstnet_experiments.studies import study

    _write_study_seeds(tmp_path, {0: {"raw/moving": 0.8, "ema/recomputed": 0.85},
                                  1: {"raw/moving": 0.9, "ema/recomputed": 0.88}})
    assert study.main([str(tmp_path), "--out", str(tmp_path / "study")]) == 0
    saved = json.loads((tmp_path / "study" / "variants.json").read_text())
    table = saved["results"][str(tmp_path)]["variants"]
    row = table["ema/recomputed"]["usps_to_mnist"]
    assert row["gain_over_baseline"] == pytest.approx(0.015)
    assert row["seeds_better"] == 1 and row["min"] == 0.85
    assert row["mean"] == pytest.approx(0.865)
    text = (tmp_path / "study" / "variants.md").read_text()
    assert "| ema/recomputed | USPS→MNIST | 0: 0.8500, 1: 0.8800 | 0.8650 | 0.8500 | +0.0150 | 1/2 |" in text
    assert "| 1000 | 0.6000 |" in text


def test_study_compares_settings_paired_on_the_seeds_both_ran(tmp_path):
    """The reference has seeds 0, 1 at 0.80 / 0.90 (evaluated variant ema/recomputed); the other
    configuration, 7000 steps with a decay (a field the reference's file predates), has seeds
    0, 2 at 0.86 / 0.70. Its paired gain is over seed 0 only (+0.06, 1 of 1), its mean over
    both of its seeds (0.78), and it differs in both settings."""
    from lstnet_experiments.studies import study

    _write_study_seeds(tmp_path / "short", {0: {"raw/moving": 0.5, "ema/recomputed": 0.80},
                                            1: {"raw/moving": 0.5, "ema/recomputed": 0.90}},
                       config={"train": {"steps": 3500, "precision": "float32"}})
    _write_study_seeds(tmp_path / "long", {0: {"raw/moving": 0.5, "ema/recomputed": 0.86},
                                           2: {"raw/moving": 0.5, "ema/recomputed": 0.70}},
                       config={"train": {"steps": 7000, "precision": "float32",
                                         "lr_decay_start": 0.5}})
    assert study.main([str(tmp_path / "short"), str(tmp_path / "long"),
                       "--out", str(tmp_path / "study")]) == 0
    rows = json.loads((tmp_path / "study" / "variants.json").read_text())["settings"]
    assert [r["differs_in"] for r in rows] == [[], ["train.lr_decay_start", "train.steps"]]
    assert rows[0]["directions"]["mnist_to_usps"]["paired_gain"] is None
    long = rows[1]["directions"]["mnist_to_usps"]
    assert long["paired_gain"] == pytest.approx(0.06)
    assert long["seeds_better"] == "1/1"
    assert long["mean"] == pytest.approx(0.78) and long["min"] == 0.70
    text = (tmp_path / "study" / "variants.md").read_text()
    assert "| 0: 0.8600, 2: 0.7000 | 0.7800 | 0.7000 | +0.0600 | 1/1 |" in text
    assert "| 0: 0.8000, 1: 0.9000 | 0.8500 | 0.8000 | - | - |" in text


def test_a_table_without_the_second_judge(tmp_path):
    """A seed file with one judge only (eval.second_judge off): the table is built from it
    and says the second judge was not run."""
    result = _seed_result(0, 0.9, 0.8)
    del result["test"]["augmented"]
    _write(tmp_path, result)
    write_table2(tmp_path)
    row = json.loads((tmp_path / "table2.json").read_text())["rows"][0]
    assert list(row["judges"]) == ["plain"] and row["judges"]["plain"]["mean"] == 0.9
    assert "Second judge: not run" in (tmp_path / "table2.md").read_text()


def test_seed_files_written_before_the_neutral_names_read_the_same(tmp_path):
    """Committed seed files store the translator's numbers under "lstnet" (any method) and
    hold no term weights; they are read in today's names, not rewritten."""
    old = _seed_result(0, 0.9, 0.8)
    for judged in old["test"].values():
        judged["lstnet"] = judged.pop("translator")
    old["test"]["plain"]["mcnemar"]["usps_to_mnist"].update(lstnet_only_correct=40,
                                                             source_only_correct=3)
    _write(tmp_path, old)
    before = (tmp_path / "seed0.json").read_text()
    (result,) = read_seed_results(tmp_path).values()
    assert result["test"]["plain"]["translator"] == {"usps_to_mnist": 0.9, "mnist_to_usps": 0.8}
    assert "lstnet" not in result["test"]["plain"]
    assert result["test"]["plain"]["mcnemar"]["usps_to_mnist"]["translator_only_correct"] == 40
    assert result["term_weights"] is None
    write_table2(tmp_path)
    table = (tmp_path / "table2.md").read_text()
    assert "0: +40/−3" in table
    assert "Seeds [0]: their files predate the record of the term weights" in table
    assert (tmp_path / "seed0.json").read_text() == before


def test_the_table_names_the_term_weights_the_seeds_recorded(tmp_path):
    for seed in (0, 1):
        result = _seed_result(seed, 0.9, 0.8)
        result["term_weights"] = {"g_adv_1": 20.0, "cycle_1": 100.0}
        _write(tmp_path, result)
    write_table2(tmp_path)
    table = (tmp_path / "table2.md").read_text()
    assert 'Term weights of the objective (seeds [0, 1]): {"cycle_1": 100.0, "g_adv_1": 20.0}' in table
    assert "predate" not in table


def test_paired_counts_show_the_direction_of_the_difference(tmp_path):
    result = _seed_result(0, 0.9, 0.8)
    result["test"]["plain"]["mcnemar"]["usps_to_mnist"].update(
        translator_only_correct=40, source_only_correct=3)
    _write(tmp_path, result)
    write_table2(tmp_path)
    u2m = next(line for line in (tmp_path / "table2.md").read_text().splitlines()
               if line.startswith("| USPS→MNIST"))
    assert "0: +40/−3" in u2m


def test_check_compatible_refuses_another_configuration_before_anything_runs(three_seeds):
    from lstnet_experiments.reproduction.report import check_compatible

    assert check_compatible(three_seeds, {"model": {"width": 0.25}}) == [0, 1, 2]
    with pytest.raises(ResultsError, match="another configuration.*--out"):
        check_compatible(three_seeds, {"model": {"width": 1.0}})
    assert check_compatible(three_seeds / "new", {"model": {"width": 1.0}}) == []


def test_paired_comparison_counts_and_exact_p_by_hand():
    """Only-A / only-B counts, accuracies and the two-sided exact p (2 * 11/1024 for 1 vs 9
    discordant images); swapping A and B swaps the counts and the sign, not the p-value."""
    import numpy as np

    from lstnet_experiments.studies.paired_study import compare_direction, pooled

    a = np.array([1] * 1 + [0] * 9 + [1] * 5 + [0] * 5, bool)
    b = np.array([0] * 1 + [1] * 9 + [1] * 5 + [0] * 5, bool)
    row = compare_direction(a, b)
    assert (row["only_a"], row["only_b"], row["images"]) == (1, 9, 20)
    assert (row["a"], row["b"]) == (6 / 20, 14 / 20)
    assert row["p_value"] == pytest.approx(2 * 11 / 1024)
    swapped = compare_direction(b, a)
    assert (swapped["only_a"], swapped["only_b"]) == (9, 1)
    assert swapped["p_value"] == pytest.approx(row["p_value"])

    second = compare_direction(np.zeros(5, bool), np.ones(5, bool))  # 0 vs 5 discordant
    together = pooled([row, second])
    assert (together["only_a"], together["only_b"]) == (1, 14)
    assert together["p_value"] == pytest.approx(2 * 16 / 2 ** 15)  # P(X >= 14 | n=15) * 2
    assert together["gain"] == pytest.approx((0.4 + 1.0) / 2)
    assert (together["seeds_b_ahead"], together["seeds"]) == (2, 2)
    assert pooled([swapped])["gain"] == pytest.approx(-0.4)


def _with_translators(directory, seeds=(0, 1, 2)):
    for seed in seeds:  # empty translator files: enough for the checks before any loading
        for direction in ("usps_to_mnist", "mnist_to_usps"):
            path = directory / "models" / f"seed{seed}" / f"{direction}.keras"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    return directory


def _other_split(tmp_path):
    other = tmp_path / "other_split"
    _write(other, _seed_result(0, 0.5, 0.8, config={"model": {"width": 0.25},
                                                   "data": {"validation_seed": 1}}))
    return _with_translators(other, seeds=(0,))


PAIRED_STUDY_ERRORS = {
    "seed not in both": (lambda d, tmp: (_with_translators(d), ["--seeds", "5"]),
                         "do not both hold seeds [5]"),
    "no judge": (lambda d, tmp: (_with_translators(d), []), "no mnist classifier for seed 0"),
    "no translators": (lambda d, tmp: (d, []), "usps_to_mnist.keras is missing"),
    "another validation split": (lambda d, tmp: (_other_split(tmp), []),
                                 "different validation splits"),
}


@pytest.mark.parametrize("prepare, mentioned", PAIRED_STUDY_ERRORS.values(),
                         ids=PAIRED_STUDY_ERRORS.keys())
def test_paired_study_usage_errors_name_the_problem(three_seeds, tmp_path, capsys, prepare,
                                                    mentioned):
    """Exit 2 with one line naming the problem, found before any model loads; --out is not
    created."""
    from lstnet_experiments.studies import paired_study

    other, extra = prepare(three_seeds, tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        paired_study.parse_args([str(three_seeds), str(other), "--out",
                                 str(tmp_path / "study"), *extra])
    assert exit_info.value.code == 2
    assert mentioned in capsys.readouterr().err
    assert not (tmp_path / "study").exists()
