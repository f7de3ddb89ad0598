"""The evaluation protocol of section 3 (Table 2).

USPS->MNIST: translate the USPS test set with G1(E2(.)) and classify it with the MNIST
classifier. MNIST->USPS: translate the MNIST test set with G2(E1(.)) and classify it with
the USPS classifier. Source-only: the target test images, resized to the source size,
classified with no adaptation (the lower bound).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lstnet_tf.classifier import predict_labels
from lstnet_tf.data import test_images_resized

DIRECTIONS = ("usps_to_mnist", "mnist_to_usps")
DIRECTION_LABELS = {"usps_to_mnist": "USPS→MNIST", "mnist_to_usps": "MNIST→USPS"}


def apply_in_batches(fn: Callable, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Runs an inference function over ``images`` in batches, returning numpy float32."""
    return np.concatenate([np.asarray(fn(images[i:i + batch_size]), dtype=np.float32)
                           for i in range(0, len(images), batch_size)])


def translation_accuracy(translate: Callable, classifier, images, labels) -> float:
    """Accuracy of ``classifier`` on ``translate(images)`` against the source labels."""
    predicted = predict_labels(classifier, apply_in_batches(translate, images))
    return float(np.mean(predicted == labels))


def evaluate_lstnet(model, classifiers: dict, test_sets: dict, limit: int | None = None) -> dict:
    """Both Table 2 directions for a trained LSTNet.

    ``classifiers`` and ``test_sets`` are keyed by "mnist" / "usps"; ``limit`` evaluates only
    the first ``limit`` test images (for monitoring during training).
    """
    (x1, y1), (x2, y2) = test_sets["mnist"], test_sets["usps"]
    return {
        "usps_to_mnist": translation_accuracy(model.translate_2_to_1, classifiers["mnist"],
                                              x2[:limit], y2[:limit]),
        "mnist_to_usps": translation_accuracy(model.translate_1_to_2, classifiers["usps"],
                                              x1[:limit], y1[:limit]),
    }


def evaluate_source_only(classifiers: dict, test_sets: dict) -> dict:
    """The no-adaptation baseline: target test images resized to the source classifier's size."""
    (x1, y1), (x2, y2) = test_sets["mnist"], test_sets["usps"]
    return {
        "usps_to_mnist": translation_accuracy(lambda x: test_images_resized(x, x1.shape[1]),
                                              classifiers["mnist"], x2, y2),
        "mnist_to_usps": translation_accuracy(lambda x: test_images_resized(x, x2.shape[1]),
                                              classifiers["usps"], x1, y1),
    }
