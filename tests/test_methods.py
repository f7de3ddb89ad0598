"""The methods compared with LSTNet: each objective against an independent recomputation,
that each ablation really switches its part off, smoke training, saving, and the runner's
refusals (unknown method, another method's results directory)."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstnet_tf.config import (ConfigError, DTNConfig, DTNPretraining, DTNWeights,
                              ExperimentConfig, LossWeights, ModelConfig, TrainConfig,
                              UNITWeights, XGANWeights, load_config)
from lstnet_tf.methods import METHODS, build_method, method_class
from lstnet_tf.methods.dtn import DTN, total_variation

TINY = ModelConfig(width=0.0625)
BATCH = 4
WEIGHTS = LossWeights(adversarial_1=2.0, adversarial_2=3.0, adversarial_latent=5.0,
                      cycle_1=7.0, cycle_2=11.0, cycle_3=13.0, cycle_4=17.0)
# XGAN's own section, with the same distinct values for the terms it shares with LSTNet and
# its semantic terms in place of the cross cycles.
XGAN_WEIGHTS = XGANWeights(adversarial_1=2.0, adversarial_2=3.0, adversarial_latent=5.0,
                           reconstruction_1=7.0, reconstruction_2=11.0, semantic_1=13.0,
                           semantic_2=17.0)


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32"),
            rng.uniform(-1, 1, (BATCH, 16, 16, 1)).astype("float32"))


def _model(method: str, seed=0, weights=None, **compile_args):
    """A tiny model of ``method``; objective (1)'s methods weighted by WEIGHTS, XGAN by
    XGAN_WEIGHTS, the others by ``weights`` or their published defaults."""
    keras.utils.set_random_seed(seed)
    model = build_method(method, TINY, dtype="float32")
    weights = weights or {LossWeights: WEIGHTS, XGANWeights: XGAN_WEIGHTS}.get(
        model.WEIGHTS, model.WEIGHTS())
    model.compile(loss_weights=weights, **compile_args)
    return model


def _losses(model, x1, x2):
    t = model.translate_all(x1, x2, training=True)
    return {**model.discriminator_losses(x1, x2, t), **model.generator_losses(x1, x2, t)}


def _run(net, x):
    return net(x, training=True).numpy()


def _np_bce(label, logits):
    logits = np.asarray(logits, dtype=np.float64).ravel()
    p = 1.0 / (1.0 + np.exp(-logits))
    return float(np.mean(-(label * np.log(p) + (1 - label) * np.log(1 - p))))


def _l1(a, b):
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _assert_close(actual: dict, expected: dict):
    assert set(actual) == set(expected)
    for name, value in expected.items():
        assert float(actual[name]) == pytest.approx(value, rel=1e-4, abs=1e-5), name


# ------------------------------------------------------------------ the objectives


def test_every_method_is_named_once_and_builds():
    """Each name builds its class with its architecture switches, which get_config saves
    (an ablation of the architecture is LSTNet with a constructor argument, no subclass)."""
    assert list(METHODS)[0] == "lstnet"
    for name, spec in METHODS.items():
        model = build_method(name, TINY, dtype="float32")
        assert model.OUTPUT == spec.output
        assert type(model) is method_class(name)
        config = model.get_config()
        assert {k: config[k] for k in spec.arguments} == spec.arguments
        assert type(model).from_config(config).get_config() == config
    assert method_class("unshared") is method_class("no_latent_disc") is method_class("lstnet")
    with pytest.raises(ValueError, match="unknown method 'nosuch'.*unit"):
        method_class("nosuch")
    with pytest.raises(ValueError, match="latent"):
        method_class("unit")(TINY, latent_discriminator=True)
    with pytest.raises(ValueError, match="shared_layers"):
        method_class("dtn")(TINY, shared_layers=True)


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_reads_its_own_config_section_and_reports_the_weights_it_used(method):
    """Every weight a method's objective has comes from its config section: changing that
    field changes exactly its terms' weights; ``used_term_weights`` lists each term once."""
    from lstnet_tf.training import build_model

    spec = METHODS[method]
    section = dataclasses.asdict(ExperimentConfig().section(spec.weights))
    used = [k for k in section if k not in spec.unused_weights]
    labelled = "mnist" if spec.output == "classifier" else ""
    base = build_model(ExperimentConfig(method=method, model=TINY, train=TrainConfig(
        precision="float32", labelled_domain=labelled)))
    assert set(base.used_term_weights()) == {t for t in base.loss_terms
                                             if t not in ("d_total", "g_total")}
    for field in used:
        overrides = {"method": method, "train": {"labelled_domain": labelled}}
        node = overrides
        for part in spec.weights.split("."):
            node = node.setdefault(part, {})
        node[field] = 123.0
        model = build_model(load_config("smoke", overrides))
        changed = {t for t, w in model.used_term_weights().items()
                   if w != base.used_term_weights()[t]}
        assert changed and all(model.used_term_weights()[t] == 123.0 for t in changed), field


