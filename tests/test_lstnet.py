"""LSTNet's alternating optimisation: which variables each phase trains, that each phase
lowers its own loss, their order, objective (1), the reused forward pass, precision, saving."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from lstnet_tf.config import LossWeights, ModelConfig
from lstnet_tf.lstnet import LOSS_TERMS, LSTNet
from lstnet_tf.reference import ReferenceLSTNet

TINY = ModelConfig(width=0.0625)
BATCH = 4


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32"),
            rng.uniform(-1, 1, (BATCH, 16, 16, 1)).astype("float32"))


def _model(dtype="float32", seed=0, weights=None, model_class=LSTNet, d_optimizer=None,
           g_optimizer=None):
    keras.utils.set_random_seed(seed)
    model = model_class(TINY, dtype=dtype)
    model.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, loss_weights=weights)
    return model


def _snapshot(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def _sgd(learning_rate):
    return keras.optimizers.SGD(learning_rate)


def _losses(model, x1, x2):
    """Both phases' losses at the current weights, on a fixed batch (BatchNorm in training
    mode, as in the step: every call on the same batch gives the same statistics)."""
    t = model.translate_all(x1, x2, training=True)
    return {**model.discriminator_losses(x1, x2, t),
            **model.generator_losses(x1, x2, t)}


@pytest.mark.parametrize("trained, fixed", [
    ("discriminator_variables", "translator_variables"),
    ("translator_variables", "discriminator_variables"),
])
def test_a_step_changes_only_the_team_whose_learning_rate_is_not_zero(trained, fixed):
    """With the other team's learning rate at 0, a step moves every variable of the trained
    team and none of the other."""
    rates = {"discriminator_variables": "d_optimizer", "translator_variables": "g_optimizer"}
    model = _model(**{rates[trained]: _sgd(1e-3), rates[fixed]: _sgd(0.0)})
    trained_before = _snapshot(getattr(model, trained))
    fixed_before = _snapshot(getattr(model, fixed))
    model.train_step(_batch())
    assert sum(_changed(trained_before, getattr(model, trained))) >= 0.9 * len(trained_before)
    assert not any(_changed(fixed_before, getattr(model, fixed)))


@pytest.mark.parametrize("team, total", [("d", "d_total"), ("g", "g_total")])
def test_each_phase_lowers_its_own_loss(team, total):
    """A small plain-SGD step of one team (the other's rate 0) lowers that team's total loss
    on the same batch: a flipped gradient sign or a team stepping on the other's loss fails
    this (wrong labels are caught by the independent computation of objective (1) below)."""
    rates = {"d_optimizer": _sgd(1e-3 if team == "d" else 0.0),
             "g_optimizer": _sgd(1e-4 if team == "g" else 0.0)}
    model = _model(**rates)
    x1, x2 = _batch()
    before = float(_losses(model, x1, x2)[total])
    model.train_step((x1, x2))
    after = float(_losses(model, x1, x2)[total])
    assert after < before - 1e-4 * abs(before), (before, after)


def test_the_generator_phase_sees_the_discriminators_after_their_update():
    """A large discriminator step visibly changes D's outputs; the adversarial losses that the
    step reports for the encoders/generators are those of the updated discriminators."""
    model = _model(d_optimizer=_sgd(0.5), g_optimizer=_sgd(0.0))
    x1, x2 = _batch()
    before = _losses(model, x1, x2)
    logs = {k: float(v) for k, v in model.train_step((x1, x2)).items()}
    after = _losses(model, x1, x2)
    for term in ("g_adv_1", "g_adv_2", "g_adv_latent"):
        assert abs(float(after[term]) - float(before[term])) > 1e-2, term
        assert logs[term] == pytest.approx(float(after[term]), rel=1e-5), term


@pytest.mark.parametrize("term, domain_input", [("cycle_1", "x1"), ("cycle_2", "x2")])
def test_shared_layers_receive_gradients_from_each_domain(term, domain_input):
    """CC1 involves only MNIST images and CC2 only USPS images; both must reach E_s and G_s."""
    model = _model()
    x1, x2 = _batch()
    shared = model.networks.shared_encoder.trainable_variables + \
        model.networks.shared_generator.trainable_variables
    with tf.GradientTape() as tape:
        losses = model.generator_losses(x1, x2, model.translate_all(x1, x2, training=True))
    grads = tape.gradient(losses[term], shared)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def _np_bce(label, logits):
    """-[y log s(l) + (1-y) log(1-s(l))], averaged: written out independently of the model code."""
    logits = np.asarray(logits, dtype=np.float64).ravel()
    p = 1.0 / (1.0 + np.exp(-logits))
    return float(np.mean(-(label * np.log(p) + (1 - label) * np.log(1 - p))))


def test_losses_equal_an_independent_computation_of_objective_1():
    weights = LossWeights(adversarial_1=2.0, adversarial_2=3.0, adversarial_latent=5.0,
                          cycle_1=7.0, cycle_2=11.0, cycle_3=13.0, cycle_4=17.0)
    model = _model(weights=weights)
    x1, x2 = _batch()
    n = model.networks
    (enc1, enc2), (gen1, gen2) = n.encoders, n.generators
    (d1, d2), dl = n.image_discriminators, n.latent_discriminator

    def run(net, x):
        return net(x, training=True).numpy()

    z1, z2 = run(enc1, x1), run(enc2, x2)
    x12, x21 = run(gen2, z1), run(gen1, z2)
    x121, x212 = run(gen1, run(enc2, x12)), run(gen2, run(enc1, x21))
    x11, x22 = run(gen1, z1), run(gen2, z2)
    expected_d = {
        "d_adv_1": _np_bce(1, run(d1, x1)) + _np_bce(0, run(d1, x21)),
        "d_adv_2": _np_bce(1, run(d2, x2)) + _np_bce(0, run(d2, x12)),
        "d_adv_latent": _np_bce(1, run(dl, z1)) + _np_bce(0, run(dl, z2)),
    }
    expected_d["d_total"] = (2 * expected_d["d_adv_1"] + 3 * expected_d["d_adv_2"]
                             + 5 * expected_d["d_adv_latent"])
    expected_g = {
        "g_adv_1": _np_bce(1, run(d1, x21)),
        "g_adv_2": _np_bce(1, run(d2, x12)),
        "g_adv_latent": _np_bce(0, run(dl, z1)) + _np_bce(1, run(dl, z2)),
        "cycle_1": float(np.mean(np.abs(x1 - x11))),
        "cycle_2": float(np.mean(np.abs(x2 - x22))),
        "cycle_3": float(np.mean(np.abs(x1 - x121))),
        "cycle_4": float(np.mean(np.abs(x2 - x212))),
    }
    expected_g["g_total"] = (2 * expected_g["g_adv_1"] + 3 * expected_g["g_adv_2"]
                             + 5 * expected_g["g_adv_latent"] + 7 * expected_g["cycle_1"]
                             + 11 * expected_g["cycle_2"] + 13 * expected_g["cycle_3"]
                             + 17 * expected_g["cycle_4"])

    t = model.translate_all(x1, x2, training=True)
    actual = {**model.discriminator_losses(x1, x2, t),
              **model.generator_losses(x1, x2, t)}
    assert set(actual) == set(LOSS_TERMS)
    for name, value in {**expected_d, **expected_g}.items():
        assert float(actual[name]) == pytest.approx(value, rel=1e-4, abs=1e-5), name


def test_reused_forward_pass_gives_the_gradients_of_a_recomputation():
    """From identical weights, LSTNet (one translation pass for both phases) and
    ReferenceLSTNet (each phase its own pass) make the same step: the same discriminator
    update, and (plain SGD, so the update is the gradient) the same gradients of objective
    (1) for every translator variable."""
    batch, rate = _batch(), 1e-2
    reuse = _model(model_class=LSTNet, g_optimizer=_sgd(rate))
    recompute = _model(model_class=ReferenceLSTNet, g_optimizer=_sgd(rate))
    for a, b in zip(reuse.weights, recompute.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    before = _snapshot(reuse.translator_variables)
    logs_reuse = reuse.train_step(batch)
    logs_recompute = recompute.train_step(batch)
    for v, w, b in zip(reuse.translator_variables, recompute.translator_variables, before):
        grad_reuse, grad_recompute = (b - v.numpy()) / rate, (b - w.numpy()) / rate
        assert np.abs(grad_reuse).max() > 0, v.path
        np.testing.assert_allclose(grad_reuse, grad_recompute, rtol=1e-3, atol=1e-5,
                                   err_msg=v.path)
    for name in logs_reuse:
        assert float(logs_reuse[name]) == pytest.approx(float(logs_recompute[name]),
                                                        rel=1e-5), name
    for a, b in zip(reuse.discriminator_variables, recompute.discriminator_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_fit_gives_finite_losses_under_each_precision(precision):
    model = _model(dtype=precision)
    if precision == "mixed_float16":
        assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    ds = tf.data.Dataset.from_tensors(_batch()).repeat()
    history = model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
    assert model.step == 3
    assert set(history.history) == set(LOSS_TERMS)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert keras.mixed_precision.global_policy().name == "float32"
    assert model.translate_2_to_1(_batch()[1]).dtype == tf.float32


def test_a_saved_lstnet_reloads_with_load_model_and_translates_bit_identically(tmp_path):
    """Whole-model save: get_config / from_config rebuild the networks, the weights follow."""
    model = _model()
    model.train_step(_batch())
    model.save(tmp_path / "lstnet.keras")
    reloaded = keras.saving.load_model(tmp_path / "lstnet.keras")
    assert isinstance(reloaded, LSTNet)
    assert reloaded.model_config == model.model_config
    x1, x2 = _batch(seed=1)
    np.testing.assert_array_equal(reloaded.translate_1_to_2(x1).numpy(),
                                  model.translate_1_to_2(x1).numpy())
    np.testing.assert_array_equal(reloaded.translate_2_to_1(x2).numpy(),
                                  model.translate_2_to_1(x2).numpy())
    assert LSTNet.from_config(model.get_config()).get_config() == model.get_config()


def test_translation_api_has_no_training_side_effects():
    model = _model()
    x1, x2 = _batch()
    before = _snapshot(model.weights)
    out12, out21 = model.translate_1_to_2(x1), model.translate_2_to_1(x2)
    assert out12.shape == (BATCH, 16, 16, 1) and out21.shape == (BATCH, 28, 28, 1)
    assert model.encode_1(x1).shape == model.encode_2(x2).shape == (BATCH, 7, 7, 8)
    assert not any(_changed(before, model.weights))
    np.testing.assert_array_equal(out12.numpy(), model.translate_1_to_2(x1).numpy())
