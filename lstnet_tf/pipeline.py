"""The training input pipeline: the paper's augmentation, the paired (MNIST, USPS) batch
stream that training reads, and the resize used by the source-only baseline.

This is where a training batch comes from: ``paired_dataset`` draws each step's MNIST and
USPS index batches from per-epoch permutations and augments them, all as a pure function
of (seed, step), so that a resumed run sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

BACKGROUND = -1.0

# The paper's augmentation (section 3): rotation up to +-10 degrees, isotropic scale in
# [0.9, 1.1], shift up to +-2 px in x and y.
MAX_ROTATION_DEG = 10.0
MAX_SCALE_CHANGE = 0.1
MAX_SHIFT_PX = 2.0


def augment_images(images, seed):
    """The paper's augmentation, drawn independently for each image of a (N, H, W, 1) batch.

    Rotation up to +-10 degrees, isotropic scale in [0.9, 1.1] and shift up to +-2 px in x and
    y, about the image centre, with bilinear sampling; uncovered pixels become BACKGROUND.
    ``seed`` is a shape-[2] integer tensor: the same seed gives the same result, in eager and
    graph mode (tf.data). Returns a float32 tensor of the input's shape, clipped to [-1, 1].
    """
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    shape = tf.shape(images)
    draws = tf.random.stateless_uniform([shape[0], 4], seed=seed, minval=-1.0, maxval=1.0)
    angle = draws[:, 0] * (MAX_ROTATION_DEG * math.pi / 180.0)
    scale = 1.0 + MAX_SCALE_CHANGE * draws[:, 1]
    shift_x, shift_y = MAX_SHIFT_PX * draws[:, 2], MAX_SHIFT_PX * draws[:, 3]
    centre_x = (tf.cast(shape[2], tf.float32) - 1.0) / 2.0
    centre_y = (tf.cast(shape[1], tf.float32) - 1.0) / 2.0
    transform = _output_to_input_transform(angle, scale, shift_x, shift_y, centre_x, centre_y)
    moved = keras.ops.image.affine_transform(
        images, transform, interpolation="bilinear", fill_mode="constant",
        fill_value=BACKGROUND, data_format="channels_last")
    return tf.clip_by_value(moved, -1.0, 1.0)


def _output_to_input_transform(angle, scale, shift_x, shift_y, centre_x, centre_y):
    """Rows [a0, a1, a2, b0, b1, b2, 0, 0] for ``affine_transform``, one per image.

    The forward map is out = scale * R(angle) (in - centre) + centre + shift; affine_transform
    wants its inverse, in = R(-angle) (out - centre - shift) / scale + centre.
    """
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    moved_x, moved_y = centre_x + shift_x, centre_y + shift_y
    a2 = centre_x - cos * moved_x - sin * moved_y
    b2 = centre_y + sin * moved_x - cos * moved_y
    zeros = tf.zeros_like(angle)
    return tf.stack([cos, sin, a2, -sin, cos, b2, zeros, zeros], axis=1)


# Second seed words of the four random streams of paired_dataset.
_SHUFFLE_STREAM = (0, 2)  # per domain
_AUGMENT_STREAM = (1, 3)  # per domain


def paired_dataset(x1, x2, batch_size: int | tuple[int, int] = 64, seed: int = 0,
                   augment: bool = True, start_step: int = 0,
                   labelled: tuple[int, np.ndarray] | None = None,
                   per_class: int | None = None) -> tf.data.Dataset:
    """Endless (x1 batch, x2 batch) training pairs, each domain shuffled and cycled on its own.

    Each domain runs through a fresh permutation of its images per epoch (USPS, 8x smaller,
    simply cycles more often); the endless index stream is cut into batches, so a batch may
    hold the end of one epoch and the start of the next. All
    randomness is stateless, derived from ``seed`` and the epoch or global step, so the stream
    is the same on every run whatever the global TF seed, and ``start_step=k`` resumes with
    exactly the batch an uninterrupted run yields at step k: the cheap index stream is
    skipped, and images are gathered and augmented only afterwards.

    ``batch_size`` may be a pair (one per domain). ``labelled = (position, labels)`` names the
    one domain (0: x1, 1: x2) whose training labels a method reads: the stream then yields
    (x1, x2, labels of that domain's batch); the other domain's labels never enter it.
    ``per_class`` (with ``labelled``) makes that domain's batches class-balanced: each step
    takes the first ``per_class`` images of a fresh permutation of every class (its batch
    size is then ``per_class`` x the number of classes).
    """
    sizes = (batch_size, batch_size) if isinstance(batch_size, int) else tuple(batch_size)
    if per_class is not None and labelled is None:
        raise ValueError("per_class balances the labelled domain's batches: pass labelled")
    domains = []
    for domain, (x, size) in enumerate(zip((x1, x2), sizes)):
        if len(x) < size:
            raise ValueError(f"domain {domain + 1} has {len(x)} images, fewer than one batch "
                             f"of {size}")
        domains.append(tf.constant(x, dtype=tf.float32))
    index_streams = [
        _index_batches(len(x), size, _stream_seed(seed, _SHUFFLE_STREAM[d]))
        for d, (x, size) in enumerate(zip(domains, sizes))]
    if labelled is not None:
        position, labels = labelled
        labels = np.asarray(labels)
        if len(labels) != len(domains[position]):
            raise ValueError(f"{len(labels)} labels for {len(domains[position])} images")
        if per_class is not None:
            index_streams[position] = _class_balanced_batches(
                labels, per_class, _stream_seed(seed, _SHUFFLE_STREAM[position]))
        labels = tf.constant(labels, dtype=tf.int32)

    def make_batches(step, indices):
        batches = []
        for domain, (images, batch_indices) in enumerate(zip(domains, indices)):
            batch = tf.gather(images, batch_indices)
            if augment:
                step_seed = tf.random.experimental.stateless_fold_in(
                    _stream_seed(seed, _AUGMENT_STREAM[domain]), step)
                batch = augment_images(batch, step_seed)
            batches.append(batch)
        if labelled is not None:
            batches.append(tf.gather(labels, indices[labelled[0]]))
        return tuple(batches)

    steps = tf.data.Dataset.zip(tuple(index_streams)).enumerate().skip(start_step)
    return steps.map(make_batches, num_parallel_calls=tf.data.AUTOTUNE,
                     deterministic=True).prefetch(tf.data.AUTOTUNE)


def _class_balanced_batches(labels: np.ndarray, per_class: int, seed: tf.Tensor
                            ) -> tf.data.Dataset:
    """Endless index batches of ``per_class`` images of every class, in class order: at step
    k, the first ``per_class`` of a permutation of each class seeded by (seed, k, class)."""
    classes = np.unique(labels)
    members = [tf.constant(np.flatnonzero(labels == c), dtype=tf.int64) for c in classes]
    for c, indices in zip(classes, members):
        if len(indices) < per_class:
            raise ValueError(f"class {c} has {len(indices)} images, fewer than per_class = "
                             f"{per_class}")

    def batch(step):
        step_seed = tf.random.experimental.stateless_fold_in(seed, step)
        return tf.concat([
            tf.random.experimental.stateless_shuffle(
                indices, seed=tf.random.experimental.stateless_fold_in(step_seed, c))[:per_class]
            for c, indices in enumerate(members)], axis=0)

    return tf.data.Dataset.counter().map(batch)


def _stream_seed(seed: int, stream: int) -> tf.Tensor:
    return tf.constant([seed, stream], dtype=tf.int64)


def _index_batches(n: int, batch_size: int, seed: tf.Tensor) -> tf.data.Dataset:
    """Endless batches of indices into n items: epoch e is a permutation seeded by (seed, e)."""
    def permutation(epoch):
        epoch_seed = tf.random.experimental.stateless_fold_in(seed, epoch)
        return tf.random.experimental.stateless_shuffle(tf.range(n), seed=epoch_seed)

    epochs = tf.data.Dataset.counter().map(permutation)
    return epochs.unbatch().batch(batch_size, drop_remainder=True)


def test_images_resized(images, size: int) -> np.ndarray:
    """Bilinear resize of NHWC [-1, 1] images to size x size, antialiased when shrinking.

    Used by the source-only baseline, where a classifier of one domain sees the other
    domain's test images at its own input size.
    """
    images = np.asarray(images, dtype=np.float32)
    resized = tf.image.resize(images, (size, size), method="bilinear",
                              antialias=size < images.shape[1])
    return np.clip(resized.numpy(), -1.0, 1.0)


# Not a test, despite the name: keeps pytest from collecting it where it is imported.
test_images_resized.__test__ = False