@pytest.mark.parametrize("method, setting", [
    ("unit", {"train": {"loss_weights": {"cycle_3": 50.0}}}),
    ("lstnet", {"unit": {"gan": 1.0}}),
    ("lstnet", {"dtn": {"pretraining": {"usps_epochs": 2}}}),
    ("no_latent_disc", {"train": {"loss_weights": {"adversarial_latent": 1.0}}}),
    ("no_cross_cycle", {"train": {"loss_weights": {"cycle_4": 1.0}}}),
    ("xgan", {"train": {"loss_weights": {"adversarial_1": 1.0}}}),
])
def test_a_weight_the_method_does_not_have_is_refused(method, setting):
    with pytest.raises(ConfigError, match=f"method {method} has no setting"):
        load_config("smoke", {"method": method, **setting})


def _lstnet_terms(n, x1, x2):
    """Every term of objective (1), written out with NumPy on the networks' outputs."""
    (enc1, enc2), (gen1, gen2) = n.encoders, n.generators
    (d1, d2), dl = n.image_discriminators, n.latent_discriminator
    z1, z2 = _run(enc1, x1), _run(enc2, x2)
    x12, x21 = _run(gen2, z1), _run(gen1, z2)
    terms = {
        "d_adv_1": _np_bce(1, _run(d1, x1)) + _np_bce(0, _run(d1, x21)),
        "d_adv_2": _np_bce(1, _run(d2, x2)) + _np_bce(0, _run(d2, x12)),
        "g_adv_1": _np_bce(1, _run(d1, x21)),
        "g_adv_2": _np_bce(1, _run(d2, x12)),
        "cycle_1": _l1(x1, _run(gen1, z1)),
        "cycle_2": _l1(x2, _run(gen2, z2)),
        "cycle_3": _l1(x1, _run(gen1, _run(enc2, x12))),
        "cycle_4": _l1(x2, _run(gen2, _run(enc1, x21))),
        "semantic_1": _l1(z1, _run(enc2, x12)),
        "semantic_2": _l1(z2, _run(enc1, x21)),
    }
    if dl is not None:
        terms["d_adv_latent"] = _np_bce(1, _run(dl, z1)) + _np_bce(0, _run(dl, z2))
        terms["g_adv_latent"] = _np_bce(0, _run(dl, z1)) + _np_bce(1, _run(dl, z2))
    return terms


# Each method's terms and their weights (WEIGHTS: w1=2, w2=3, wl=5, w3..w6=7, 11, 13, 17).
OBJECTIVES = {
    "no_latent_disc": ({"d_adv_1": 2, "d_adv_2": 3},
                       {"g_adv_1": 2, "g_adv_2": 3, "cycle_1": 7, "cycle_2": 11, "cycle_3": 13,
                        "cycle_4": 17}),
    "no_cross_cycle": ({"d_adv_1": 2, "d_adv_2": 3, "d_adv_latent": 5},
                       {"g_adv_1": 2, "g_adv_2": 3, "g_adv_latent": 5, "cycle_1": 7,
                        "cycle_2": 11}),
    "no_reconstruction": ({"d_adv_1": 2, "d_adv_2": 3, "d_adv_latent": 5},
                          {"g_adv_1": 2, "g_adv_2": 3, "g_adv_latent": 5, "cycle_3": 13,
                           "cycle_4": 17}),
    "unshared": ({"d_adv_1": 2, "d_adv_2": 3, "d_adv_latent": 5},
                 {"g_adv_1": 2, "g_adv_2": 3, "g_adv_latent": 5, "cycle_1": 7, "cycle_2": 11,
                  "cycle_3": 13, "cycle_4": 17}),
    # XGAN: LSTNet's weights; semantic consistency takes the cross-cycle weights w5, w6.
    "xgan": ({"d_adv_1": 2, "d_adv_2": 3, "d_adv_latent": 5},
             {"g_adv_1": 2, "g_adv_2": 3, "g_adv_latent": 5, "cycle_1": 7, "cycle_2": 11,
              "semantic_1": 13, "semantic_2": 17}),
}


@pytest.mark.parametrize("method", OBJECTIVES)
def test_objective_equals_an_independent_computation(method):
    model = _model(method)
    x1, x2 = _batch()
    terms = _lstnet_terms(model.networks, x1, x2)
    d_weights, g_weights = OBJECTIVES[method]
    expected = {name: terms[name] for name in (*d_weights, *g_weights)}
    expected["d_total"] = sum(w * terms[name] for name, w in d_weights.items())
    expected["g_total"] = sum(w * terms[name] for name, w in g_weights.items())
    _assert_close(_losses(model, x1, x2), expected)


def test_unit_objective_equals_an_independent_computation():
    """UNIT's equations (3)-(7) on the same noise draws, each lambda a distinct value (so a
    swapped weight fails); the defaults are the paper's."""
    assert UNITWeights() == UNITWeights(gan=10.0, kl=0.1, reconstruction=100.0, kl_cycle=0.1,
                                        cycle=100.0)
    model = _model("unit", weights=UNITWeights(gan=3.0, kl=0.2, reconstruction=7.0,
                                               kl_cycle=0.5, cycle=11.0))
    x1, x2 = _batch()
    n = model.networks
    (enc1, enc2), (gen1, gen2) = n.encoders, n.generators
    d1, d2 = n.image_discriminators
    key = int(model.noise_key.numpy())

    def sample(mu, draw):  # step 0: draws 0..3
        eta = tf.random.stateless_normal(mu.shape, seed=[key, draw]).numpy()
        return mu + eta

    def kl(mu):
        return 0.5 * float(np.mean(np.square(mu.astype(np.float64))))

    mu1, mu2 = _run(enc1, x1), _run(enc2, x2)
    z1, z2 = sample(mu1, 0), sample(mu2, 1)
    x12, x21 = _run(gen2, z1), _run(gen1, z2)
    mu12, mu21 = _run(enc2, x12), _run(enc1, x21)
    expected = {
        "d_adv_1": _np_bce(1, _run(d1, x1)) + _np_bce(0, _run(d1, x21)),
        "d_adv_2": _np_bce(1, _run(d2, x2)) + _np_bce(0, _run(d2, x12)),
        "g_adv_1": _np_bce(1, _run(d1, x21)),
        "g_adv_2": _np_bce(1, _run(d2, x12)),
        "kl_1": kl(mu1), "kl_2": kl(mu2),
        "cycle_1": _l1(x1, _run(gen1, z1)), "cycle_2": _l1(x2, _run(gen2, z2)),
        "kl_cycle_1": kl(mu1) + kl(mu12), "kl_cycle_2": kl(mu2) + kl(mu21),
        "cycle_3": _l1(x1, _run(gen1, sample(mu12, 2))),
        "cycle_4": _l1(x2, _run(gen2, sample(mu21, 3))),
    }
    expected["d_total"] = 3 * (expected["d_adv_1"] + expected["d_adv_2"])
    expected["g_total"] = (3 * (expected["g_adv_1"] + expected["g_adv_2"])
                           + 0.2 * (expected["kl_1"] + expected["kl_2"])
                           + 7 * (expected["cycle_1"] + expected["cycle_2"])
                           + 0.5 * (expected["kl_cycle_1"] + expected["kl_cycle_2"])
                           + 11 * (expected["cycle_3"] + expected["cycle_4"]))
    _assert_close(_losses(model, x1, x2), expected)


