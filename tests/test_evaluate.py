"""Evaluation protocol and Table 2 report on hand-made cases whose accuracy is known exactly.

Every image here is constant: its value encodes a digit class (``_encode``), a fake classifier
decodes it, and fake "translations" keep or change it. The expected accuracies follow from
how many images a translation corrupts, never from a real run.
"""

from __future__ import annotations

import csv
import json
import statistics

import numpy as np
import pytest

from lstnet_tf import evaluate
from lstnet_tf.evaluate import (apply_in_batches, evaluate_lstnet, evaluate_source_only,
                                translation_accuracy)
from lstnet_tf.report import (CSV_COLUMNS, build_table, table_csv, table_markdown,
                              write_table2)

MNIST_SIZE, USPS_SIZE = 28, 16


def _encode(labels) -> np.ndarray:
    """Class c -> pixel value -0.9 + 0.2 c (inside [-1, 1], so resizing keeps it)."""
    return -0.9 + 0.2 * np.asarray(labels, dtype=np.float32)


def _decode(values) -> np.ndarray:
    return np.clip(np.rint((np.asarray(values) + 0.9) / 0.2), 0, 9).astype(np.int32)


def _images(labels, size: int) -> np.ndarray:
    """Constant size x size images, one per label, each filled with its encoded class."""
    values = _encode(labels)
    return np.broadcast_to(values[:, None, None, None], (len(values), size, size, 1)).copy()


def _corrupting(size: int, corrupted_classes=()):
    """A fake translation to ``size`` x ``size`` that maps each class in
    ``corrupted_classes`` to the next class and keeps every other class."""
    def translate(images):
        classes = _decode(np.asarray(images)[:, 0, 0, 0])
        wrong = np.isin(classes, list(corrupted_classes))
        classes = np.where(wrong, (classes + 1) % 10, classes)
        return _images(classes, size)
    return translate


class FakeClassifier:
    """Predicts the class encoded in pixel [0, 0, 0]; records the inputs it was given.

    With ``size`` set, it refuses images of another size (the wrong domain's classifier).
    """

    def __init__(self, size: int | None = None):
        self.size = size
        self.shapes: list[tuple] = []

    def predict(self, images, batch_size=None, verbose=0):
        images = np.asarray(images)
        self.shapes.append(images.shape)
        if self.size is not None:
            assert images.shape[1:] == (self.size, self.size, 1), (
                f"classifier for {self.size}x{self.size} given {images.shape}")
        return np.eye(10, dtype=np.float32)[_decode(images[:, 0, 0, 0])]


class FakeLSTNet:
    """translate_2_to_1: USPS -> MNIST size; translate_1_to_2: MNIST -> USPS size.

    Each corrupts its own set of classes, so the two directions have different accuracies.
    """

    def __init__(self, corrupt_2_to_1=(3,), corrupt_1_to_2=(1, 2)):
        self._2_to_1 = _corrupting(MNIST_SIZE, corrupt_2_to_1)
        self._1_to_2 = _corrupting(USPS_SIZE, corrupt_1_to_2)
        self.inputs = {"2_to_1": 0, "1_to_2": 0}

    def translate_2_to_1(self, images):
        assert images.shape[1:] == (USPS_SIZE, USPS_SIZE, 1)
        self.inputs["2_to_1"] += len(images)
        return self._2_to_1(images)

    def translate_1_to_2(self, images):
        assert images.shape[1:] == (MNIST_SIZE, MNIST_SIZE, 1)
        self.inputs["1_to_2"] += len(images)
        return self._1_to_2(images)


@pytest.fixture
def test_sets():
    """30 MNIST and 20 USPS "test images"; the two label sequences differ."""
    y1 = ((np.arange(30) * 3) % 10).astype(np.int32)  # 0 3 6 9 2 5 8 1 4 7 ...
    y2 = (np.arange(20) % 10).astype(np.int32)        # 0 1 2 ... 9 0 1 ...
    return {"mnist": (_images(y1, MNIST_SIZE), y1), "usps": (_images(y2, USPS_SIZE), y2)}


