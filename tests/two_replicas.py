"""Training steps on two replicas against one device, for tests/test_devices.py.

Run in a subprocess (``python tests/two_replicas.py REPORT.json``): the CPU must be split into
two logical devices before TensorFlow initialises, and the test process initialised it long
ago. Every model here runs eagerly (``run_eagerly``): the same Python step, without minutes of
tracing for each of the seven models; the traced step under the strategy is what the
end-to-end test runs. Writes, per case, every variable's largest difference between the two
models and its largest magnitude on each side; test_devices.py holds the tolerances.

Cases, each from the same initial weights (same seed) and the same global batches of 8 + 8:
- ``sgd``: plain SGD on both sides, so that the update is linear in the gradient and a
  gradient twice too large shows as a step twice too large; synchronized BatchNorm. One step;
  then the two-replica model's checkpoint restored into the one-device model and a step on
  both; then the other way round.
- ``sgd_unsynchronized``: one step with per-replica BatchNorm statistics.
- ``adam``: the same with the real set-up (``build_model``: the paper's Adam, the weight
  average, the counters).
- ``mixed_float16``: the real set-up with loss-scale optimizers, one step.
- ``overflow_on_one_replica``: a loss-scale optimizer's update when one replica overflows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path

from lstnet_tf.devices import distribution_strategy

STRATEGY = distribution_strategy(2)  # first: splits the CPU before TensorFlow initialises

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig  # noqa: E402
from lstnet_tf.devices import AllReplicasLossScaleOptimizer  # noqa: E402
from lstnet_tf.lstnet import LSTNet  # noqa: E402
from lstnet_tf.training import CheckpointStore, build_model  # noqa: E402

CONFIG = ExperimentConfig(model=ModelConfig(width=0.0625), train=TrainConfig(
    steps=4, checkpoint_every=1, batch_size=8, ema_decay=0.9, precision="float32", devices=2))
SGD_LEARNING_RATE = 1e-5
MIXED_FLOAT16_SCALE = 1024.0
SEED = 1
RNG = np.random.default_rng(0)
BATCHES = [(RNG.uniform(-1, 1, (8, 28, 28, 1)).astype("float32"),
            RNG.uniform(-1, 1, (8, 16, 16, 1)).astype("float32")) for _ in range(3)]


def real_model(strategy, precision="float32") -> LSTNet:
    keras.utils.set_random_seed(SEED)
    config = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train,
                                                                   precision=precision))
    model = build_model(config, precision, strategy=strategy)
    model.run_eagerly = True
    return model


def sgd_model(strategy, synchronized: bool = True) -> LSTNet:
    keras.utils.set_random_seed(SEED)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = LSTNet(CONFIG.model, dtype="float32",
                       synchronized_batch_norm=bool(strategy) and synchronized)
        # Named, as checkpoints find optimizer state by name (an automatic one would count up).
        model.compile(d_optimizer=keras.optimizers.SGD(SGD_LEARNING_RATE, name="d_sgd"),
                      g_optimizer=keras.optimizers.SGD(SGD_LEARNING_RATE, name="g_sgd"),
                      loss_weights=CONFIG.train.loss_weights)
    model.run_eagerly = True
    return model


def step(model: LSTNet, batch: int) -> None:
    model.fit(tf.data.Dataset.from_tensors(BATCHES[batch]), epochs=1, steps_per_epoch=1,
              verbose=0, shuffle=False)


def differences(a: list, b: list) -> dict:
    """{path: [largest |a - b|, largest |a|, largest |b|]} of two models' variables, in the
    same order (a path may differ in the model's automatic name only)."""
    found = {}
    for v, w in zip(a, b, strict=True):
        assert v.path.split("/")[-1] == w.path.split("/")[-1], (v.path, w.path)
        x, y = (np.asarray(u.numpy(), np.float64) for u in (v, w))
        found[v.path] = [float(np.max(np.abs(d), initial=0)) for d in (x - y, x, y)]
    return found


def optimizer_variables(model: LSTNet) -> list:
    return [v for opt in (model.d_optimizer, model.g_optimizer) for v in opt.variables]


def counters(model: LSTNet) -> dict:
    """The step counter, each optimizer's update count and, under loss scaling, its scale."""
    found = {"completed_steps": model.step}
    for optimizer in (model.d_optimizer, model.g_optimizer):
        found[f"{optimizer.name}/iterations"] = int(optimizer.iterations.numpy())
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            found[f"{optimizer.name}/dynamic_scale"] = float(optimizer.dynamic_scale.numpy())
    return found


def compared(one: LSTNet, two: LSTNet) -> dict:
    return {"weights": differences(one.weights, two.weights),
            "optimizer": differences(optimizer_variables(one), optimizer_variables(two)),
            "losses": [one.last_step_losses(), two.last_step_losses()],
            "counters": [counters(one), counters(two)]}


def pre_batch_norm_biases(model: LSTNet) -> list[str]:
    """The conv biases BatchNorm follows (``_Blocks.conv_bn_lrelu`` names the BatchNorm after
    its conv): BatchNorm subtracts them again, so their gradient is zero up to rounding."""
    layers = {layer.name for part in model.parts for layer in part.layers}
    convs = [v.path.split("/")[0] for v in model.weights if v.path.endswith("/bias")]
    return sorted(f"{conv}/bias" for conv in convs
                  if "conv" in conv and re.sub(r"(de)?conv", "bn", conv) in layers)


def batch_norm_synchronized(model: LSTNet) -> list[bool]:
    return sorted({layer.synchronized for part in model.parts for layer in part.layers
                   if isinstance(layer, keras.layers.BatchNormalization)})


def first_step(*models: LSTNet) -> None:
    for model in models:
        step(model, 0)


def round_trips(one: LSTNet, two: LSTNet) -> dict:
    """The two-replica checkpoint restored into the one-device model and a step on both; then
    the other way round."""
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (source, target), batch in (("two_to_one", (two, one), 1),
                                              ("one_to_two", (one, two), 2)):
            store = CheckpointStore(Path(tmp) / name)
            store.save(source)
            store.restore(target)
            found[f"restored_{name}"] = compared(one, two)
            step(one, batch)
            step(two, batch)
            found[f"resumed_{name}"] = compared(one, two)
    return found


def overflow_on_the_second_replica(optimizer_class, traced: bool) -> dict:
    """One update of a one-weight model whose gradient is finite on replica 0 and inf on
    replica 1: one device would skip such a step (its gradient, their sum, is inf)."""
    with STRATEGY.scope():
        weight = keras.Variable([1.0], name="weight")
        optimizer = optimizer_class(keras.optimizers.SGD(0.1))
        optimizer.build([weight])

    def update():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        optimizer.apply([tf.where(replica == 1, np.inf, 1.0) * tf.ones([1])], [weight])

    run = lambda: STRATEGY.run(update)  # noqa: E731
    (tf.function(run) if traced else run)()
    return {"weight": float(weight.numpy()[0]),
            "dynamic_scale": float(optimizer.dynamic_scale.numpy())}


def main(report_path: str) -> None:
    report = {"replicas": STRATEGY.num_replicas_in_sync}

    one, two = sgd_model(None), sgd_model(STRATEGY)
    unsynchronized = sgd_model(STRATEGY, synchronized=False)
    report["batch_norm_synchronized"] = {"one": batch_norm_synchronized(one),
                                         "two": batch_norm_synchronized(two),
                                         "unsynchronized": batch_norm_synchronized(unsynchronized)}
    first_step(one, two, unsynchronized)
    report["sgd_unsynchronized"] = compared(one, unsynchronized)
    report["sgd"] = {"step": compared(one, two), **round_trips(one, two)}

    one, two = real_model(None), real_model(STRATEGY)
    report["pre_batch_norm_biases"] = pre_batch_norm_biases(one)
    report["learning_rate"] = CONFIG.train.g_learning_rate
    first_step(one, two)
    report["adam"] = {"step": compared(one, two), **round_trips(one, two)}

    report["overflow_on_one_replica"] = {
        f"{cls.__name__}/{'traced' if traced else 'eager'}":
            overflow_on_the_second_replica(cls, traced)
        for cls in (keras.optimizers.LossScaleOptimizer, AllReplicasLossScaleOptimizer)
        for traced in (False, True)}

    # Both start at a loss scale no gradient here overflows at (they would halve it from 2**15
    # for three steps first), so that every step is applied on both sides.
    one, two = real_model(None, "mixed_float16"), real_model(STRATEGY, "mixed_float16")
    for model in (one, two):
        for optimizer in (model.d_optimizer, model.g_optimizer):
            optimizer.dynamic_scale.assign(MIXED_FLOAT16_SCALE)
    first_step(one, two)
    report["mixed_float16"] = compared(one, two)

    Path(report_path).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
