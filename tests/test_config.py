"""The typed configuration: paper defaults, presets in lstnet_tf/configs/, validation and overrides."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from lstnet_tf import config as config_module
from lstnet_tf.config import CONFIG_DIR, ConfigError, available_presets, load_config


def _assert_file_values_applied(expected: dict, actual, path: str = "") -> None:
    """Every value written in a preset file is the value the loaded config holds."""
    for key, value in expected.items():
        held = getattr(actual, key)
        if isinstance(value, dict):
            _assert_file_values_applied(value, held, f"{path}{key}.")
        else:
            assert held == value, f"{path}{key}: file says {value!r}, config holds {held!r}"


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    """An empty configs/ directory in place of the project's; write presets into it."""
    monkeypatch.setattr(config_module, "CONFIG_DIR", tmp_path)
    return tmp_path


def test_paper_preset_is_the_papers_setting():
    """Section 3 / Table 1: full width, Adam 1e-4 (0.8, 0.999), batch 64, weights 20/20/30/100x4."""
    config = load_config("paper")
    assert config.preset == "paper"
    assert config.model.width == 1.0
    train = config.train
    assert (train.d_learning_rate, train.g_learning_rate) == (1e-4, 1e-4)
    assert (train.beta_1, train.beta_2) == (0.8, 0.999)
    assert train.batch_size == 64
    assert train.augment is True
    assert train.lr_decay_start == 1.0  # constant learning rates
    weights = train.loss_weights
    assert (weights.adversarial_1, weights.adversarial_2, weights.adversarial_latent) == (20, 20, 30)
    assert (weights.cycle_1, weights.cycle_2, weights.cycle_3, weights.cycle_4) == (100,) * 4


def test_the_documented_presets_exist():
    """configs/ holds (at least) the paper, cpu and smoke presets."""
    assert {"paper", "cpu", "smoke"} <= set(available_presets())


@pytest.mark.parametrize("preset", available_presets())
def test_every_preset_loads_validates_and_applies_its_file(preset):
    """Each configs/*.yaml loads, passes validation, and every value it sets is in effect."""
    config = load_config(preset)
    assert config.preset == preset
    # Checked against itself: a preset may size every method's own settings (smoke does).
    assert config.validate(reference=config) is config
    assert config.train.steps % config.train.checkpoint_every == 0
    from_file = yaml.safe_load((CONFIG_DIR / f"{preset}.yaml").read_text()) or {}
    _assert_file_values_applied(from_file, config)


def test_to_dict_is_the_full_nested_config():
    """to_dict() holds every field, nested sections included (it is written as provenance)."""
    as_dict = load_config("smoke").to_dict()
    assert as_dict["model"]["width"] == 0.0625
    assert as_dict["train"]["loss_weights"]["cycle_4"] == 100.0
    assert set(as_dict) == {f.name for f in dataclasses.fields(config_module.ExperimentConfig)}


def test_unknown_preset_lists_the_available_ones():
    """An unknown preset raises ConfigError naming it and every available preset."""
    with pytest.raises(ConfigError) as error:
        load_config("nope")
    message = str(error.value)
    assert "nope" in message
    for preset in available_presets():
        assert preset in message


@pytest.mark.parametrize("overrides, name", [
    ({"train": {"stepz": 10}}, "stepz"),
    ({"modle": {"width": 0.5}}, "modle"),
    ({"train": {"loss_weights": {"cycle_5": 1.0}}}, "cycle_5"),
])
def test_unknown_override_field_is_named(overrides, name):
    """An unknown field, at any depth, raises ConfigError naming it."""
    with pytest.raises(ConfigError, match=name):
        load_config("smoke", overrides)


def test_unknown_field_in_a_preset_file_is_named(preset_dir):
    """A typo in a preset file is rejected, not silently ignored."""
    (preset_dir / "typo.yaml").write_text("train:\n  batch_sise: 32\n")
    with pytest.raises(ConfigError, match="batch_sise"):
        load_config("typo")


@pytest.mark.parametrize("overrides", [
    {"train": {"steps": "many"}},
    {"train": {"steps": 2.5}},
    {"train": {"batch_size": True}},
    {"train": {"augment": 1}},
    {"model": {"width": "wide"}},
    {"train": 4},
    {"train": {"loss_weights": 20.0}},
])
def test_wrong_type_is_rejected(overrides):
    """A value of the wrong type (bool for int, str for float, scalar for a section) is an error."""
    with pytest.raises(ConfigError):
        load_config("smoke", overrides)


def test_int_is_accepted_for_a_float_field():
    """YAML writes 1 for 1.0: an int where a float is expected is converted, not rejected."""
    config = load_config("smoke", {"model": {"width": 1}})
    assert config.model.width == 1.0 and isinstance(config.model.width, float)


