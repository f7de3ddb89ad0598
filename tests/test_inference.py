"""Standalone translators: weights copied or averaged, BatchNorm statistics recomputed."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
from lstnet_tf.inference import (batch_norm_layers, path_parts, prepared_translator,
                                 recompute_batch_norm_statistics, translator)
from lstnet_tf.training import build_model

RNG = np.random.default_rng(0)
X1 = RNG.uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
X2 = RNG.uniform(-1, 1, (16, 16, 16, 1)).astype("float32")


def _tiny_bn_model():
    """Dense(2) -> BN -> Dense(2) -> BN with fixed, non-trivial weights."""
    inputs = keras.Input((3,))
    dense1 = keras.layers.Dense(2, name="dense1")
    bn1 = keras.layers.BatchNormalization(epsilon=1e-3, name="bn1")
    dense2 = keras.layers.Dense(2, name="dense2")
    bn2 = keras.layers.BatchNormalization(epsilon=1e-3, name="bn2")
    model = keras.Model(inputs, bn2(dense2(bn1(dense1(inputs)))))
    dense1.set_weights([np.array([[1.0, -2.0], [0.5, 1.0], [2.0, 0.0]]), np.array([0.1, -0.3])])
    bn1.set_weights([np.array([2.0, 0.5]), np.array([1.0, -1.0]),
                     np.array([7.0, 7.0]), np.array([9.0, 9.0])])
    dense2.set_weights([np.array([[1.0, 1.0], [-1.0, 3.0]]), np.array([0.0, 0.2])])
    return model


def test_recomputed_statistics_equal_a_hand_computation_and_change_nothing_else():
    """Each BN layer's moving mean/variance become the mean over batches of its input's batch
    mean / biased batch variance, upstream BN layers normalising with batch statistics."""
    model = _tiny_bn_model()
    batches = [RNG.normal(size=(5, 3)) for _ in range(4)]
    before = {w.path: w.numpy().copy() for w in model.weights}

    assert recompute_batch_norm_statistics(model, iter(batches)) == 4

    w1, b1 = before["dense1/kernel"], before["dense1/bias"]
    g1, beta1 = before["bn1/gamma"], before["bn1/beta"]
    w2, b2 = before["dense2/kernel"], before["dense2/bias"]
    means1, vars1, means2, vars2 = [], [], [], []
    for x in batches:
        h = x @ w1 + b1
        means1.append(h.mean(0))
        vars1.append(h.var(0))
        h = g1 * (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-3) + beta1
        h = h @ w2 + b2
        means2.append(h.mean(0))
        vars2.append(h.var(0))
    after = {w.path: w.numpy() for w in model.weights}
    np.testing.assert_allclose(after["bn1/moving_mean"], np.mean(means1, 0), rtol=1e-5)
    np.testing.assert_allclose(after["bn1/moving_variance"], np.mean(vars1, 0), rtol=1e-5)
    np.testing.assert_allclose(after["bn2/moving_mean"], np.mean(means2, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after["bn2/moving_variance"], np.mean(vars2, 0), rtol=1e-5)
    for path, value in before.items():
        if "moving" not in path:
            np.testing.assert_array_equal(after[path], value, err_msg=path)
    assert [norm.momentum for norm in batch_norm_layers(model)] == [0.99, 0.99]


@pytest.fixture(scope="module")
def trained():
    """An LSTNet after 3 steps of a tiny run, with a weight average (decay 0.5)."""
    config = ExperimentConfig(model=ModelConfig(width=0.0625),
                              train=TrainConfig(batch_size=4, ema_decay=0.5))
    model = build_model(config, "float32")
    for step in range(3):
        model.train_step((X1[4 * step:4 * step + 4], X2[4 * step:4 * step + 4]))
    return model


def test_raw_translator_gives_the_models_own_translation(trained):
    for direction, own, x in (("usps_to_mnist", trained.translate_2_to_1, X2),
                              ("mnist_to_usps", trained.translate_1_to_2, X1)):
        copy = translator(trained, direction, "raw")
        np.testing.assert_allclose(copy(x, training=False), own(x), atol=1e-6)
        assert copy.name == direction


def test_ema_translator_holds_the_average_computed_by_hand():
    """Decay 0.5 over 3 steps: the average is w1, then (w1 + w2) / 2, then (w1 + w2) / 4 +
    w3 / 2, where w_k are the weights after step k; the model keeps its final weights."""
    config = ExperimentConfig(model=ModelConfig(width=0.0625),
                              train=TrainConfig(batch_size=4, ema_decay=0.5))
    model = build_model(config, "float32")
    originals = [v for part in path_parts(model.networks, "mnist_to_usps")
                 for v in part.trainable_variables]
    after = []
    for step in range(3):
        model.train_step((X1[4 * step:4 * step + 4], X2[4 * step:4 * step + 4]))
        after.append([v.numpy().copy() for v in originals])
    copy = translator(model, "mnist_to_usps", "ema")
    copied = [v for part in copy.layers[1:] for v in part.trainable_variables]
    assert len(originals) == len(copied) > 0
    for k, (value, original) in enumerate(zip(copied, originals)):
        expected = after[0][k] / 4 + after[1][k] / 4 + after[2][k] / 2
        np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5, atol=1e-7,
                                   err_msg=original.path)
        np.testing.assert_array_equal(original.numpy(), after[2][k])
    assert sum(not np.allclose(a, b) for a, b in zip(after[2], after[1])) > len(originals) // 2


def test_statistics_recomputed_from_one_batch_make_inference_equal_training_mode(trained):
    """With a single batch B, every BatchNorm layer of the path, nested ones included, holds
    B's statistics at its input, so inference on B equals the training-mode pass on B."""
    path = translator(trained, "usps_to_mnist", "raw")
    batch = X2[:8]
    assert not np.allclose(path(batch, training=False), path(batch, training=True), atol=1e-3)
    recompute_batch_norm_statistics(path, [batch])
    np.testing.assert_allclose(path(batch, training=False), path(batch, training=True),
                               rtol=1e-4, atol=1e-4)