def test_unit_noise_depends_on_the_run_seed_and_the_step_not_on_a_restart():
    """Two seeds draw different noise; the same seed rebuilt draws the same noise at the
    same step (a resumed run continues the noise stream), another at the next step."""
    x1, x2 = _batch()
    a, b, c = _model("unit", seed=0), _model("unit", seed=0), _model("unit", seed=1)
    assert int(a.noise_key.numpy()) == int(b.noise_key.numpy()) != int(c.noise_key.numpy())
    mu = tf.zeros((BATCH, 7, 7, 8))
    np.testing.assert_array_equal(a.sample(mu, 0).numpy(), b.sample(mu, 0).numpy())
    assert not np.array_equal(a.sample(mu, 0).numpy(), a.sample(mu, 1).numpy())
    a.completed_steps.assign(1)
    assert not np.array_equal(a.sample(mu, 0).numpy(), b.sample(mu, 0).numpy())
    assert np.std(c.sample(mu, 0).numpy()) == pytest.approx(1.0, abs=0.1)


def test_unit_translates_with_the_mean_without_noise():
    model = _model("unit")
    x1 = _batch()[0]
    np.testing.assert_array_equal(model.translate_1_to_2(x1).numpy(),
                                  model.translate_1_to_2(x1).numpy())


def _np_cross_entropy(label, logits):
    logits = np.asarray(logits, np.float64)
    log_p = logits - logits.max(axis=-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=-1, keepdims=True))
    return float(-np.mean(log_p[:, label]))