def test_steps_must_be_a_multiple_of_checkpoint_every():
    """steps=5 with the smoke preset's checkpoint_every=2 is rejected, naming both fields."""
    assert load_config("smoke").train.checkpoint_every == 2
    with pytest.raises(ConfigError, match="checkpoint_every"):
        load_config("smoke", {"train": {"steps": 5}})
    assert load_config("smoke", {"train": {"steps": 6}}).train.steps == 6


def test_steps_multiple_rule_applies_to_preset_files(preset_dir):
    """The same rule holds for values that come from a preset file."""
    (preset_dir / "odd.yaml").write_text("train:\n  steps: 7\n  checkpoint_every: 2\n")
    with pytest.raises(ConfigError, match="multiple"):
        load_config("odd")


@pytest.mark.parametrize("overrides", [
    {"model": {"width": 0.0}},
    {"train": {"precision": "float8"}},
    {"train": {"batch_size": 0}},
    {"train": {"monitor_samples": 0}},
    {"train": {"lr_decay_start": 1.5}},
    {"train": {"lr_decay_start": -0.1}},
    {"classifier": {"usps_epochs": 0}},
])
def test_impossible_values_are_rejected(overrides):
    """Values of the right type but impossible (zero width, unknown precision, ...) fail."""
    with pytest.raises(ConfigError):
        load_config("smoke", overrides)


def test_nested_overrides_apply_over_the_preset():
    """Overrides change only the fields they name, at any depth; the rest keep the preset's."""
    config = load_config("cpu", {"model": {"width": 0.5},
                                 "train": {"loss_weights": {"cycle_3": 7.0}, "steps": 1000}})
    assert config.model.width == 0.5
    assert config.train.steps == 1000
    assert config.train.loss_weights.cycle_3 == 7.0
    assert config.train.loss_weights.cycle_1 == 100.0
    assert config.train.loss_weights.adversarial_latent == 30.0
    assert config.train.d_learning_rate == 2e-4  # from cpu.yaml
    assert config.train.checkpoint_every == 500  # from cpu.yaml
    assert config.model.leaky_relu_slope == 0.3  # dataclass default


def test_overrides_do_not_leak_into_later_loads():
    """Loading with overrides leaves the next plain load untouched."""
    load_config("cpu", {"train": {"loss_weights": {"cycle_3": 7.0}}})
    assert load_config("cpu").train.loss_weights.cycle_3 == 100.0


def test_settings_that_differ_ignore_fields_only_one_config_has():
    from lstnet_tf.config import settings_that_differ

    old = {"train": {"steps": 10, "reuse_forward": True}, "description": "a"}
    new = {"train": {"steps": 10, "ema_decay": 0.9}, "description": "b"}
    assert settings_that_differ(old, new) == []
    assert settings_that_differ(old, {"train": {"steps": 20}}) == ["train.steps"]


def test_with_defaults_fills_fields_added_since_and_keeps_removed_ones():
    """A record from before train.lr_decay_start, with a field the code no longer has."""
    from lstnet_tf.config import with_defaults

    filled = with_defaults({"train": {"steps": 3500, "reuse_forward": True}, "preset": "cpu"})
    assert filled["train"]["steps"] == 3500 and filled["preset"] == "cpu"
    assert filled["train"]["lr_decay_start"] == 1.0
    assert filled["train"]["reuse_forward"] is True
    assert filled["model"]["width"] == 1.0


def test_weight_decay_is_validated_and_reaches_both_optimizers():
    """train.weight_decay: negative refused; 0 (every preset) gives Adam no decay at all; a
    positive value is Keras' decoupled decay on both optimizers, and shrinks a weight by
    learning rate x decay per step when its gradient is 0."""
    import keras
    import numpy as np

    from lstnet_tf.config import TrainConfig
    from lstnet_tf.optimizers import adam
    from lstnet_tf.training import build_model

    with pytest.raises(ConfigError, match="weight_decay"):
        load_config("smoke", {"train": {"weight_decay": -0.1}})
    assert load_config("cpu").train.weight_decay == load_config("paper").train.weight_decay == 0
    model = build_model(load_config("smoke", {"train": {"weight_decay": 0.25}}))
    assert model.d_optimizer.weight_decay == model.g_optimizer.weight_decay == 0.25
    assert build_model(load_config("smoke")).g_optimizer.weight_decay is None
    weight = keras.Variable(np.full((3,), 2.0, "float32"))
    optimizer = adam(TrainConfig(weight_decay=0.5), 0.1, "adam")
    optimizer.apply_gradients([(np.zeros(3, "float32"), weight)])
    np.testing.assert_allclose(weight.numpy(), 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