def test_recomputing_a_paths_statistics_leaves_the_model_unchanged(trained):
    before = [v.numpy().copy() for v in trained.weights]
    path = prepared_translator(trained, "usps_to_mnist", "raw", "recomputed",
                               source_train_images=X2, batch_size=4, batches=3)
    moving = {v.path: v.numpy() for v in path.weights if "moving" in v.path}
    original = {v.path: v.numpy() for part in path_parts(trained.networks, "usps_to_mnist")
                for v in part.weights if "moving" in v.path}
    assert any(not np.allclose(moving[k], original[k]) for k in moving if k in original)
    for v, value in zip(trained.weights, before):
        np.testing.assert_array_equal(v.numpy(), value)


def test_a_saved_translator_reloads_without_lstnet_tf_and_translates_the_same(trained, tmp_path):
    copy = translator(trained, "usps_to_mnist", "ema")
    copy.save(tmp_path / "usps_to_mnist.keras")
    np.save(tmp_path / "x.npy", X2)
    np.save(tmp_path / "expected.npy", copy(X2, training=False).numpy())
    script = (
        "import sys, numpy as np, keras\n"
        f"m = keras.saving.load_model(r'{tmp_path / 'usps_to_mnist.keras'}')\n"
        f"y = m.predict(np.load(r'{tmp_path / 'x.npy'}'), verbose=0)\n"
        f"np.testing.assert_array_equal(y, np.load(r'{tmp_path / 'expected.npy'}'))\n"
        "assert y.shape == (16, 28, 28, 1) and y.min() >= -1 and y.max() <= 1\n"
        "assert not any(name.startswith('lstnet_tf') for name in sys.modules)\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.stdout.strip().endswith("ok"), result.stderr[-2000:]
