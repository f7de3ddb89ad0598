"""The shipped-model files: stored in float16, loaded as float32; and ``store_float16``, which
copies a folder of float32 files into that form."""

from __future__ import annotations

import numpy as np
import pytest

from lstnet_tf.shipped_models import (STORAGE_DTYPE, load_classifier, load_translator,
                                      save_shipped, with_dtype)


def tiny_translator(precision: str):
    """The USPS→MNIST path of a tiny untrained LSTNet, with BatchNorm statistics moved away
    from their initial values (so that every kind of weight is stored)."""
    from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
    from lstnet_tf.inference import recompute_batch_norm_statistics, translator
    from lstnet_tf.training import build_model

    model = build_model(ExperimentConfig(model=ModelConfig(width=0.0625),
                                          train=TrainConfig(batch_size=4)), precision=precision)
    path = translator(model, "usps_to_mnist")
    rng = np.random.default_rng(0)
    recompute_batch_norm_statistics(path, [rng.uniform(-1, 1, (8, 16, 16, 1)).astype("float32")])
    return path


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_shipped_translator_is_float16_on_disk_and_float32_when_loaded(precision, images,
                                                                         tmp_path):
    import keras

    original = tiny_translator(precision)
    save_shipped(original, tmp_path / "usps_to_mnist.keras")
    original.save(tmp_path / "float32.keras")

    on_disk = keras.saving.load_model(tmp_path / "usps_to_mnist.keras", compile=False)
    assert {w.dtype for w in on_disk.weights} == {STORAGE_DTYPE}
    saved_bytes = ((tmp_path / "float32.keras").stat().st_size
                   - (tmp_path / "usps_to_mnist.keras").stat().st_size)
    assert saved_bytes > 0.9 * 2 * original.count_params()  # 2 of each weight's 4 bytes
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []

    loaded = load_translator(tmp_path / "usps_to_mnist.keras", "usps-to-mnist")
    assert {w.dtype for w in loaded.weights} == {"float32"}
    assert {layer.compute_dtype for layer in _leaf_layers(loaded)} == {"float32"}
    for stored, weight in zip(loaded.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(stored, weight.astype("float16").astype("float32"))
    # Against the unrounded weights run in float32: what float16 storage alone changes.
    np.testing.assert_allclose(loaded(images, training=False).numpy(),
                               with_dtype(original, "float32")(images, training=False).numpy(),
                               atol=0.02)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_float32_files_load_as_they_were_saved(precision, images, tmp_path):
    original = tiny_translator(precision)
    original.save(tmp_path / "usps_to_mnist.keras")
    loaded = load_translator(tmp_path / "usps_to_mnist.keras", "usps_to_mnist")
    assert ([layer.dtype_policy.name for layer in _leaf_layers(loaded)]
            == [layer.dtype_policy.name for layer in _leaf_layers(original)])
    np.testing.assert_array_equal(loaded(images, training=False).numpy(),
                                  original(images, training=False).numpy())


def test_a_shipped_classifier_is_float16_on_disk_and_keeps_its_rounded_weights(tmp_path):
    import keras

    from lstnet_tf.classifier import build_classifier

    classifier = build_classifier(16, "usps")
    save_shipped(classifier, tmp_path / "usps_classifier.keras")
    on_disk = keras.saving.load_model(tmp_path / "usps_classifier.keras", compile=False)
    assert {w.dtype for w in on_disk.weights} == {STORAGE_DTYPE}
    loaded = load_classifier(tmp_path / "usps_classifier.keras", "mnist-to-usps")
    for stored, weight in zip(loaded.get_weights(), classifier.get_weights()):
        np.testing.assert_array_equal(stored, weight.astype("float16").astype("float32"))


def test_a_trained_compiled_classifier_is_shipped_without_its_optimizer_state(tmp_path):
    """The runner ships classifiers that were trained (or loaded) compiled; clone_model would
    compile the float16 copy like them, and the file would hold Adam's moments too."""
    import zipfile

    import h5py
    import keras

    from lstnet_tf.classifier import build_classifier

    classifier = build_classifier(16, "usps")
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                       loss="sparse_categorical_crossentropy")
    classifier.fit(np.zeros((4, 16, 16, 1), "float32"), np.arange(4), epochs=1, verbose=0)
    assert not with_dtype(classifier, STORAGE_DTYPE).compiled
    save_shipped(classifier, tmp_path / "usps_classifier.keras")
    with zipfile.ZipFile(tmp_path / "usps_classifier.keras") as archive:
        archive.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    loaded = load_classifier(tmp_path / "usps_classifier.keras", "mnist-to-usps")
    for stored, weight in zip(loaded.get_weights(), classifier.get_weights()):
        np.testing.assert_array_equal(stored, weight.astype("float16").astype("float32"))


def test_a_weight_too_large_for_float16_is_an_error_and_nothing_is_written(tmp_path):
    original = tiny_translator("float32")
    weights = original.get_weights()
    weights[0] = np.full_like(weights[0], 1e6)
    original.set_weights(weights)
    with pytest.raises(ValueError, match="does not fit in float16"):
        save_shipped(original, tmp_path / "usps_to_mnist.keras")
    assert list(tmp_path.iterdir()) == []


def test_store_float16_copies_a_tree_and_leaves_the_source_as_it_was(tmp_path, capsys):
    from lstnet_experiments.speed import store_float16

    source = tmp_path / "float32" / "seed0"
    source.mkdir(parents=True)
    tiny_translator("float32").save(source / "usps_to_mnist.keras")
    before = (source / "usps_to_mnist.keras").read_bytes()

    assert store_float16.main([str(tmp_path / "float32"), "--out", str(tmp_path / "half")]) == 0
    copy = tmp_path / "half" / "seed0" / "usps_to_mnist.keras"
    assert len(before) - copy.stat().st_size > 0.9 * 2 * tiny_translator("float32").count_params()
    assert (source / "usps_to_mnist.keras").read_bytes() == before
    assert "-> " + str(copy) in capsys.readouterr().out

    # A second time: the copy exists, so nothing is overwritten.
    copied = copy.read_bytes()
    assert store_float16.main([str(tmp_path / "float32"), "--out", str(tmp_path / "half")]) == 1
    assert "would overwrite" in capsys.readouterr().err
    assert copy.read_bytes() == copied


def test_store_float16_reports_a_weight_float16_cannot_hold(tmp_path, capsys):
    from lstnet_experiments.speed import store_float16

    original = tiny_translator("float32")
    weights = original.get_weights()
    weights[0] = np.full_like(weights[0], 1e6)
    original.set_weights(weights)
    (tmp_path / "float32").mkdir()
    original.save(tmp_path / "float32" / "usps_to_mnist.keras")
    assert store_float16.main([str(tmp_path / "float32"), "--out", str(tmp_path / "half")]) == 1
    assert "does not fit in float16; keep this file in float32" in capsys.readouterr().err
    assert list((tmp_path / "half").rglob("*")) == []


@pytest.mark.parametrize("case, message", [("empty", "no .keras files"),
                                           ("inside", "is inside"),
                                           ("missing", "is not a folder")])
def test_store_float16_usage_errors(case, message, tmp_path, capsys):
    from lstnet_experiments.speed import store_float16

    (tmp_path / "empty").mkdir()
    source = {"empty": tmp_path / "empty", "inside": tmp_path / "empty",
              "missing": tmp_path / "nothing"}[case]
    out = source / "half" if case == "inside" else tmp_path / "out"
    assert store_float16.main([str(source), "--out", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def _leaf_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer
