"""The judges' cache: keyed by the classifier's definition, loaded uncompiled."""

from __future__ import annotations

import numpy as np
import pytest

from lstnet_tf import classifier, pipeline
from lstnet_tf.config import ClassifierConfig

CONFIG = ClassifierConfig(mnist_epochs=1, usps_epochs=1, steps_per_epoch=2, batch_size=8)


def _data(n=32, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n, size, size, 1)).astype("float32"),
            rng.integers(0, 10, n).astype("int32"))


def _load_or_train(cache):
    return classifier.load_or_train_classifier("usps", _data(), _data(seed=1), CONFIG, seed=0,
                                               cache_dir=cache, verbose=0)


def _trained(capsys) -> bool:
    """Whether the last load trained (it says so) rather than loaded the cache."""
    out = capsys.readouterr().out
    assert ("Training the usps classifier" in out) != ("Using cached usps classifier" in out)
    return "Training the usps classifier" in out


def test_a_cached_classifier_is_reused_and_loaded_uncompiled(tmp_path, capsys):
    first, accuracy = _load_or_train(tmp_path)
    assert _trained(capsys)
    cached, cached_accuracy = _load_or_train(tmp_path)
    assert not _trained(capsys) and cached_accuracy == accuracy
    assert not cached.compiled and getattr(cached, "optimizer", None) is None
    x = _data(seed=2)[0]
    np.testing.assert_array_equal(classifier.predict_labels(cached, x),
                                  classifier.predict_labels(first, x))


@pytest.mark.parametrize("part", ["build_classifier", "augment_images"])
def test_a_changed_definition_trains_anew(tmp_path, monkeypatch, capsys, part):
    """Another architecture (or augmentation) has another key: never the old judge."""
    _load_or_train(tmp_path)
    assert _trained(capsys)
    before = classifier.definition_version()
    module = pipeline if part == "augment_images" else classifier
    original = getattr(module, part)

    def changed(*args, **kwargs):  # a different source text, the same behaviour
        return original(*args, **kwargs)

    monkeypatch.setattr(module, part, changed)
    assert classifier.definition_version() != before
    _load_or_train(tmp_path)
    assert _trained(capsys)
    assert len(list(tmp_path.glob("*.keras"))) == 2
