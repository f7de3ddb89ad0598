"""The evaluation protocol of section 3 (Table 2), and the paired test against source-only.

USPS->MNIST: translate the USPS images with G1(E2(.)) and classify them with the MNIST
classifier. MNIST->USPS: translate the MNIST images with G2(E1(.)) and classify them with the
USPS classifier. Source-only: the source images, resized to the target size, classified with
no adaptation (the lower bound). The same functions score validation and test sets.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

from lstnet_tf.classifier import predict_labels
from lstnet_tf.inference import model_path
from lstnet_tf.pipeline import test_images_resized
from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS, SOURCE_AND_TARGET  # noqa: F401


def apply_in_batches(fn: Callable, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Runs an inference function over ``images`` in batches, returning numpy float32."""
    return np.concatenate([np.asarray(fn(images[i:i + batch_size]), dtype=np.float32)
                           for i in range(0, len(images), batch_size)])


# The "judges" of a method whose scored path outputs class logits (a domain-adaptation
# method's own classifier, ``LSTNet.OUTPUT == "classifier"``): its outputs are read as they are.
OWN_OUTPUT = {"mnist": None, "usps": None}


def correct_predictions(translate: Callable, classifier, images, labels) -> np.ndarray:
    """Per image: does ``classifier`` give ``translate(image)`` its source label? (With no
    classifier, ``translate`` outputs class logits itself.)"""
    outputs = apply_in_batches(translate, images)
    predicted = (np.argmax(outputs, axis=-1) if classifier is None
                 else predict_labels(classifier, outputs))
    return predicted == np.asarray(labels)


def translation_accuracy(translate: Callable, classifier, images, labels) -> float:
    """Accuracy of ``classifier`` on ``translate(images)`` against the source labels."""
    return float(np.mean(correct_predictions(translate, classifier, images, labels)))


def direction_correct(translators: dict, classifiers: dict, sets: dict,
                      limit: int | None = None) -> dict[str, np.ndarray]:
    """Per direction of ``translators``, which source images are classified correctly after
    translation.

    ``translators[direction]`` maps a batch of source images into the target domain;
    ``classifiers`` and ``sets`` are keyed by domain; ``limit`` scores only the first images.
    """
    correct = {}
    for direction in translators:
        source, target = SOURCE_AND_TARGET[direction]
        x, y = sets[source]
        correct[direction] = correct_predictions(translators[direction], classifiers[target],
                                                 x[:limit], y[:limit])
    return correct


def source_only_translators(sets: dict) -> dict[str, Callable]:
    """The no-adaptation "translation": resize to the target domain's image size."""
    return {direction: (lambda x, size=sets[target][0].shape[1]: test_images_resized(x, size))
            for direction, (_, target) in SOURCE_AND_TARGET.items()}


def lstnet_translators(model) -> dict[str, Callable]:
    """The trained model's own paths, BatchNorm in inference mode (moving statistics)."""
    return {"usps_to_mnist": model.translate_2_to_1, "mnist_to_usps": model.translate_1_to_2}


def accuracies(correct: dict[str, np.ndarray]) -> dict[str, float]:
    return {direction: float(np.mean(values)) for direction, values in correct.items()}


def evaluate_model(model, classifiers: dict, sets: dict, limit: int | None = None) -> dict:
    """The Table 2 directions of a trained model (both for LSTNet), with its moving BatchNorm
    statistics; a model that outputs class logits is read by itself."""
    if model.OUTPUT == "classifier":
        return accuracies(direction_correct(
            {d: model_path(model, d) for d in model.directions}, OWN_OUTPUT, sets, limit))
    return accuracies(direction_correct(lstnet_translators(model), classifiers, sets, limit))


def evaluate_source_only(classifiers: dict, sets: dict) -> dict:
    """The no-adaptation baseline: source images resized to the target classifier's size."""
    return accuracies(direction_correct(source_only_translators(sets), classifiers, sets))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test of two classifiers on the same images (two-sided binomial test on
    the discordant pairs): ``a_only`` images only A gets right, ``b_only`` only B."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError(f"McNemar needs the same images: {correct_a.shape} vs {correct_b.shape}")
    a_only = int(np.sum(correct_a & ~correct_b))
    b_only = int(np.sum(~correct_a & correct_b))
    discordant = a_only + b_only
    p_value = 1.0 if discordant == 0 else float(stats.binomtest(a_only, discordant, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p_value}


def paired_with_source_only(translator_correct: np.ndarray,
                            source_only_correct: np.ndarray) -> dict:
    """The seed file's McNemar record of a translator against source-only on the same images."""
    test = mcnemar(translator_correct, source_only_correct)
    return {"translator_only_correct": test["a_only"], "source_only_correct": test["b_only"],
            "p_value": test["p_value"], "images": int(len(translator_correct))}
