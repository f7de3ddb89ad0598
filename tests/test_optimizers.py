"""The optimizer factory: Adam from TrainConfig's settings, its weight average and schedule."""

from __future__ import annotations

import dataclasses

import keras
import pytest

from lstnet_tf.config import TrainConfig, load_config
from lstnet_tf.optimizers import adam, decay_start_step, default_optimizer


def test_the_default_optimizer_is_trainconfigs_adam():
    """What a model compiled without optimizers gets: TrainConfig's defaults, nothing of its
    own (no weight average, no decay, a constant rate)."""
    paper = TrainConfig()
    optimizer = default_optimizer("d_adam")
    assert isinstance(optimizer, keras.optimizers.Adam) and optimizer.name == "d_adam"
    assert float(optimizer.learning_rate) == pytest.approx(paper.d_learning_rate)
    assert float(optimizer.learning_rate) == pytest.approx(paper.g_learning_rate)
    assert (optimizer.beta_1, optimizer.beta_2) == (paper.beta_1, paper.beta_2)
    assert not optimizer.use_ema and optimizer.weight_decay is None


def test_a_weight_average_is_kept_only_when_asked_with_its_decay():
    train = TrainConfig(beta_1=0.5, beta_2=0.9, weight_decay=0.01)
    plain = adam(train, 3e-4, "plain")
    averaged = adam(train, 3e-4, "averaged", ema_decay=0.998)
    assert not plain.use_ema
    assert averaged.use_ema and averaged.ema_momentum == 0.998
    for optimizer in (plain, averaged):
        assert (optimizer.beta_1, optimizer.beta_2, optimizer.weight_decay) == (0.5, 0.9, 0.01)


def test_adam_follows_the_schedule_of_the_run():
    """The cpu preset holds its rate for the first half of the steps, then decays it to 0."""
    train = load_config("cpu").train
    optimizer = adam(train, train.g_learning_rate, "g_adam", ema_decay=train.ema_decay)
    assert decay_start_step(train) == train.steps // 2
    schedule = optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(train.g_learning_rate)
    assert float(schedule(train.steps // 2)) == pytest.approx(train.g_learning_rate)
    assert float(schedule(train.steps)) == pytest.approx(0.0, abs=1e-12)
    constant = dataclasses.replace(train, lr_decay_start=1.0)
    assert decay_start_step(constant) is None
    assert float(adam(constant, 2e-4, "g_adam").learning_rate) == pytest.approx(2e-4)
