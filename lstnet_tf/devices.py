"""Data-parallel training on more than one device: ``tf.distribute.MirroredStrategy``.

``train.devices = N > 1`` runs every training step as N replicas: Keras' ``fit`` splits each
global batch (64 MNIST + 64 USPS in the paper) into N equal shares, runs ``train_step`` on each
share, and the optimizers sum the replicas' gradients before one update of the mirrored
weights. The step's maths stays one device's (``LSTNet._scaled`` divides each replica's loss
by N; BatchNorm computes its statistics over the whole batch, ``train.synchronized_batch_norm``).

On GPUs the replicas are the first N GPUs. Without a GPU the CPU is split into N logical
devices, so that the distributed path can be tried and tested on any machine; that is not
faster than one device (the same cores do the same work, plus the replicas' exchanges).

The CPU can be split only before TensorFlow initialises its devices, so the strategy is made
once per process, as early as possible (``reproduce.py`` does it before anything else runs);
``distribution_strategy`` hands back the same strategy on later calls.

Several machines (``MultiWorkerMirroredStrategy``, configured by ``TF_CONFIG``) are refused,
``MULTI_WORKER_REFUSAL`` says why (``lstnet_experiments.speed.multi_worker_trial`` re-runs the trial).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from lstnet_tf.console import UserFacingError

# What lstnet_experiments/speed/multi_worker_trial.py found (docs/devices.md, "Several machines").
MULTI_WORKER_REFUSAL = (
    "TF_CONFIG describes a cluster of {workers} tasks, but training on several machines "
    "(tf.distribute.MultiWorkerMirroredStrategy) is refused: Keras' fit() fails under it before "
    "the first step (tried with Keras 3.15.1 and TensorFlow 2.21.0: 'Attempt to convert a value "
    "(PerReplica...) to a Tensor' in its symbolic build, then 'Invalid reduction dimension 0 for "
    "input with 0 dimensions' where it averages the step's results; keras-team/keras#20585, "
    "tensorflow/tensorflow#72388). Unset TF_CONFIG and train on one machine, with --devices N "
    "for its N GPUs (docs/devices.md).")

_STRATEGIES: dict[int, tf.distribute.Strategy] = {}


class DeviceError(UserFacingError):
    """The devices asked for cannot be used (too few GPUs, a CPU split too late, a cluster)."""


def gpu_count() -> int:
    return len(tf.config.list_physical_devices("GPU"))


def resolve_device_count(requested: str | int) -> int:
    """``"all"``: every GPU TensorFlow sees, or 1 (the CPU as one device) without a GPU."""
    if requested == "all":
        return max(1, gpu_count())
    return int(requested)


def cluster_tasks() -> int:
    """The number of tasks in the cluster ``TF_CONFIG`` describes (0 when it is not set)."""
    tf_config = os.environ.get("TF_CONFIG", "")
    if not tf_config.strip():
        return 0
    cluster = json.loads(tf_config).get("cluster", {})
    return sum(len(tasks) for tasks in cluster.values())


def unusable(devices: int) -> str | None:
    """Why training on ``devices`` replicas cannot start here, with the fix; None if it can."""
    try:
        workers = cluster_tasks()
    except (ValueError, AttributeError):
        return "TF_CONFIG is set but is not a JSON object with a cluster: unset it"
    if workers > 1:
        return MULTI_WORKER_REFUSAL.format(workers=workers)
    gpus = gpu_count() if devices > 1 else 0
    if gpus and devices > gpus:
        return (f"train.devices is {devices}, but TensorFlow sees {gpus} GPU(s): use "
                f"--devices {gpus} or fewer (or --devices all)")
    return None


def distribution_strategy(devices: int) -> tf.distribute.MirroredStrategy | None:
    """The strategy that trains on ``devices`` replicas; None for one device (no strategy at
    all, so one-device training is exactly what it was before distribution existed)."""
    problem = unusable(devices)
    if problem:
        raise DeviceError(problem)
    if devices == 1:
        return None
    if devices not in _STRATEGIES:
        if gpu_count():
            names = [f"/gpu:{i}" for i in range(devices)]
        else:
            _split_cpu(devices)
            names = [f"/cpu:{i}" for i in range(devices)]
        _STRATEGIES[devices] = tf.distribute.MirroredStrategy(names)
    return _STRATEGIES[devices]


def _split_cpu(devices: int) -> None:
    """Makes the CPU appear as ``devices`` logical devices (possible only before TensorFlow
    initialises its devices; already so split is fine)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:
        present = len(tf.config.list_logical_devices("CPU"))
        if present < devices:
            raise DeviceError(
                f"cannot split the CPU into {devices} logical devices: TensorFlow had already "
                f"initialised {present}. Call lstnet_tf.devices.distribution_strategy before "
                "anything else runs TensorFlow (reproduce.py does).") from None


class AllReplicasLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Keras' dynamic loss scaling, with the overflow check over every replica's gradients.

    Under a tf.distribute strategy Keras 3 checks each replica's own gradients and keeps the
    first replica's verdict (``LossScaleOptimizer._tf_apply``: its comment takes the gradients
    to be all-reduced already, but the inner optimizer all-reduces them later), so an
    overflow on any other replica is summed into the update: the weights become inf. Here
    a step is skipped, and the scale halved, when any replica overflowed, as one device skips
    it when its gradient overflows. One replica: Keras' check unchanged.
    """

    def check_finite(self, grads):
        finite = super().check_finite(grads)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return finite
        overflowed = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                        1.0 - tf.cast(finite, tf.float32))
        return tf.equal(overflowed, 0.0)


def describe(strategy: tf.distribute.Strategy | None) -> str:
    """For the progress output: where the replicas run, and whether that is faster."""
    if strategy is None:
        return "one device"
    replicas = strategy.num_replicas_in_sync
    if gpu_count():
        return f"{replicas} replicas on {replicas} GPUs (MirroredStrategy)"
    return (f"{replicas} replicas on {replicas} logical devices of one CPU (MirroredStrategy): "
            "this tries the distributed path, it is not faster than one device")
