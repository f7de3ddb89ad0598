"""The latent-space VAE transfer (lstnet_tf/vae_transfer, lstnet_experiments/vae_transfer/):
its equations against hand computations, the scorer's class mapping, exact step counts, a tiny
end-to-end run and the command's usage errors."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import tensorflow as tf

from lstnet_tf import data
from lstnet_tf.vae_transfer import tasks
from lstnet_tf.vae_transfer.config import TranslatorConfig, make_config
from lstnet_tf.vae_transfer.models import (LatentTransfer, build_generator, discriminator_terms,
                                           gated_interpolation, generator_terms, kl_divergence)


def test_kl_equals_its_closed_form_and_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(4, 3)).astype(np.float32)
    log_variance = rng.normal(scale=0.7, size=(4, 3)).astype(np.float32)
    kl = kl_divergence(tf.constant(mu), tf.constant(log_variance)).numpy()
    sigma = np.exp(0.5 * log_variance)
    # Textbook form, per dimension: log(1/sigma) + (sigma^2 + mu^2) / 2 - 1/2.
    closed = np.sum(-np.log(sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5, axis=1)
    np.testing.assert_allclose(kl, closed, rtol=1e-5)
    # E_q[log q(z) - log p(z)] by sampling, 200 000 draws per example.
    z = mu + sigma * rng.standard_normal((200_000, *mu.shape))
    log_q = np.sum(-0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma), axis=-1)
    log_p = np.sum(-0.5 * z ** 2, axis=-1)
    np.testing.assert_allclose(kl, np.mean(log_q - log_p, axis=0), atol=0.03)


def test_gate_zero_gives_epsilon_and_gate_one_the_generated_code():
    epsilon, generated = tf.constant([[1.0, -2.0]]), tf.constant([[5.0, 7.0]])
    np.testing.assert_allclose(gated_interpolation(epsilon, generated, tf.zeros((1, 2))), epsilon)
    np.testing.assert_allclose(gated_interpolation(epsilon, generated, tf.ones((1, 2))), generated)
    np.testing.assert_allclose(gated_interpolation(epsilon, generated, tf.fill((1, 2), 0.25)),
                               [[0.75 * 1 + 0.25 * 5, 0.75 * -2 + 0.25 * 7]])
    # Through the generator network: the gate head's bias saturates the sigmoid.
    generator = build_generator(TranslatorConfig(layers=1, units=8), latent_dim=3)
    eps = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    cond = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    gate = generator.get_layer("gate")
    head = generator.get_layer("generated")
    for bias, expected in ((-40.0, "epsilon"), (40.0, "generated")):
        gate.set_weights([np.zeros_like(gate.get_weights()[0]), np.full(3, bias, np.float32)])
        translated, gates = generator([eps, cond])
        hidden = generator.get_layer("dense1")(tf.concat([eps, cond], axis=-1))
        code = head(hidden).numpy()
        np.testing.assert_allclose(translated, eps if expected == "epsilon" else code, atol=1e-5)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_discriminator_terms_match_a_hand_computation():
    real, generated, noise = np.array([2.0, -1.0]), np.array([0.5, -3.0]), np.array([1.5, 0.0])
    terms = {k: float(v) for k, v in discriminator_terms(
        tf.constant(real), tf.constant(generated), tf.constant(noise)).items()}
    # -log D(z_cond, z_real), -log(1 - D(z_cond, G)), -log(1 - D(z_cond, eps)), batch means.
    assert terms["real"] == pytest.approx(np.mean(-np.log(_sigmoid(real))), rel=1e-6)
    assert terms["generated"] == pytest.approx(np.mean(-np.log(1 - _sigmoid(generated))), rel=1e-6)
    assert terms["noise"] == pytest.approx(np.mean(-np.log(1 - _sigmoid(noise))), rel=1e-6)
    # Not the paper's printed -(1 - log D), which is negative and rewards D for saying "real".
    assert terms["noise"] != pytest.approx(np.mean(-(1 - np.log(_sigmoid(noise)))))
    g = generator_terms(tf.constant(generated), tf.constant([[1.0, 0.0]]), tf.constant([[0.0, 2.0]]))
    assert float(g["adversarial"]) == pytest.approx(np.mean(-np.log(_sigmoid(generated))), rel=1e-6)
    assert float(g["regularizer"]) == pytest.approx((1 + 4) / 2)  # 1/n ||eps - G||^2, n = 2


def test_mismatched_term_and_codes_are_of_another_paired_class():
    """The switch beyond the paper: -log(1 - D(z_cond, z_other)), z_other a real code of a
    paired target class other than pi(i), every other one drawn."""
    other = np.array([0.3, -2.0, 4.0])
    terms = discriminator_terms(*(tf.zeros(3),) * 3, tf.constant(other))
    assert float(terms["mismatched"]) == pytest.approx(np.mean(-np.log(1 - _sigmoid(other))),
                                                       rel=1e-6)
    assert "mismatched" not in discriminator_terms(*(tf.zeros(3),) * 3)

    pairing = {0: 7, 1: 9, 2: 5, 3: 6, 4: 8}
    target_labels = np.repeat(np.arange(5, 10), 4)
    codes = np.repeat(target_labels[:, None], 2, axis=1).astype(np.float32)  # code = its class
    model = LatentTransfer(TranslatorConfig(layers=1, units=4, mismatched_pairs=True), 2, 0.1,
                           codes, np.full_like(codes, -30.0), target_labels,
                           tasks.pairing_table(pairing))
    labels = tf.constant(np.repeat(np.arange(5), 200), tf.int32)
    paired = np.array([pairing[i] for i in labels.numpy()])
    same = np.rint(model._target_codes(labels).numpy()[:, 0])
    np.testing.assert_array_equal(same, paired)
    drawn = np.rint(model._target_codes(labels, mismatched=True).numpy()[:, 0])
    assert not np.any(drawn == paired)
    for i in range(5):
        assert set(drawn[labels.numpy() == i]) == set(range(5, 10)) - {pairing[i]}

    from lstnet_tf.vae_transfer.training import train_translator

    source_labels = np.arange(5).repeat(2)
    source = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    _, losses = train_translator(
        (source, np.zeros_like(source)), source_labels, (codes, np.zeros_like(codes)),
        target_labels, tasks.pairing_table(pairing),
        TranslatorConfig(layers=1, units=4, steps=2, batch_size=4, jit_compile=False,
                         mismatched_pairs=True), 0.1, seed=0)
    assert math.isfinite(losses["d_mismatched"]) and losses["d_mismatched"] > 0


def test_scorer_maps_classes_correctly(shared_data_dir):
    x, y = data.load_mnist("test", shared_data_dir, download=False)
    keep = np.isin(y, tasks.SOURCE_CLASSES)
    conditional_labels = y[keep][:2000]
    pools = {c: np.flatnonzero(y == c) for c in tasks.TARGET_CLASSES}
    rng = np.random.default_rng(0)

    def oracle_judge(images_index):
        return y[images_index]  # a judge that is never wrong about a real test image

    def fake_generator(pairing):
        """Returns, per conditional, a real MNIST test image of class pairing[label]."""
        return np.array([rng.choice(pools[pairing[c]]) for c in conditional_labels])

    pairing = tasks.shuffled_pairings(1, seed=3)[0]
    right = tasks.paired_correct(oracle_judge(fake_generator(pairing)), conditional_labels, pairing)
    assert right.mean() == 1.0
    scores = []
    for permutation in itertools.permutations(tasks.TARGET_CLASSES):
        wrong = dict(zip(tasks.SOURCE_CLASSES, permutation))
        scores.append(tasks.paired_correct(oracle_judge(fake_generator(wrong)),
                                           conditional_labels, pairing).mean())
    assert np.mean(scores) == pytest.approx(tasks.CHANCE, abs=1e-9)
    derangement = {i: pairing[(i + 1) % 5] for i in tasks.SOURCE_CLASSES}
    assert tasks.paired_correct(oracle_judge(fake_generator(derangement)), conditional_labels,
                                pairing).mean() == 0.0


def test_pairings_are_bijections_and_subsets_balanced():
    for pairing in tasks.shuffled_pairings(3, seed=0):
        assert sorted(pairing) == list(tasks.SOURCE_CLASSES)
        assert sorted(pairing.values()) == list(tasks.TARGET_CLASSES)
    labels = np.repeat(np.arange(5), 30)
    picked = tasks.labelled_subset(labels, 50, np.random.default_rng(0))
    assert np.bincount(labels[picked]).tolist() == [10] * 5
    assert len(tasks.labelled_subset(labels, tasks.ALL, np.random.default_rng(0))) == 150


def _tiny_splits(real_load_splits, real_load_test, per_domain=400):
    def cut(domains):
        return {d: (x[:per_domain], y[:per_domain]) for d, (x, y) in domains.items()}

    def load_splits(*args, **kwargs):
        return {split: cut(domains) for split, domains in real_load_splits(*args, **kwargs).items()}

    def load_test(*args, **kwargs):
        return cut(real_load_test(*args, **kwargs))

    return load_splits, load_test


def test_smoke_run_of_the_whole_experiment(tmp_path, monkeypatch, shared_data_dir):
    from lstnet_experiments.reproduction import reproduce

    load_splits, load_tiny_test = _tiny_splits(data.load_splits, data.load_test)
    test_reads = []

    def load_test(*args, **kwargs):  # records the VAEs trained by then
        test_reads.append(len(list((tmp_path / "work" / "vaes").iterdir())))
        return load_tiny_test(*args, **kwargs)

    monkeypatch.setattr(data, "load_splits", load_splits)
    monkeypatch.setattr(data, "load_test", load_test)
    out = tmp_path / "out"
    argv = ["--experiment", "vae-transfer", "--seeds", "0",
            "--data-dir", str(shared_data_dir), "--no-download", "--quiet",
            "--work-dir", str(tmp_path / "work"),
            "--set", "vae.steps=2", "--set", "vae.batch_size=16", "--set", "translator.steps=3",
            "--set", "translator.batch_size=8", "--set", "translator.jit_compile=false",
            "--set", "judge.mnist_epochs=1", "--set", "judge.steps_per_epoch=2",
            "--set", "pairings=1"]
    code = reproduce.main([*argv, "--sizes", "10", "all", "--out", str(out)])
    assert code == 0
    result = json.loads((out / "seed0.json").read_text())
    for task in tasks.TASKS:
        for size in ("10", "all"):
            (row,) = result["cells"][task][size]["pairings"]
            assert 0.0 <= row["accuracy"] <= 1.0
            assert all(math.isfinite(v) for v in row["final_losses"].values())
    assert all(math.isfinite(v) for info in result["vaes"].values()
               for v in info["losses"].values())
    assert (out / "table.md").is_file() and (out / "figure_mnist-mnist.png").is_file()
    assert result["provenance"]["code"]["commit"]
    assert len(test_reads) == 1  # the test split is read once per seed, judge included
    assert test_reads == [len(result["vaes"])] == [3]  # after every VAE was trained
    assert "`translator.steps=3`" in (out / "table.md").read_text()  # its overrides, stated
    assert 0.0 <= result["judge"]["test_accuracy"] <= 1.0

    # A cell does not depend on the sizes or tasks run before it: "all" alone gives the same.
    alone = tmp_path / "alone"
    assert reproduce.main([*argv, "--sizes", "all", "--tasks", "usps-mnist", "--no-figure",
                           "--out", str(alone)]) == 0
    (row,) = json.loads((alone / "seed0.json").read_text())["cells"]["usps-mnist"]["all"]["pairings"]
    assert row == result["cells"]["usps-mnist"]["all"]["pairings"][0]


def test_vaes_trained_on_subset_see_only_the_sizes_images(tmp_path, monkeypatch,
                                                          shared_data_dir):
    from lstnet_experiments.reproduction import reproduce

    load_splits, load_test = _tiny_splits(data.load_splits, data.load_test)
    monkeypatch.setattr(data, "load_splits", load_splits)
    monkeypatch.setattr(data, "load_test", load_test)
    out = tmp_path / "out"
    assert reproduce.main([
        "--experiment", "vae-transfer", "--seeds", "0", "--tasks", "mnist-mnist",
        "--sizes", "10", "--split", "validation", "--no-figure", "--data-dir",
        str(shared_data_dir), "--no-download", "--quiet", "--out", str(out), "--work-dir",
        str(tmp_path / "work"), "--set", "vaes_trained_on_subset=true",
        "--set", "vae.steps=2", "--set", "vae.batch_size=4", "--set", "translator.steps=2",
        "--set", "translator.jit_compile=false", "--set", "judge.mnist_epochs=1",
        "--set", "judge.steps_per_epoch=2", "--set", "pairings=2"]) == 0
    result = json.loads((out / "seed0.json").read_text())
    assert result["vaes"]["mnist0-4-n10"]["images"] == 10
    assert result["vaes"]["mnist5-9-n10"]["images"] == 10
    assert len(result["cells"]["mnist-mnist"]["10"]["pairings"]) == 2
    assert "`vaes_trained_on_subset=True`" in (out / "table.md").read_text()
    # one VAE per domain and size, shared by the pairings; no full-data VAE (no "all", no figure)
    assert len(list((tmp_path / "work" / "vaes").iterdir())) == 2


def test_size_trend_pairs_each_seeds_pairings_across_sizes():
    from lstnet_experiments.vae_transfer.table import size_trend

    def results(small, large):  # 3 seeds x 3 pairings; sizes in the order the table runs them
        return {seed: {"cells": {"mnist-mnist": {
            "500": {"pairings": [{"accuracy": a} for a in small[seed]]},
            "all": {"pairings": [{"accuracy": a} for a in large[seed]]}}}} for seed in range(3)}

    small = [[0.5, 0.6, 0.7]] * 3
    large = [[0.51 + 0.01 * k, 0.64 + 0.01 * k, 0.77 + 0.01 * k] for k in range(3)]
    rising = size_trend(results(small, large), "mnist-mnist")
    assert (rising["from"], rising["to"], rising["units"], rising["rises"]) == ("500", "all", 9, 9)
    assert rising["mean_difference"] == pytest.approx(np.mean(large) - np.mean(small))
    assert rising["p_value"] == pytest.approx(2 / 2 ** 9)  # every unit rises: the exact minimum
    falling = size_trend(results(large, small), "mnist-mnist")
    assert falling["rises"] == 0 and falling["mean_difference"] == -rising["mean_difference"]
    # The same values unpaired across pairings (shuffled within seeds) change the differences.
    shuffled = size_trend(results(small, [row[::-1] for row in large]), "mnist-mnist")
    assert shuffled["rises"] < 9 and shuffled["p_value"] > rising["p_value"]
    assert size_trend(results(small, small), "mnist-mnist")["p_value"] == 1.0


def test_vae_subset_is_balanced_and_one_draw_per_seed_size_and_domain():
    labels = np.repeat(np.arange(5), 40)
    picked = tasks.vae_subset(labels, 50, 0, tasks.MNIST_SOURCE)
    assert np.bincount(labels[picked]).tolist() == [10] * 5
    assert np.array_equal(picked, tasks.vae_subset(labels, 50, 0, tasks.MNIST_SOURCE))
    for other in [(labels, 50, 1, tasks.MNIST_SOURCE), (labels, 50, 0, tasks.MNIST_TARGET)]:
        assert not np.array_equal(picked, tasks.vae_subset(*other))
    assert len(tasks.vae_subset(labels, tasks.ALL, 0, tasks.MNIST_SOURCE)) == 200


@pytest.mark.parametrize("argv", [
    ["--experiment", "vae-transfr"],
    ["--experiment", "vae-transfer", "--sizes", "7"],
    ["--experiment", "vae-transfer", "--set", "vae.stepz=3"],
    ["--experiment", "vae-transfer", "--set", "translator.steps=0"],
    ["--experiment", "vae-transfer", "--set", "pairings=11"],
    ["--experiment", "vae-transfer", "--set", "vae.steps=1505"],
])
def test_bad_input_is_a_usage_error_and_writes_nothing(tmp_path, argv, capsys):
    from lstnet_experiments.reproduction import reproduce

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(argv + ["--out", str(out), "--work-dir", str(tmp_path / "work")])
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "work").exists()


def test_config_defaults_are_the_papers_where_it_speaks():
    config = make_config()
    assert config.vae.latent_dim == 100 and config.vae.sigma_scale == 0.1
    assert config.vae.encoder_units == 256 and config.vae.decoder_units == 2048
    assert config.translator.layers == 4 and config.translator.units == 512
    assert config.pairings == 3
    from lstnet_tf.config import flat_settings
    from lstnet_tf.vae_transfer.config import BEYOND_THE_PAPER

    defaults = flat_settings(config.to_dict())
    assert BEYOND_THE_PAPER and all(defaults[key] is False for key in BEYOND_THE_PAPER)


def test_usage_errors_fail_before_tensorflow_is_imported(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    probe = ("import runpy, sys\nsys.argv = ['reproduce.py'] + sys.argv[1:]\n"
             "try:\n    runpy.run_path('reproduce.py', run_name='__main__')\n"
             "except SystemExit as exit:\n    code = exit.code\n"
             "print('tensorflow imported:', 'tensorflow' in sys.modules)\nsys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe, "--experiment", "vae-transfer",
                             "--sizes", "7", "--out", str(tmp_path / "out")],
                            cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "tensorflow imported: False" in result.stdout
    assert not (tmp_path / "out").exists()


def test_each_domain_trains_its_own_vae_seed():
    domains = {d for task in tasks.TASKS.values() for d in (task.source, task.target)}
    assert len({d.vae_seed(seed) for d in domains for seed in (0, 1)}) == 2 * len(domains)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_a_training_does_not_depend_on_the_trainings_before_it(jit_compile):
    """Each VAE and translator draws its noise from its own seed, so the same training gives
    the same weights whether it runs first or after others in the process (under XLA a
    stateful tf.random op ignores its seed and draws from one process-wide stream)."""
    from lstnet_tf.vae_transfer.config import VaeConfig
    from lstnet_tf.vae_transfer.training import train_translator, train_vae

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(8, 16, 16, 1)).astype(np.float32)
    vae_config = VaeConfig(latent_dim=3, base_channels=2, encoder_units=4, decoder_units=32,
                           steps=3, batch_size=4)
    target_labels = np.repeat(np.arange(5, 10), 2)
    target = rng.normal(size=(10, 3)).astype(np.float32)
    source = rng.normal(size=(10, 3)).astype(np.float32)
    pairing = tasks.pairing_table({i: i + 5 for i in range(5)})
    translator_config = TranslatorConfig(layers=1, units=4, steps=3, batch_size=4,
                                         mismatched_pairs=True, jit_compile=jit_compile)

    def weights(seed):
        vae, _ = train_vae(images, vae_config, seed=seed, name="vae")
        translator, _ = train_translator(
            (source, np.zeros_like(source)), np.arange(5).repeat(2), (target, np.zeros_like(target)),
            target_labels, pairing, translator_config, 0.1, seed=seed)
        return [w.numpy() for w in vae.weights + translator.weights]

    first = weights(0)
    assert any(not np.array_equal(a, b) for a, b in zip(first, weights(1)))  # seeds matter
    for before, after in zip(first, weights(0)):
        np.testing.assert_array_equal(before, after)


def test_a_cells_seed_is_keyed_by_its_size_not_its_place_in_the_command():
    assert [tasks.cell_salt(size, 0) for size in tasks.SIZES] == [0, 10, 20, 30]  # as run
    salts = [tasks.cell_salt(size, k) for size in (*tasks.SIZES, 10, 95, 250, 1500)
             for k in range(10)]
    assert len(set(salts)) == len(salts) and tasks.FIGURE_SALT not in salts


def _tiny_trainings(vae_steps: int, translator_steps: int):
    """A tiny VAE and translator configuration and the arguments to train them."""
    from lstnet_tf.vae_transfer.config import VaeConfig

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(8, 16, 16, 1)).astype(np.float32)
    vae_config = VaeConfig(latent_dim=3, base_channels=2, encoder_units=4, decoder_units=32,
                           steps=vae_steps, batch_size=4)
    source, target = rng.normal(size=(2, 10, 3)).astype(np.float32)
    translator_arguments = (
        (source, np.zeros_like(source)), np.arange(5).repeat(2), (target, np.zeros_like(target)),
        np.repeat(np.arange(5, 10), 2), tasks.pairing_table({i: i + 5 for i in range(5)}),
        TranslatorConfig(layers=1, units=4, steps=translator_steps, batch_size=4,
                         jit_compile=False), 0.1)
    return images, vae_config, translator_arguments


@pytest.mark.parametrize("steps", [7, 20])
def test_a_training_runs_exactly_its_configured_steps(steps):
    """Every configured step is an optimiser step: none dropped to fit the ten epochs."""
    import keras

    from lstnet_tf.vae_transfer.training import train_translator, train_vae

    images, vae_config, translator_arguments = _tiny_trainings(steps, steps)
    vae, _ = train_vae(images, vae_config, seed=0, name="vae")
    translator, _ = train_translator(*translator_arguments, seed=0)
    for optimizer in (vae.optimizer, translator.d_optimizer, translator.g_optimizer):
        assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == steps


def test_steps_that_the_ten_epochs_do_not_divide_are_refused_not_dropped():
    from lstnet_tf.config import ConfigError
    from lstnet_tf.vae_transfer.config import epochs_and_steps
    from lstnet_tf.vae_transfer.training import train_translator, train_vae

    assert epochs_and_steps(1500, "vae.steps") == (10, 150)
    assert epochs_and_steps(10, "vae.steps") == (10, 1)
    assert epochs_and_steps(7, "vae.steps") == (1, 7)
    with pytest.raises(ConfigError, match=r"vae\.steps=1505 is not a multiple of 10.*5 steps "
                                          r"would be dropped.*1500 or 1510"):
        make_config({"vae": {"steps": 1505}})
    with pytest.raises(ConfigError, match=r"translator\.steps=15 is not a multiple of 10"):
        make_config({"translator": {"steps": 15}})
    # Called directly, with a config that was never validated, the trainings refuse too.
    images, vae_config, translator_arguments = _tiny_trainings(15, 15)
    with pytest.raises(ConfigError, match=r"vae\.steps=15 .*such as 10 or 20"):
        train_vae(images, vae_config, seed=0, name="vae")
    with pytest.raises(ConfigError, match=r"translator\.steps=15 "):
        train_translator(*translator_arguments, seed=0)
