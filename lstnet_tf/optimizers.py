"""The optimizers of a training run: Adam with ``TrainConfig``'s settings, and the learning-rate
schedule it follows.

``TrainConfig`` holds every default (the paper's Adam, section 3: 1e-4, betas 0.8 / 0.999, no
decay, constant rate, no weight average); nothing here repeats them.
"""

from __future__ import annotations

import keras

from lstnet_tf.config import TrainConfig


def decay_start_step(train: TrainConfig) -> int | None:
    """The step from which the learning rates decay; None when they stay constant."""
    hold = round(train.lr_decay_start * train.steps)
    return hold if hold < train.steps else None


def learning_rate_schedule(learning_rate: float, train: TrainConfig):
    """``learning_rate`` for the first ``train.lr_decay_start`` of the steps, then a half cosine
    that reaches 0 after the last update; a plain float when there is no decay (the paper).

    Keras' CosineDecay with its warm-up going from the rate to itself is exactly that hold. The
    optimizer evaluates it at its own step counter (before incrementing it), which checkpoints
    restore."""
    hold = decay_start_step(train)
    if hold is None:
        return learning_rate
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate, decay_steps=train.steps - hold, alpha=0.0,
        warmup_target=learning_rate, warmup_steps=hold)


def adam(train: TrainConfig, learning_rate: float, name: str | None,
         ema_decay: float = 0.0) -> keras.optimizers.Adam:
    """Adam with ``train``'s betas and weight decay (Keras' decoupled form; 0 = none), at
    ``learning_rate`` held then decayed as ``learning_rate_schedule`` says.

    ``ema_decay > 0`` also keeps an exponential moving average of the weights it trains, with
    that decay (Keras' ``use_ema``; it does not change the updates); 0 keeps none. The
    ``name`` is part of every optimizer variable's path, which checkpoints restore by."""
    average = {"use_ema": True, "ema_momentum": ema_decay} if ema_decay else {}
    return keras.optimizers.Adam(learning_rate=learning_rate_schedule(learning_rate, train),
                                 beta_1=train.beta_1, beta_2=train.beta_2, name=name,
                                 weight_decay=train.weight_decay or None, **average)


def default_optimizer(name: str | None = None) -> keras.optimizers.Adam:
    """The paper's Adam (``TrainConfig``'s defaults, whose d and g learning rates are the same):
    what a model compiled without optimizers gets (``LSTNet.compile``, a reloaded model)."""
    paper = TrainConfig()
    return adam(paper, paper.g_learning_rate, name)