@pytest.fixture
def classifiers():
    return {"mnist": FakeClassifier(MNIST_SIZE), "usps": FakeClassifier(USPS_SIZE)}


# ---------------------------------------------------------------------------------------
# apply_in_batches and translation_accuracy


@pytest.mark.parametrize("n, batch_size, expected_batches", [
    (1234, 500, [500, 500, 234]),
    (7, 3, [3, 3, 1]),
    (6, 3, [3, 3]),
    (5, 500, [5]),
])
def test_apply_in_batches_concatenates_in_order(n, batch_size, expected_batches):
    """Batches cover the images once, in order, and the results are concatenated as float32."""
    images = np.arange(n * 4, dtype=np.float64).reshape(n, 2, 2, 1)
    seen = []

    def fn(batch):
        seen.append(len(batch))
        return 2.0 * batch + 1.0

    result = apply_in_batches(fn, images, batch_size=batch_size)
    assert seen == expected_batches
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, (2.0 * images + 1.0).astype(np.float32))


def test_apply_in_batches_accepts_tensors():
    """An inference function returning TensorFlow tensors gives a numpy array."""
    import tensorflow as tf

    images = np.random.default_rng(0).normal(size=(11, 3, 3, 1)).astype(np.float32)
    result = apply_in_batches(lambda x: tf.convert_to_tensor(x) * 3.0, images, batch_size=4)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, images * 3.0, rtol=1e-6)


def test_identity_translation_with_a_perfect_classifier_scores_one():
    """Identity translation + a classifier that reads the class correctly -> accuracy 1.0."""
    labels = np.arange(50) % 10
    accuracy = translation_accuracy(lambda x: x, FakeClassifier(USPS_SIZE),
                                    _images(labels, USPS_SIZE), labels)
    assert accuracy == 1.0


@pytest.mark.parametrize("corrupted, expected", [
    ((3,), 0.9),
    ((0, 9), 0.8),
    (tuple(range(10)), 0.0),
])
def test_corrupting_a_known_fraction_gives_that_accuracy(corrupted, expected):
    """A translation that changes the class of exactly k of N images scores (N - k) / N,
    also across several inference batches (N = 1200 > the batch size of 500)."""
    labels = np.arange(1200) % 10  # 120 images per class
    classifier = FakeClassifier(MNIST_SIZE)
    accuracy = translation_accuracy(_corrupting(MNIST_SIZE, corrupted), classifier,
                                    _images(labels, USPS_SIZE), labels)
    assert accuracy == pytest.approx(expected, abs=1e-12)
    assert sum(shape[0] for shape in classifier.shapes) == 1200


def test_accuracy_is_measured_against_the_given_labels():
    """Wrong ground-truth labels lower the score even when the translation is perfect."""
    labels = np.arange(40) % 10
    wrong = labels.copy()
    wrong[:10] = (wrong[:10] + 5) % 10  # 10 of 40 labels disagree with the images
    accuracy = translation_accuracy(lambda x: x, FakeClassifier(), _images(labels, 16), wrong)
    assert accuracy == pytest.approx(0.75, abs=1e-12)


# ---------------------------------------------------------------------------------------
# evaluate_lstnet and evaluate_source_only


def test_evaluate_lstnet_scores_both_directions(test_sets, classifiers):
    """USPS->MNIST uses translate_2_to_1, the MNIST classifier and the USPS labels (class 3
    corrupted: 2 of 20 -> 0.9); MNIST->USPS uses translate_1_to_2, the USPS classifier and the
    MNIST labels (classes 1, 2 corrupted: 6 of 30 -> 0.8)."""
    model = FakeLSTNet(corrupt_2_to_1=(3,), corrupt_1_to_2=(1, 2))
    result = evaluate_lstnet(model, classifiers, test_sets)
    assert set(result) == set(evaluate.DIRECTIONS) == {"usps_to_mnist", "mnist_to_usps"}
    assert result["usps_to_mnist"] == pytest.approx(18 / 20, abs=1e-12)
    assert result["mnist_to_usps"] == pytest.approx(24 / 30, abs=1e-12)
    assert model.inputs == {"2_to_1": 20, "1_to_2": 30}


