"""CoGAN (lstnet_tf/methods/cogan.py): the objective against an independent NumPy
computation, the sharing (one set of weights that a gradient from either domain moves), the
class head trained on the labelled domain only, the noise, saving and restoring."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
from lstnet_tf.method_config import CoGANConfig, CoGANWeights
from lstnet_tf.training import build_model

TINY = ModelConfig(width=0.0625)
# Distinct weights, so that swapping two terms fails the objective test.
WEIGHTS = CoGANWeights(adversarial=2.0, feature=0.03, classification=5.0, weight_decay=0.007)


def _config(labelled="mnist", **train):
    return ExperimentConfig(method="cogan", model=TINY,
                            train=TrainConfig(precision="float32", batch_size=4,
                                              labelled_domain=labelled, **train),
                            cogan=CoGANConfig(weights=WEIGHTS))


def _batch(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32"),
            rng.uniform(-1, 1, (n, 16, 16, 1)).astype("float32"),
            rng.integers(0, 10, n).astype("int32"))


def _np_bce(label, logits):
    p = 1 / (1 + np.exp(-np.asarray(logits, np.float64).ravel()))
    return float(np.mean(-(label * np.log(p) + (1 - label) * np.log(1 - p))))


def _np_ce(labels, logits):
    logits = np.asarray(logits, np.float64)
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(labels)), labels]))


@pytest.mark.parametrize("labelled", ["mnist", "usps"])
def test_objective_equals_an_independent_computation(labelled):
    keras.utils.set_random_seed(0)
    model = build_model(_config(labelled))
    x1, x2, labels = _batch()
    t = model.translate_all(x1, x2, training=True)
    t["labels"] = tf.constant(labels)
    d = model.discriminator_losses(x1, x2, t)
    g_t = model.generator_phase_translations(x1, x2, t)
    g = model.generator_losses(x1, x2, g_t)

    def h(k, x):
        return model.features[k](x).numpy().astype(np.float64)

    def logit(features):
        return model.real_or_generated(features.astype("float32")).numpy()

    real = [h(0, x1), h(1, x2)]
    fake = [h(0, t["x1_generated"]), h(1, t["x2_generated"])]
    labelled_features = real[0 if labelled == "mnist" else 1]
    decay_d = 0.5 * sum(float(np.sum(v.numpy().astype(np.float64) ** 2))
                        for v in model.discriminator_variables)
    decay_g = 0.5 * sum(float(np.sum(v.numpy().astype(np.float64) ** 2))
                        for v in model.translator_variables)
    expected_d = {
        "d_adv_1": 0.5 * (_np_bce(1, logit(real[0])) + _np_bce(0, logit(fake[0]))),
        "d_adv_2": 0.5 * (_np_bce(1, logit(real[1])) + _np_bce(0, logit(fake[1]))),
        "d_feature": float(np.mean(np.sum(
            (fake[0].reshape(4, -1) - fake[1].reshape(4, -1)) ** 2, axis=1))),
        "d_class": _np_ce(labels, model.class_head(labelled_features.astype("float32")).numpy()),
        "d_weight_decay": decay_d,
    }
    expected_d["d_total"] = (2.0 * (expected_d["d_adv_1"] + expected_d["d_adv_2"])
                             + 0.03 * expected_d["d_feature"] + 5.0 * expected_d["d_class"]
                             + 0.007 * decay_d)
    expected_g = {
        "g_adv_1": 0.5 * _np_bce(1, logit(h(0, g_t["x1_generated"]))),
        "g_adv_2": 0.5 * _np_bce(1, logit(h(1, g_t["x2_generated"]))),
        "g_weight_decay": decay_g,
    }
    expected_g["g_total"] = (2.0 * (expected_g["g_adv_1"] + expected_g["g_adv_2"])
                             + 0.007 * decay_g)
    for actual, expected in ((d, expected_d), (g, expected_g)):
        assert set(actual) == set(expected)
        for name, value in expected.items():
            assert float(actual[name]) == pytest.approx(value, rel=1e-4), name


def test_the_generator_step_draws_fresh_noise_and_the_noise_is_a_function_of_the_step():
    keras.utils.set_random_seed(0)
    model = build_model(_config())
    first, second = model.noise(4, 0).numpy(), model.noise(4, 1).numpy()
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(first, model.noise(4, 0).numpy())
    model.completed_steps.assign(1)
    assert not np.allclose(first, model.noise(4, 0).numpy())


def _gradients(model, loss_fn, variables):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return tape.gradient(loss, variables)


def test_the_shared_layers_are_one_set_of_weights_that_either_domain_moves():
    keras.utils.set_random_seed(0)
    model = build_model(_config())
    n = model.networks
    assert n.shared_generators[0] is n.shared_generators[1]
    shared_g = model.projection.trainable_variables + n.shared_generators[0].trainable_variables
    x1, x2, labels = _batch()
    for k in (0, 1):  # each generator's adversarial term alone reaches P and G_s
        term = f"g_adv_{k + 1}"
        grads = _gradients(model, lambda: model.generator_losses(
            x1, x2, model.translate_all(x1, x2, training=True))[term], shared_g)
        assert all(g is not None and np.any(g.numpy()) for g in grads), term
    # D1 and D2 hold one set of layers 2-4 and one logit; layer 1 is each domain's own.
    d1, d2 = ({id(v): v for v in features.trainable_variables} for features in model.features)
    shared_d = [v for key, v in d1.items() if key in d2] + model.real_or_generated.trainable_variables
    assert sorted(v.path.split("/")[0] for v in shared_d[:-2:2]) == [
        "disc_shared_conv2", "disc_shared_conv3", "disc_shared_conv4"]
    assert {v.path.split("/")[0] for key, v in d1.items() if key not in d2} == {"disc1_conv1"}
    for k, x in enumerate((x1, x2)):  # each domain's real images reach every shared layer
        grads = _gradients(model, lambda: tf.reduce_mean(model.discriminate(k, x)[1]), shared_d)
        assert all(g is not None and np.any(g.numpy()) for g in grads)
    # Both end in the same 4x4 map, the one the shared heads read.
    assert model.features[0].outputs[0].shape[1:] == model.features[1].outputs[0].shape[1:]
    assert model.features[1].outputs[0].shape[1:3] == (4, 4)


@pytest.mark.parametrize("labelled", ["mnist", "usps"])
def test_the_class_head_learns_from_the_labelled_domain_only(labelled):
    keras.utils.set_random_seed(0)
    model = build_model(_config(labelled))
    x1, x2, labels = _batch()

    def class_term():
        t = model.translate_all(x1, x2, training=True)
        t["labels"] = tf.constant(labels)
        return model.discriminator_losses(x1, x2, t)["d_class"]

    s = 0 if labelled == "mnist" else 1
    labelled_path = model.features[s].trainable_variables  # its layer 1 and the shared 2-4
    unlabelled_own = [v for v in model.features[1 - s].trainable_variables
                      if not any(v is w for w in labelled_path)]  # the other layer 1
    assert len(unlabelled_own) == 2
    grads = _gradients(model, class_term, labelled_path + unlabelled_own
                       + model.class_head.trainable_variables)
    own, other = len(labelled_path), len(unlabelled_own)
    assert all(g is not None for g in grads[:own])
    assert all(g is None for g in grads[own:own + other])
    assert all(g is not None for g in grads[own + other:])


def test_the_weight_average_is_of_the_discriminator_side_which_it_scores():
    """(Training, saving and restoring: tests/test_methods.py, for every method.)"""
    from lstnet_tf.inference import translator

    keras.utils.set_random_seed(0)
    model = build_model(_config("usps", ema_decay=0.9))
    model.fit(tf.data.Dataset.from_tensors(_batch()).repeat(), steps_per_epoch=2, epochs=1,
              verbose=0)
    assert model.directions == ("mnist_to_usps",)
    assert model.d_optimizer.use_ema and not model.g_optimizer.use_ema
    x1 = _batch()[0]
    averaged = translator(model, "mnist_to_usps", "ema")(x1).numpy()
    assert not np.allclose(averaged, translator(model, "mnist_to_usps", "raw")(x1).numpy())


def test_its_own_adam_replaces_the_presets():
    """The official trainer's Adam (2e-4, beta_1 0.5) in place of the preset's (1e-4, 0.8)."""
    model = build_model(_config())
    for optimizer in (model.d_optimizer, model.g_optimizer):
        assert float(optimizer.beta_1) == 0.5
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
