"""Evaluation protocol and Table 2 report on hand-made cases whose accuracy is known exactly.

Every image here is constant: its value encodes a digit class (``_encode``), a fake classifier
decodes it, and fake "translations" keep or change it. The expected accuracies follow from
how many images a translation corrupts, never from a real run.
"""

from __future__ import annotations


import numpy as np
import pytest

from lstnet_tf import evaluate
from lstnet_tf.evaluate import (apply_in_batches, evaluate_model, evaluate_source_only,
                                translation_accuracy)

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

    OUTPUT = "translator"  # translations, read by the judges (LSTNet.OUTPUT)

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
def held_out_sets():
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
# evaluate_model and evaluate_source_only


def test_evaluate_lstnet_scores_both_directions(held_out_sets, classifiers):
    """USPS->MNIST uses translate_2_to_1, the MNIST classifier and the USPS labels (class 3
    corrupted: 2 of 20 -> 0.9); MNIST->USPS uses translate_1_to_2, the USPS classifier and the
    MNIST labels (classes 1, 2 corrupted: 6 of 30 -> 0.8)."""
    model = FakeLSTNet(corrupt_2_to_1=(3,), corrupt_1_to_2=(1, 2))
    result = evaluate_model(model, classifiers, held_out_sets)
    assert set(result) == set(evaluate.DIRECTIONS) == {"usps_to_mnist", "mnist_to_usps"}
    assert result["usps_to_mnist"] == pytest.approx(18 / 20, abs=1e-12)
    assert result["mnist_to_usps"] == pytest.approx(24 / 30, abs=1e-12)
    assert model.inputs == {"2_to_1": 20, "1_to_2": 30}


def test_evaluate_lstnet_with_identity_like_translations_scores_one(held_out_sets, classifiers):
    """Translations that keep every class give 1.0 in both directions."""
    result = evaluate_model(FakeLSTNet((), ()), classifiers, held_out_sets)
    assert result == {"usps_to_mnist": 1.0, "mnist_to_usps": 1.0}


def test_evaluate_lstnet_honours_limit(held_out_sets, classifiers):
    """limit=7 translates and scores only the first 7 test images of each domain: USPS
    classes 0..6 (one of them 3) -> 6/7; MNIST classes 0 3 6 9 2 5 8 (one in {1, 2}) -> 6/7."""
    model = FakeLSTNet(corrupt_2_to_1=(3,), corrupt_1_to_2=(1, 2))
    result = evaluate_model(model, classifiers, held_out_sets, limit=7)
    assert result["usps_to_mnist"] == pytest.approx(6 / 7, abs=1e-12)
    assert result["mnist_to_usps"] == pytest.approx(6 / 7, abs=1e-12)
    assert model.inputs == {"2_to_1": 7, "1_to_2": 7}
    assert sum(s[0] for s in classifiers["mnist"].shapes) == 7
    assert sum(s[0] for s in classifiers["usps"].shapes) == 7


def test_source_only_resizes_to_the_source_classifiers_size(held_out_sets, classifiers):
    """Source-only: USPS test images go to the MNIST classifier at 28x28 and MNIST test images
    to the USPS classifier at 16x16; constant images keep their class, so both score 1.0."""
    result = evaluate_source_only(classifiers, held_out_sets)
    assert result == pytest.approx({"usps_to_mnist": 1.0, "mnist_to_usps": 1.0}, abs=1e-12)
    assert classifiers["mnist"].shapes == [(20, MNIST_SIZE, MNIST_SIZE, 1)]
    assert classifiers["usps"].shapes == [(30, USPS_SIZE, USPS_SIZE, 1)]


def test_source_only_scores_against_the_target_labels(held_out_sets, classifiers):
    """Source-only compares with each target domain's own labels: spoil 5 of the 20 USPS
    labels and 3 of the 30 MNIST labels -> 0.75 and 0.9."""
    (x1, y1), (x2, y2) = held_out_sets["mnist"], held_out_sets["usps"]
    y1, y2 = y1.copy(), y2.copy()
    y2[:5] = (y2[:5] + 1) % 10
    y1[-3:] = (y1[-3:] + 1) % 10
    result = evaluate_source_only(classifiers, {"mnist": (x1, y1), "usps": (x2, y2)})
    assert result["usps_to_mnist"] == pytest.approx(0.75, abs=1e-12)
    assert result["mnist_to_usps"] == pytest.approx(0.9, abs=1e-12)


# ---------------------------------------------------------------------------------------
# McNemar's paired test


def test_mcnemar_counts_the_discordant_pairs_of_a_hand_made_table():
    """A right / B wrong on 3 images, A wrong / B right on 1, both right on 2, both wrong on 1:
    the exact two-sided binomial p of 3 of 4 discordant pairs is 2 * (4 + 1) / 16 = 0.625."""
    a = np.array([1, 1, 1, 0, 1, 1, 0], bool)
    b = np.array([0, 0, 0, 1, 1, 1, 0], bool)
    result = evaluate.mcnemar(a, b)
    assert (result["a_only"], result["b_only"]) == (3, 1)
    assert result["p_value"] == pytest.approx(0.625)
    swapped = evaluate.mcnemar(b, a)
    assert (swapped["a_only"], swapped["b_only"]) == (1, 3)
    assert swapped["p_value"] == pytest.approx(0.625)


def test_mcnemar_p_value_by_hand_for_a_lopsided_table():
    """10 discordant pairs all won by A: p = 2 * 0.5**10; no discordant pair: p = 1."""
    a, b = np.ones(30, bool), np.r_[np.zeros(10, bool), np.ones(20, bool)]
    assert evaluate.mcnemar(a, b)["p_value"] == pytest.approx(2 * 0.5 ** 10)
    assert evaluate.mcnemar(a, a)["p_value"] == 1.0


def test_mcnemar_refuses_different_image_sets():
    with pytest.raises(ValueError, match="same images"):
        evaluate.mcnemar(np.ones(3, bool), np.ones(4, bool))