def test_evaluate_lstnet_with_identity_like_translations_scores_one(test_sets, classifiers):
    """Translations that keep every class give 1.0 in both directions."""
    result = evaluate_lstnet(FakeLSTNet((), ()), classifiers, test_sets)
    assert result == {"usps_to_mnist": 1.0, "mnist_to_usps": 1.0}


def test_evaluate_lstnet_honours_limit(test_sets, classifiers):
    """limit=7 translates and scores only the first 7 test images of each domain: USPS
    classes 0..6 (one of them 3) -> 6/7; MNIST classes 0 3 6 9 2 5 8 (one in {1, 2}) -> 6/7."""
    model = FakeLSTNet(corrupt_2_to_1=(3,), corrupt_1_to_2=(1, 2))
    result = evaluate_lstnet(model, classifiers, test_sets, limit=7)
    assert result["usps_to_mnist"] == pytest.approx(6 / 7, abs=1e-12)
    assert result["mnist_to_usps"] == pytest.approx(6 / 7, abs=1e-12)
    assert model.inputs == {"2_to_1": 7, "1_to_2": 7}
    assert sum(s[0] for s in classifiers["mnist"].shapes) == 7
    assert sum(s[0] for s in classifiers["usps"].shapes) == 7


def test_source_only_resizes_to_the_source_classifiers_size(test_sets, classifiers):
    """Source-only: USPS test images go to the MNIST classifier at 28x28 and MNIST test images
    to the USPS classifier at 16x16; constant images keep their class, so both score 1.0."""
    result = evaluate_source_only(classifiers, test_sets)
    assert result == pytest.approx({"usps_to_mnist": 1.0, "mnist_to_usps": 1.0}, abs=1e-12)
    assert classifiers["mnist"].shapes == [(20, MNIST_SIZE, MNIST_SIZE, 1)]
    assert classifiers["usps"].shapes == [(30, USPS_SIZE, USPS_SIZE, 1)]


def test_source_only_scores_against_the_target_labels(test_sets, classifiers):
    """Source-only compares with each target domain's own labels: spoil 5 of the 20 USPS
    labels and 3 of the 30 MNIST labels -> 0.75 and 0.9."""
    (x1, y1), (x2, y2) = test_sets["mnist"], test_sets["usps"]
    y1, y2 = y1.copy(), y2.copy()
    y2[:5] = (y2[:5] + 1) % 10
    y1[-3:] = (y1[-3:] + 1) % 10
    result = evaluate_source_only(classifiers, {"mnist": (x1, y1), "usps": (x2, y2)})
    assert result["usps_to_mnist"] == pytest.approx(0.75, abs=1e-12)
    assert result["mnist_to_usps"] == pytest.approx(0.9, abs=1e-12)


# ---------------------------------------------------------------------------------------
# Table 2: build_table and the writers

PER_SEED_3 = {
    2: {"usps_to_mnist": 0.9, "mnist_to_usps": 0.6},
    0: {"usps_to_mnist": 0.5, "mnist_to_usps": 0.8},
    1: {"usps_to_mnist": 0.7, "mnist_to_usps": 0.7},
}
SOURCE_ONLY = {"usps_to_mnist": 0.31, "mnist_to_usps": 0.42}
CLASSIFIER_ACCURACY = {"mnist": 0.11, "usps": 0.22}
PUBLISHED = {
    "USPS→MNIST": {"CoGAN": 0.9315, "UNIT": 0.9358, "DeepJDOT": 0.964, "LSTNet (paper)": 0.9701,
                   "classifier (paper)": 0.9941},
    "MNIST→USPS": {"CoGAN": 0.9565, "UNIT": 0.9597, "DeepJDOT": 0.957, "LSTNet (paper)": 0.9761,
                   "classifier (paper)": 0.9751},
}