def _mse(a, b):
    return float(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _resize(images, size):
    return tf.image.resize(images, (size, size), method="bilinear", antialias=True).numpy()


def test_dtn_objective_equals_an_independent_computation():
    """Both DTNs' terms, with D's classes 0: translated from S, 1: from T, 2: real T; each
    weight a distinct value (the defaults: the public implementation's)."""
    assert DTNWeights() == DTNWeights(adversarial=1.0, constancy=15.0, target_identity=15.0,
                                      total_variation=0.0)
    model = _model("dtn", weights=DTNWeights(adversarial=2.0, constancy=3.0,
                                             target_identity=5.0))
    x1, x2 = _batch()
    n = model.networks
    (enc1, enc2), (gen1, gen2) = n.encoders, n.generators
    d1, d2 = n.image_discriminators
    z1, z2 = _run(enc1, x1), _run(enc2, x2)
    x12, x21 = _run(gen2, z1), _run(gen1, z2)
    x11 = _run(gen1, _run(enc2, _resize(x1, 16)))  # USPS->MNIST's G on MNIST images
    x22 = _run(gen2, _run(enc1, _resize(x2, 28)))
    expected = {
        "d_adv_1": (_np_cross_entropy(0, _run(d1, x21)) + _np_cross_entropy(1, _run(d1, x11))
                    + _np_cross_entropy(2, _run(d1, x1))),
        "d_adv_2": (_np_cross_entropy(0, _run(d2, x12)) + _np_cross_entropy(1, _run(d2, x22))
                    + _np_cross_entropy(2, _run(d2, x2))),
        "g_adv_1": _np_cross_entropy(2, _run(d1, x21)) + _np_cross_entropy(2, _run(d1, x11)),
        "g_adv_2": _np_cross_entropy(2, _run(d2, x12)) + _np_cross_entropy(2, _run(d2, x22)),
        "const_1": _mse(z2, _run(enc2, _resize(x21, 16))),
        "const_2": _mse(z1, _run(enc1, _resize(x12, 28))),
        "tid_1": _mse(x1, x11), "tid_2": _mse(x2, x22),
    }
    expected.update(tv_1=0.0, tv_2=0.0)  # gamma = 0: logged as 0, not computed
    expected["d_total"] = 2 * (expected["d_adv_1"] + expected["d_adv_2"])
    expected["g_total"] = (2 * (expected["g_adv_1"] + expected["g_adv_2"])
                           + 3 * (expected["const_1"] + expected["const_2"])
                           + 5 * (expected["tid_1"] + expected["tid_2"]))
    _assert_close(_losses(model, x1, x2), expected)


def test_dtn_total_variation_is_the_mean_length_of_the_forward_differences():
    z = np.random.default_rng(3).normal(size=(2, 5, 4, 1))
    lengths = [np.hypot(z[b, i, j + 1] - z[b, i, j], z[b, i + 1, j] - z[b, i, j])
               for b in range(2) for i in range(4) for j in range(3)]
    assert float(total_variation(z)) == pytest.approx(float(np.mean(lengths)), rel=1e-5)


def test_dtn_keeps_f_fixed_and_its_two_directions_apart():
    """f = E_S gets no update (BatchNorm statistics included); each direction's terms reach
    its own g and D only; D has three classes."""
    model = _model("dtn")
    n = model.networks
    assert [d.output_shape for d in n.image_discriminators] == [(None, 3)] * 2
    encoder_ids = {id(v) for f in n.encoders for v in f.weights}
    assert not encoder_ids & {id(v) for v in model.translator_variables}
    before = [v.numpy().copy() for f in n.encoders for v in f.weights]
    model.train_step(_batch())
    assert all(np.array_equal(b, v.numpy()) for b, v in
               zip(before, [v for f in n.encoders for v in f.weights]))

    def into(k):
        return lambda m, x1, x2: tf.add_n([_losses(m, x1, x2)[f"{term}_{k}"]
                                           for term in ("g_adv", "const", "tid")])

    g = [n.shared_generators[i].trainable_variables + n.private_generators[i].trainable_variables
         for i in (0, 1)]
    assert all(grad is not None for grad in _gradients(model, into(1), g[0]))
    assert all(grad is None for grad in _gradients(model, into(1), g[1]))
    assert all(grad is None for grad in _gradients(model, into(2), g[0]))


def test_dtn_pretrains_f_on_the_labels_then_freezes_it(tmp_path):
    """A fresh run pre-trains each f on its domain's labels and records it; without labels
    it refuses; the frozen f also stays fixed in an exported translator."""
    from lstnet_tf.inference import recompute_batch_norm_statistics, translator
    from lstnet_tf.training import train_model

    config = ExperimentConfig(method="dtn", model=TINY, train=TrainConfig(
        steps=2, checkpoint_every=2, batch_size=BATCH, precision="float32"), dtn=DTNConfig(
        pretraining=DTNPretraining(mnist_epochs=1, usps_epochs=1, batch_size=BATCH)))
    x1, x2 = (np.concatenate([x] * 4) for x in _batch())
    images, labels = (x1, x2), (np.arange(len(x1)) % 10, np.arange(len(x2)) % 10)
    with pytest.raises(ValueError, match="labels"):
        train_model(config, images, tmp_path / "unlabelled", seed=0, verbose=0)
    keras.utils.set_random_seed(0)
    untrained = DTN(TINY, dtype="float32")
    model = train_model(config, images, tmp_path / "run", seed=0, verbose=0, labels=labels)
    record = json.loads((tmp_path / "run" / "pretraining.json").read_text())
    assert set(record["f"]) == {"mnist", "usps"} and record["f"]["usps"]["epochs"] == 1
    f_weights = [v for f in model.networks.encoders for v in f.weights]
    assert not all(np.array_equal(a.numpy(), b.numpy()) for a, b in
                   zip([v for f in untrained.networks.encoders for v in f.weights], f_weights))
    assert all(not f.trainable_variables for f in model.networks.encoders)
    path = translator(model, "usps_to_mnist")
    f_copy = path.layers[1]
    before = [v.numpy().copy() for v in f_copy.weights]
    recompute_batch_norm_statistics(path, [x2[:BATCH]] * 2)
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, f_copy.weights))


