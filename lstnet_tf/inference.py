"""The scored translation paths as standalone Keras models.

USPS->MNIST is G1 o E2 = G1* o G_s o E_s o E2*, MNIST->USPS is G2 o E1 = G2* o G_s o E_s o E1*.
``translator`` copies one path out of a trained LSTNet into its own ``keras.Model`` (four
cloned sub-models, plain Keras layers only), with either the final weights or their moving
average. The copy can then get BatchNorm statistics of its own:

- ``"moving"``: the moving averages kept during training. The shared parts E_s and G_s pool
  every call of a training step in them (E_s sees E1*(x1), E2*(x2), E2*(x12), E1*(x21)), so
  no scored path was normalised with exactly these statistics in training.
- ``"recomputed"``: ``recompute_batch_norm_statistics`` replaces them by the statistics of
  training images passed through exactly this path (upstream layers normalising with their
  batch statistics, as in training; the images are not augmented, unlike training batches,
  since the scored images are not either).
- ``"batch"``: every batch is normalised with its own statistics (``training=True``).
"""

from __future__ import annotations

from typing import Callable, Iterable

import keras
import numpy as np

from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS, SOURCE_AND_TARGET  # noqa: F401
from lstnet_tf.domains import domain


def path_parts(networks, direction: str) -> list[keras.Model]:
    """E_source*, E_s, G_s, G_target* of ``direction``, in the order they are applied."""
    source, target = (domain(d).position for d in SOURCE_AND_TARGET[direction])
    return [networks.private_encoders[source], networks.shared_encoders[source],
            networks.shared_generators[target], networks.private_generators[target]]


def model_path(model, direction: str) -> Callable:
    """``direction``'s scored path of the trained ``model`` itself (its ``scored_parts``, no
    copy) as one function, BatchNorm in inference mode."""
    parts = model.scored_parts(direction)

    def path(images):
        for part in parts:
            images = part(images, training=False)
        return images
    return path


def translator(model, direction: str, weights: str = "raw") -> keras.Model:
    """A standalone copy of ``direction``'s path of the LSTNet ``model``.

    ``weights="ema"`` puts the g optimizer's moving average of each trainable weight in the
    copy (BatchNorm's moving statistics are not trainable and are copied as they are). The
    model is left unchanged.
    """
    if weights not in ("raw", "ema"):
        raise ValueError(f"weights must be 'raw' or 'ema', got {weights!r}")
    averages = model.weight_averages() if weights == "ema" else {}
    parts = []
    for part in model.scored_parts(direction):
        copy = keras.models.clone_model(part)
        copy.set_weights(part.get_weights())
        for original, copied in zip(part.trainable_variables, copy.trainable_variables):
            if id(original) in averages:
                copied.assign(averages[id(original)])
        parts.append(copy)
    x = image = keras.Input(parts[0].inputs[0].shape[1:], name="image")
    for part in parts:
        x = part(x)
    return keras.Model(image, x, name=direction)


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batch_norm_layers(layer))
    return found


def recompute_batch_norm_statistics(model: keras.Model, batches: Iterable) -> int:
    """Sets every BatchNorm layer's moving mean/variance to the mean, over ``batches``, of
    the batch means/variances of its input, with the model run as in training.

    Only the moving statistics change (a cumulative average: momentum 1 - 1/k at the k-th
    batch, as torch's ``update_bn``); trainable weights are untouched. Returns the number of
    batches used.
    """
    norms = batch_norm_layers(model)
    momenta = [norm.momentum for norm in norms]
    count = 0
    try:
        for count, batch in enumerate(batches, start=1):
            for norm in norms:
                norm.momentum = 1.0 - 1.0 / count
            model(batch, training=True)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
    return count


def sample_batches(images: np.ndarray, batch_size: int, count: int, seed: int):
    """``count`` batches of ``batch_size`` images drawn without replacement within a batch."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield images[np.sort(rng.choice(len(images), size=batch_size, replace=False))]


def scoring_function(path: keras.Model, batch_norm: str) -> Callable:
    """The function that translates a batch for scoring, given the statistics mode."""
    if batch_norm not in ("moving", "recomputed", "batch"):
        raise ValueError(f"batch_norm must be moving, recomputed or batch, got {batch_norm!r}")
    training = batch_norm == "batch"
    return lambda images: path(images, training=training)


def prepared_translator(model, direction: str, weights: str, batch_norm: str,
                        source_train_images: np.ndarray | None = None, batch_size: int = 64,
                        batches: int = 300, seed: int = 0) -> keras.Model:
    """``translator`` with its BatchNorm statistics set for ``batch_norm``."""
    path = translator(model, direction, weights)
    if batch_norm == "recomputed":
        if source_train_images is None:
            raise ValueError("recomputed BatchNorm statistics need the source training images")
        recompute_batch_norm_statistics(
            path, sample_batches(source_train_images, batch_size, batches, seed))
    return path