@pytest.fixture
def rows():
    return build_table(PER_SEED_3, SOURCE_ONLY, CLASSIFIER_ACCURACY)


@pytest.fixture
def provenance():
    return {"command": "python reproduce.py --all --seeds 0 1 2", "preset": "test",
            "seeds": [0, 1, 2], "steps": 4, "config": {"model": {"width": 0.5}},
            "environment": {"git_commit": "0123abc", "tensorflow": "x"}}


def test_build_table_rows_and_columns(rows):
    """Two rows, USPS→MNIST then MNIST→USPS, with exactly the CSV columns."""
    assert [r["direction"] for r in rows] == ["USPS→MNIST", "MNIST→USPS"]
    for row in rows:
        assert set(row) == set(CSV_COLUMNS) and len(row) == len(CSV_COLUMNS)


def test_build_table_mean_and_sample_std_over_three_seeds(rows):
    """USPS→MNIST 0.5/0.7/0.9 -> 0.7 ± 0.2; MNIST→USPS 0.8/0.7/0.6 -> 0.7 ± 0.1 (sample std)."""
    by_direction = {r["direction"]: r for r in rows}
    u2m, m2u = by_direction["USPS→MNIST"], by_direction["MNIST→USPS"]
    assert u2m["LSTNet (ours) mean"] == pytest.approx(0.7)
    assert u2m["LSTNet (ours) std"] == pytest.approx(0.2)
    assert m2u["LSTNet (ours) mean"] == pytest.approx(0.7)
    assert m2u["LSTNet (ours) std"] == pytest.approx(0.1)
    assert u2m["LSTNet (ours) per seed"] == {"0": 0.5, "1": 0.7, "2": 0.9}
    assert list(u2m["LSTNet (ours) per seed"]) == ["0", "1", "2"]
    assert m2u["LSTNet (ours) per seed"] == {"0": 0.8, "1": 0.7, "2": 0.6}


def test_build_table_two_seeds_uses_the_sample_std():
    """0.2 and 0.4: mean 0.3, sample std sqrt(0.02) ≈ 0.1414 (not the population 0.1)."""
    rows = build_table({0: {"usps_to_mnist": 0.2, "mnist_to_usps": 0.5},
                        5: {"usps_to_mnist": 0.4, "mnist_to_usps": 0.5}},
                       SOURCE_ONLY, CLASSIFIER_ACCURACY)
    assert rows[0]["LSTNet (ours) mean"] == pytest.approx(0.3)
    assert rows[0]["LSTNet (ours) std"] == pytest.approx(0.02 ** 0.5)
    assert rows[0]["LSTNet (ours) std"] == pytest.approx(statistics.stdev([0.2, 0.4]))
    assert rows[1]["LSTNet (ours) std"] == 0.0
    assert rows[0]["LSTNet (ours) per seed"] == {"0": 0.2, "5": 0.4}


def test_build_table_one_seed_has_zero_std():
    """A single seed: the mean is its value and the std is 0 (not an error)."""
    rows = build_table({3: {"usps_to_mnist": 0.25, "mnist_to_usps": 0.75}},
                       SOURCE_ONLY, CLASSIFIER_ACCURACY)
    assert [(r["LSTNet (ours) mean"], r["LSTNet (ours) std"]) for r in rows] == [(0.25, 0.0),
                                                                                (0.75, 0.0)]