# ------------------------------------------------------- the ablations switch parts off


def _gradients(model, loss_of, variables):
    x1, x2 = _batch()
    with tf.GradientTape() as tape:
        loss = loss_of(model, x1, x2)
    return tape.gradient(loss, variables)


def test_no_latent_disc_has_no_latent_discriminator_and_no_gradient_from_it():
    """No D_l is built or trained, and the encoders'/generators' gradients are exactly
    LSTNet's minus the w_l J_ANl term's (same initial weights: D_l is built last)."""
    ablation, lstnet = _model("no_latent_disc"), _model("lstnet")
    assert ablation.networks.latent_discriminator is None
    d1, d2 = ablation.networks.image_discriminators
    assert ablation.discriminator_variables == d1.trainable_variables + d2.trainable_variables
    for a, b in zip(ablation.translator_variables, lstnet.translator_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    def without_latent(model, x1, x2):
        losses = model.generator_losses(x1, x2, model.translate_all(x1, x2, training=True))
        return losses["g_total"] - WEIGHTS.adversarial_latent * losses["g_adv_latent"]

    expected = _gradients(lstnet, without_latent, lstnet.translator_variables)
    actual = _gradients(ablation, lambda m, x1, x2: _losses(m, x1, x2)["g_total"],
                        ablation.translator_variables)
    for v, a, e in zip(ablation.translator_variables, actual, expected):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-4, atol=1e-6, err_msg=v.path)
    lstnet_d_before = [v.numpy().copy() for v in lstnet.networks.latent_discriminator.weights]
    ablation.train_step(_batch())
    assert "d_adv_latent" not in ablation.loss_terms and "g_adv_latent" not in ablation.loss_terms
    assert all(np.array_equal(b, v.numpy()) for b, v in
               zip(lstnet_d_before, lstnet.networks.latent_discriminator.weights))


@pytest.mark.parametrize("method, off, unused", [
    ("no_cross_cycle", ("cycle_3", "cycle_4"), ("x121", "x212")),
    ("no_reconstruction", ("cycle_1", "cycle_2"), ("x11", "x22")),
])
def test_a_switched_off_cycle_has_no_gradient_path(method, off, unused):
    """The switched-off cycles are not computed at all, and the gradients equal LSTNet's
    objective without them."""
    ablation, lstnet = _model(method), _model("lstnet")
    x1, x2 = _batch()
    assert not set(unused) & set(ablation.translate_all(x1, x2, training=True))
    assert not set(off) & set(ablation.loss_terms)
    weights = {"cycle_1": 7, "cycle_2": 11, "cycle_3": 13, "cycle_4": 17}

    def without(model, x1, x2):
        losses = model.generator_losses(x1, x2, model.translate_all(x1, x2, training=True))
        return losses["g_total"] - sum(weights[t] * losses[t] for t in off)

    expected = _gradients(lstnet, without, lstnet.translator_variables)
    actual = _gradients(ablation, lambda m, x1, x2: _losses(m, x1, x2)["g_total"],
                        ablation.translator_variables)
    for v, a, e in zip(ablation.translator_variables, actual, expected):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_unshared_gives_each_domain_its_own_upper_encoder_and_lower_generator():
    """Two E_s and two G_s; CC1 (MNIST only) reaches domain 1's and not domain 2's."""
    model, lstnet = _model("unshared"), _model("lstnet")
    n = model.networks
    assert n.shared_encoders[0] is not n.shared_encoders[1]
    assert n.shared_generators[0] is not n.shared_generators[1]
    extra = n.shared_encoders[1].count_params() + n.shared_generators[1].count_params()
    assert n.count_params() == lstnet.networks.count_params() + extra
    with pytest.raises(AttributeError, match="per domain"):
        n.shared_encoder  # noqa: B018

    def cycle_1(m, x1, x2):
        return m.generator_losses(x1, x2, m.translate_all(x1, x2, training=True))["cycle_1"]

    own = n.shared_encoders[0].trainable_variables + n.shared_generators[0].trainable_variables
    other = n.shared_encoders[1].trainable_variables + n.shared_generators[1].trainable_variables
    assert all(g is not None for g in _gradients(model, cycle_1, own))
    assert all(g is None for g in _gradients(model, cycle_1, other))


