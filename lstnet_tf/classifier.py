"""The source-domain digit classifiers that score translations (section 3).

The paper does not describe its classifiers. We use a standard small CNN (two 3x3 conv
blocks of 32 and 64 channels, each conv followed by BatchNorm and ReLU, max-pooling and
dropout after each block, then Dense 128 and Dense 10), trained with Adam on the training
split with the same augmentation as LSTNet (or, for the stricter second judge, without any).
Each is trained once per seed and cached with its validation accuracy, under a key that
includes a fingerprint of the code that defines and trains it (``definition_version``): a
changed architecture, augmentation or training loop trains new classifiers instead of reusing
old ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from lstnet_tf import files, pipeline
from lstnet_tf.config import ClassifierConfig
from lstnet_tf.domains import NUM_CLASSES
from lstnet_tf.files import write_atomically



def build_classifier(image_size: int, name: str) -> keras.Model:
    """Small CNN returning class logits for (image_size, image_size, 1) images in [-1, 1]."""
    image = keras.Input((image_size, image_size, 1), name="image")
    x = image
    for block, filters in enumerate((32, 64), start=1):
        for conv in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              name=f"block{block}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
        x = layers.Dropout(0.25, name=f"block{block}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dropout(0.5, name="dense_dropout")(x)
    logits = layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name=name)


def classifier_on(backbone: keras.Model, name: str, head=None) -> keras.Model:
    """A classifier made of a feature extractor ``backbone`` (images -> feature maps) and a
    ``head`` returning class logits (default: global average pooling + Dense)."""
    image = keras.Input(backbone.inputs[0].shape[1:], name="image")
    if head is None:
        pool = layers.GlobalAveragePooling2D(dtype="float32", name="pool")
        dense = layers.Dense(NUM_CLASSES, dtype="float32", name="logits")
        head = lambda features: dense(pool(features))  # noqa: E731
    return keras.Model(image, head(backbone(image)), name=name)


def predict_labels(classifier: keras.Model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    logits = classifier.predict(images, batch_size=batch_size, verbose=0)
    return np.argmax(logits, axis=-1).astype(np.int32)


def accuracy(classifier: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict_labels(classifier, images) == labels))


def _training_dataset(images, labels, config: ClassifierConfig, seed: int) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(config.batch_size, drop_remainder=True)
    if config.augment:
        ds = ds.enumerate().map(
            lambda step, batch: (pipeline.augment_images(batch[0],
                                                         tf.stack([tf.cast(seed, tf.int64), step])),
                                 batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def train_classifier(domain: str, train_data, eval_data, config: ClassifierConfig, seed: int,
                     epochs: int, verbose: int = 1, backbone: keras.Model | None = None,
                     head=None) -> tuple[keras.Model, float]:
    """Trains a classifier on ``train_data``; returns it and its accuracy on ``eval_data``.
    With a ``backbone``, the classifier is that feature extractor with a ``head``
    (``classifier_on``), and their weights are trained in place."""
    (x_train, y_train), (x_test, y_test) = train_data, eval_data
    keras.utils.set_random_seed(seed)
    name = f"{domain}_classifier"
    model = (build_classifier(x_train.shape[1], name) if backbone is None
             else classifier_on(backbone, name, head))
    steps = config.steps_per_epoch or len(x_train) // config.batch_size
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(config.learning_rate, steps * epochs)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(_training_dataset(x_train, y_train, config, seed), epochs=epochs,
              steps_per_epoch=steps, verbose=verbose, shuffle=False)
    return model, accuracy(model, x_test, y_test)


def definition_version() -> str:
    """A fingerprint of the source of everything that decides a classifier: its architecture,
    its training data stream, the augmentation and the training loop."""
    return files.definition_version(
        (build_classifier, _training_dataset, pipeline.augment_images, train_classifier))


def cache_path(domain: str, config: ClassifierConfig, seed: int, cache_dir: Path,
               data_key: str = "") -> Path:
    """Where the classifier of (domain, seed, config, data_key) is cached."""
    epochs = config.mnist_epochs if domain == "mnist" else config.usps_epochs
    key = (f"{domain}-seed{seed}-e{epochs}-b{config.batch_size}-lr{config.learning_rate:g}"
           f"-aug{int(config.augment)}-s{config.steps_per_epoch}{data_key}"
           f"-def{definition_version()}")
    return Path(cache_dir) / f"{key}.keras"


def load_or_train_classifier(domain: str, train_data, validation_data, config: ClassifierConfig,
                             seed: int, cache_dir: Path, verbose: int = 1,
                             data_key: str = "") -> tuple[keras.Model, float]:
    """Returns the cached classifier for (domain, seed, config, data_key) or trains and
    caches it, with its accuracy on ``validation_data``. ``data_key`` names the training
    split (a different split must not reuse a cached classifier)."""
    epochs = config.mnist_epochs if domain == "mnist" else config.usps_epochs
    model_path = cache_path(domain, config, seed, cache_dir, data_key)
    info_path = model_path.with_suffix(".json")
    if model_path.is_file() and info_path.is_file():
        print(f"Using cached {domain} classifier {model_path}")
        info = json.loads(info_path.read_text())
        # Uncompiled: a judge only predicts, and carries no optimizer state into copies.
        return keras.models.load_model(model_path, compile=False), info["validation_accuracy"]
    judge = "augmented" if config.augment else "no augmentation"
    print(f"Training the {domain} classifier ({judge}, {epochs} epochs, seed {seed})", flush=True)
    model, validation_accuracy = train_classifier(domain, train_data, validation_data, config,
                                                  seed, epochs, verbose)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = model_path.with_name(f".tmp-{model_path.name}")
    model.save(tmp)
    os.replace(tmp, model_path)
    write_atomically(info_path, json.dumps({"validation_accuracy": validation_accuracy,
                                            "epochs": epochs,
                                            "definition_version": definition_version()}))
    print(f"{domain} classifier validation accuracy: {validation_accuracy:.4f}")
    return model, validation_accuracy


def load_or_train_classifiers(splits: dict, config: ClassifierConfig, seed: int, cache_dir: Path,
                              verbose: int = 1, data_key: str = "") -> tuple[dict, dict]:
    """The MNIST and USPS classifiers of ``seed`` and their validation accuracies, keyed by
    domain. ``splits`` is ``data.load_splits()``'s ``{"train"|"validation": {domain: (x, y)}}``.
    """
    classifiers, accuracies = {}, {}
    for domain in ("mnist", "usps"):
        classifiers[domain], accuracies[domain] = load_or_train_classifier(
            domain, splits["train"][domain], splits["validation"][domain], config, seed,
            cache_dir, verbose=verbose, data_key=data_key)
    return classifiers, accuracies