def test_build_table_places_published_source_only_and_classifier_values(rows):
    """Published numbers are the paper's; source-only goes to its direction; each direction
    shows the target-domain classifier (MNIST for USPS→MNIST, USPS for MNIST→USPS)."""
    by_direction = {r["direction"]: r for r in rows}
    for direction, published in PUBLISHED.items():
        for column, value in published.items():
            assert by_direction[direction][column] == value, (direction, column)
    assert by_direction["USPS→MNIST"]["source-only (ours)"] == 0.31
    assert by_direction["MNIST→USPS"]["source-only (ours)"] == 0.42
    assert by_direction["USPS→MNIST"]["classifier (ours)"] == 0.11
    assert by_direction["MNIST→USPS"]["classifier (ours)"] == 0.22


def _csv_rows(text: str) -> tuple[list[str], list[dict]]:
    """The '#' comment lines and the parsed CSV records after them."""
    lines = text.splitlines()
    comments = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    reader = csv.DictReader(body)
    records = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    return comments, records


def test_table_csv_has_the_columns_values_and_provenance_comments(rows, provenance):
    """CSV: '#' provenance lines, then the CSV_COLUMNS header and one record per direction
    whose numbers equal the rows' (per-seed values as JSON)."""
    comments, records = _csv_rows(table_csv(rows, provenance))
    assert any("0123abc" in line for line in comments)
    assert any(line.startswith("# preset") and "test" in line for line in comments)
    assert [r["direction"] for r in records] == ["USPS→MNIST", "MNIST→USPS"]
    for record, row in zip(records, rows):
        for column in CSV_COLUMNS[1:]:
            if column == "LSTNet (ours) per seed":
                assert json.loads(record[column]) == row[column]
            else:
                assert float(record[column]) == pytest.approx(row[column]), column


def test_table_markdown_has_every_row_and_the_provenance(rows, provenance):
    """Markdown: a header with the column names, one line per direction with mean ± std and
    the per-seed values at 4 decimals, and the provenance as JSON."""
    text = table_markdown(rows, provenance)
    header = next(line for line in text.splitlines() if line.startswith("| direction"))
    for column in ("CoGAN", "UNIT", "DeepJDOT", "LSTNet (paper)", "source-only (ours)",
                   "LSTNet (ours)", "per seed", "classifier"):
        assert column in header
    u2m = next(line for line in text.splitlines() if line.startswith("| USPS→MNIST"))
    m2u = next(line for line in text.splitlines() if line.startswith("| MNIST→USPS"))
    assert "0.7000 ± 0.2000" in u2m and "0.7000 ± 0.1000" in m2u
    assert "0: 0.5000, 1: 0.7000, 2: 0.9000" in u2m
    assert "0.9315" in u2m and "0.9761" in m2u
    assert "0.1100 / 0.9941" in u2m and "0.2200 / 0.9751" in m2u
    assert "## Provenance" in text
    provenance_json = text.split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(provenance_json) == provenance


def test_write_table2_writes_three_files_atomically_and_overwrites(tmp_path, rows, provenance):
    """table2.md/.csv/.json are written into a new directory; writing again replaces them and
    leaves no temporary file behind."""
    out = tmp_path / "new" / "out"
    paths = write_table2(out, rows, provenance)
    assert sorted(p.name for p in paths) == ["table2.csv", "table2.json", "table2.md"]
    first = json.loads((out / "table2.json").read_text())
    assert first["rows"] == rows and first["provenance"] == provenance

    changed = build_table({0: {"usps_to_mnist": 0.125, "mnist_to_usps": 0.375}},
                          SOURCE_ONLY, CLASSIFIER_ACCURACY)
    write_table2(out, changed, {**provenance, "seeds": [0]})
    second = json.loads((out / "table2.json").read_text())
    assert second["rows"][0]["LSTNet (ours) mean"] == 0.125
    assert "0.1250 ± 0.0000" in (out / "table2.md").read_text()
    _, records = _csv_rows((out / "table2.csv").read_text())
    assert float(records[1]["LSTNet (ours) mean"]) == 0.375
    assert sorted(p.name for p in out.iterdir()) == ["table2.csv", "table2.json", "table2.md"]