# ------------------------------------------------------ training, saving, the runner


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_trains_saves_and_reloads(method, tmp_path):
    """A few steps with finite losses; whole-model save and load scores identically (its
    first Table 2 row's path); a checkpoint restores into a fresh model of the same method.
    A domain-adaptation method trains with the USPS labels beside the batch."""
    from lstnet_tf.directions import SOURCE_AND_TARGET
    from lstnet_tf.inference import model_path
    from lstnet_tf.training import CheckpointStore, build_model

    classifier = METHODS[method].output == "classifier"
    config = ExperimentConfig(method=method, model=TINY,
                              train=TrainConfig(batch_size=BATCH, precision="float32",
                                                ema_decay=0.9,
                                                labelled_domain="usps" if classifier else ""))
    keras.utils.set_random_seed(0)
    model = build_model(config)
    assert type(model) is method_class(method)
    batch = (*_batch(), np.arange(BATCH, dtype="int32")) if classifier else _batch()
    history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=2,
                        epochs=1, verbose=0)
    assert set(history.history) == set(model.loss_terms)
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(reloaded) is type(model) and reloaded.get_config() == model.get_config()
    direction = model.directions[0]
    images = dict(zip(("mnist", "usps"), _batch(seed=1)))[SOURCE_AND_TARGET[direction][0]]
    np.testing.assert_array_equal(model_path(reloaded, direction)(images).numpy(),
                                  model_path(model, direction)(images).numpy())
    store = CheckpointStore(tmp_path / "checkpoints")
    store.save(model)
    restored = build_model(config)
    assert store.restore(restored) == 2
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_an_unknown_method_is_a_usage_error_that_writes_nothing(tmp_path, capsys):
    from lstnet_experiments.reproduction.reproduce import main

    out, work = tmp_path / "out", tmp_path / "work"
    with pytest.raises(SystemExit) as exit_info:
        main(["--all", "--preset", "smoke", "--method", "nosuch", "--out", str(out),
              "--work-dir", str(work)])
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert "--method" in stderr and "nosuch" in stderr
    assert not out.exists() and not work.exists()


def test_a_results_directory_refuses_seeds_of_another_method(tmp_path):
    """Seed files of one method (or older ones that name none: LSTNet) refuse another."""
    from lstnet_experiments.reproduction.report import ResultsError, check_compatible

    def config(**kwargs):
        return json.loads(json.dumps(ExperimentConfig(**kwargs).to_dict()))

    recorded = config()
    del recorded["method"]  # written before methods existed
    (tmp_path / "seed0.json").write_text(json.dumps(
        {"seed": 0, "provenance": {"config": recorded}}))
    assert check_compatible(tmp_path, config()) == [0]
    with pytest.raises(ResultsError, match="another configuration"):
        check_compatible(tmp_path, config(method="unit"))


def test_loss_curves_draw_a_method_without_cycle_terms(tmp_path):
    """DTN logs no cycle term: its terms get the 'other terms' panel."""
    from lstnet_experiments.reproduction.plots import loss_curves

    names = ["step", *DTN.DISCRIMINATOR_TERMS, "d_total", *DTN.GENERATOR_TERMS, "g_total"]
    rows = [",".join(names)] + [",".join(str(step + k) for k in range(len(names)))
                                for step in range(1, 5)]
    (tmp_path / "losses.csv").write_text("\n".join(rows) + "\n")
    assert loss_curves(tmp_path / "losses.csv", tmp_path / "losses.png", "dtn").is_file()
