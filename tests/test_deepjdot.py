"""DeepJDOT (lstnet_tf/methods/deepjdot.py): the transport plan, the objective against an
independent NumPy computation, the class-balanced labelled stream, that the unlabelled
domain's labels never reach training, saving, and the runner's one training per Table 2 row."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linprog

from lstnet_tf.config import ConfigError, ExperimentConfig, ModelConfig, TrainConfig, load_config
from lstnet_tf.methods.deepjdot import label_costs, squared_distances, transport_plan
from lstnet_tf.method_config import (DeepJDOTBatch, DeepJDOTConfig, DeepJDOTTransport,
                                     DeepJDOTWeights)
from lstnet_tf.pipeline import paired_dataset
from lstnet_tf.training import build_model

TINY = ModelConfig(width=0.0625)
# Distinct weights, so that a swapped pair of terms fails the objective test.
WEIGHTS = DeepJDOTWeights(source_classification=2.0, alignment=0.01, target_classification=0.3)


def _config(labelled="mnist", label_cost="cross_entropy", **train):
    return ExperimentConfig(
        method="deepjdot", model=TINY,
        train=TrainConfig(precision="float32", labelled_domain=labelled, **train),
        deepjdot=DeepJDOTConfig(weights=WEIGHTS, batch=DeepJDOTBatch(source_per_class=1,
                                                                     target=6),
                                transport=DeepJDOTTransport(label_cost=label_cost)))


def _data(seed=0, n1=40, n2=30):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n1, 28, 28, 1)).astype("float32"), np.arange(n1) % 10,
            rng.uniform(-1, 1, (n2, 16, 16, 1)).astype("float32"), rng.integers(0, 10, n2))


# ---------------------------------------------------------------- the transport plan


def test_the_plan_is_the_exact_optimum_with_uniform_marginals():
    rng = np.random.default_rng(0)
    cost = rng.uniform(0, 1, (4, 6))
    plan = transport_plan(cost)
    np.testing.assert_allclose(plan.sum(axis=1), np.full(4, 1 / 4))
    np.testing.assert_allclose(plan.sum(axis=0), np.full(6, 1 / 6))
    # The same problem as a linear programme (an independent solver).
    rows = np.kron(np.eye(4), np.ones(6))
    cols = np.kron(np.ones(4), np.eye(6))
    lp = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]),
                 b_eq=np.concatenate([np.full(4, 1 / 4), np.full(6, 1 / 6)]), bounds=(0, None))
    assert float(np.sum(plan * cost)) == pytest.approx(lp.fun, abs=1e-12)


def test_a_plan_stopped_short_is_an_error_that_names_the_setting():
    cost = np.random.default_rng(0).uniform(0, 1, (30, 30))
    with pytest.raises(RuntimeError, match="deepjdot.transport.max_iterations"):
        transport_plan(cost, max_iterations=2)


def test_the_plan_follows_the_features():
    a = np.array([[0.0], [10.0]])
    b = np.array([[0.1], [10.1]])
    near = transport_plan(squared_distances(tf.constant(a), tf.constant(b)).numpy())
    far = transport_plan(squared_distances(tf.constant(a), tf.constant(b[::-1])).numpy())
    np.testing.assert_allclose(near, [[0.5, 0], [0, 0.5]])
    np.testing.assert_allclose(far, [[0, 0.5], [0.5, 0]])


def test_label_costs_against_numpy():
    rng = np.random.default_rng(1)
    labels, logits = np.array([3, 0, 3]), rng.normal(size=(5, 10)).astype("float32")
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ce = label_costs(tf.constant(labels), tf.constant(logits), "cross_entropy").numpy()
    np.testing.assert_allclose(ce, -np.log(p[:, labels]).T, rtol=1e-5)
    se = label_costs(tf.constant(labels), tf.constant(logits), "squared_error").numpy()
    np.testing.assert_allclose(se, ((np.eye(10)[labels][:, None] - p[None]) ** 2).sum(-1),
                               rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ the objective


@pytest.mark.parametrize("labelled, label_cost", [("mnist", "cross_entropy"),
                                                  ("usps", "squared_error")])
def test_objective_equals_an_independent_computation(labelled, label_cost):
    keras.utils.set_random_seed(0)
    model = build_model(_config(labelled, label_cost))
    x1, y1, x2, y2 = _data()
    x1, x2 = x1[:10], x2[:6]
    labels = (y1[:10] if labelled == "mnist" else y2[:6]).astype("int32")
    t = model.translate_all(x1, x2, training=True)
    t["labels"] = tf.constant(labels)
    losses = model.generator_losses(x1, x2, t)

    g_s, g_t = (t["g_s"].numpy().astype(np.float64), t["g_t"].numpy().astype(np.float64))
    f_s, f_t = t["f_s"].numpy().astype(np.float64), t["f_t"].numpy().astype(np.float64)
    assert g_s.shape[0] == len(labels)  # s is the labelled domain's batch
    distances = ((g_s[:, None] - g_t[None]) ** 2).sum(-1)
    p_t = np.exp(f_t - f_t.max(1, keepdims=True))
    p_t /= p_t.sum(1, keepdims=True)
    cross_entropy = -np.log(p_t[:, labels]).T
    label_cost = (cross_entropy if label_cost == "cross_entropy"
                  else ((np.eye(10)[labels][:, None] - p_t[None]) ** 2).sum(-1))
    gamma = transport_plan(WEIGHTS.alignment * distances
                           + WEIGHTS.target_classification * label_cost)
    p_s = np.exp(f_s - f_s.max(1, keepdims=True))
    p_s /= p_s.sum(1, keepdims=True)
    expected = {
        "source_classification": -np.mean(np.log(p_s[np.arange(len(labels)), labels])),
        "target_classification": np.sum(gamma * cross_entropy),
        "alignment": np.sum(gamma * distances),
    }
    expected["g_total"] = (2.0 * expected["source_classification"]
                           + 0.3 * expected["target_classification"]
                           + 0.01 * expected["alignment"])
    assert set(losses) == set(expected)
    for name, value in expected.items():
        assert float(losses[name]) == pytest.approx(value, rel=1e-4), name


def test_the_plan_is_held_fixed_in_the_gradient():
    """d alignment / d g_t = -2 sum_i gamma_ij (g_s,i - g_t,j): gamma is not differentiated."""
    keras.utils.set_random_seed(0)
    model = build_model(_config())
    x1, y1, x2, _ = _data()
    t = model.translate_all(x1[:10], x2[:6], training=True)
    t["labels"] = tf.constant(y1[:10].astype("int32"))
    g_t = tf.Variable(t["g_t"])
    with tf.GradientTape() as tape:
        t["g_t"] = g_t
        t.pop("plan", None)
        alignment = model.generator_terms(None, None, t)["alignment"]()
    gamma = t["plan"].numpy()
    expected = -2.0 * np.einsum("ij,ijk->jk", gamma, t["g_s"].numpy()[:, None] - g_t.numpy()[None])
    np.testing.assert_allclose(tape.gradient(alignment, g_t).numpy(), expected, rtol=1e-4,
                               atol=1e-6)


def test_a_batch_of_one_class_still_trains():
    keras.utils.set_random_seed(0)
    model = build_model(_config())
    x1, _, x2, _ = _data()
    batch = (x1[:10], x2[:6], np.full(10, 4, "int32"))
    history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=2,
                        epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert set(history.history) == {"source_classification", "target_classification",
                                    "alignment", "g_total"}


# --------------------------------------------------------------- data and labels


def test_class_balanced_batches_hold_each_class_and_resume_exactly():
    x1, y1, x2, _ = _data(n1=60)
    stream = paired_dataset(x1, x2, batch_size=(20, 6), augment=False, seed=3,
                            labelled=(0, y1), per_class=2)
    batches = list(stream.take(4))
    for images, _, labels in batches:
        assert np.bincount(labels.numpy(), minlength=10).tolist() == [2] * 10
        # Each label is the label of the very image beside it.
        index = [int(np.flatnonzero((x1 == image).all(axis=(1, 2, 3)))[0]) for image in
                 images.numpy()]
        np.testing.assert_array_equal(y1[index], labels.numpy())
    resumed = next(iter(paired_dataset(x1, x2, batch_size=(20, 6), augment=False, seed=3,
                                       labelled=(0, y1), per_class=2, start_step=3)))
    for a, b in zip(resumed, batches[3]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_unlabelled_domains_labels_never_enter_training():
    """The stream carries one domain's labels; the model reads only the labelled ones: the
    same training with the unlabelled labels replaced by garbage, or absent, is identical."""
    x1, y1, x2, y2 = _data()
    config = _config()
    weights = []
    for unlabelled in (None, np.full_like(y2, 7)):
        keras.utils.set_random_seed(0)
        model = build_model(config)
        settings = model.stream_settings(config, (y1, unlabelled))
        assert settings["labelled"][0] == 0  # MNIST's
        stream = paired_dataset(x1, x2, seed=0, augment=False, **settings)
        assert len(stream.element_spec) == 3
        model.fit(stream, steps_per_epoch=2, epochs=1, verbose=0)
        weights.append([w.numpy() for w in model.weights])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["deepjdot", "cogan"])
def test_the_runner_hands_each_training_only_its_labelled_domains_labels(method, monkeypatch,
                                                                         tmp_path):
    from lstnet_experiments.reproduction import runner as runner_module

    x1, y1, x2, y2 = _data()
    splits = {"train": {"mnist": (x1, y1), "usps": (x2, y2)},
              "validation": {"mnist": (x1, y1), "usps": (x2, y2)}}
    seen = {}

    def fake_train_model(config, images, run_dir, seed, labels=None, **kwargs):
        seen[config.train.labelled_domain] = (labels, run_dir)

    monkeypatch.setattr(runner_module, "train_model", fake_train_model)
    runner = runner_module.Runner(load_config("smoke", {"method": method}), tmp_path,
                                  splits=splits, command="test")
    runner.train_all(0)
    assert set(seen) == {"mnist", "usps"}
    (mnist_labels, mnist_run), (usps_labels, usps_run) = seen["mnist"], seen["usps"]
    assert mnist_labels[1] is None and mnist_labels[0] is y1
    assert usps_labels[0] is None and usps_labels[1] is y2
    assert mnist_run != usps_run and mnist_run.name == "labelled_mnist"
    # USPS->MNIST is judged by an MNIST classifier: its row trains with MNIST labels.
    assert runner.labelled_domains() == {"usps_to_mnist": "mnist", "mnist_to_usps": "usps"}


# ------------------------------------------------------------ config and saving


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="label_cost"):
        load_config("smoke", {"method": "deepjdot",
                              "deepjdot": {"transport": {"label_cost": "hinge"}}})
    with pytest.raises(ConfigError, match="method lstnet has no setting deepjdot.weights"):
        load_config("smoke", {"deepjdot": {"weights": {"alignment": 1.0}}})
    with pytest.raises(ConfigError, match="reads no labels"):
        load_config("smoke", {"train": {"labelled_domain": "mnist"}})
    with pytest.raises(ConfigError, match="one device"):
        load_config("smoke", {"method": "deepjdot", "train": {"devices": 2}})
    with pytest.raises(ValueError, match="labelled_domain"):
        build_model(load_config("smoke", {"method": "deepjdot"}), "float32")


def test_it_classifies_only_its_rows_images():
    """(Training, saving and restoring: tests/test_methods.py, for every method.)"""
    from lstnet_tf.inference import translator

    config = _config("usps", ema_decay=0.9)
    keras.utils.set_random_seed(0)
    model = build_model(config)
    x1, _, x2, y2 = _data()
    stream = paired_dataset(x1, x2, seed=0, augment=False,
                            **model.stream_settings(config, (None, y2)))
    model.fit(stream, steps_per_epoch=2, epochs=1, verbose=0)
    assert model.directions == ("mnist_to_usps",)  # MNIST images, a USPS-labelled judge
    with pytest.raises(ValueError, match="classifies mnist images"):
        model.scored_parts("usps_to_mnist")
    assert translator(model, "mnist_to_usps", "ema")(x1[:3]).shape == (3, 10)


def test_the_warm_start_trains_the_labelled_path_and_copies_what_fits():
    config = load_config("smoke", {"method": "deepjdot", "train": {"labelled_domain": "mnist"}})
    keras.utils.set_random_seed(0)
    model = build_model(config, "float32")
    x1, y1, x2, _ = _data(n1=300)
    head_before = [w.numpy() for w in model.class_head.weights]
    record = model.pretrain(config, (x1, x2), (y1, None), seed=0, verbose=0)
    assert any(not np.array_equal(a, w.numpy())
               for a, w in zip(head_before, model.class_head.weights))
    copied = record["warm_start"]["E2_private_layers_copied_from_E1"]
    assert copied and not any("conv4" in name for name in copied)
    source, target = model.networks.private_encoders
    for name in copied:
        for a, b in zip(source.get_layer(name.replace("enc2", "enc1")).get_weights(),
                        target.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    json.dumps(record)  # recorded in pretraining.json
