"""Runs training under ``fit()``: builds the compiled model, trains or resumes it in its run
directory, and hands it back on one device.

One progress-bar "epoch" is one checkpoint interval (``train.checkpoint_every`` steps). A
run killed at any point resumes from its last checkpoint with the same step count and the
same data order (the paired pipeline is a pure function of the seed and the step).

The parts it puts together: ``run_record`` (the run directory's ``config.json`` and
``precision.json``), ``checkpoints``, ``callbacks`` (per-step logs, the NaN guard, the
checkpoint and monitor at each interval) and ``optimizers`` (Adam and its schedule).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from lstnet_tf.callbacks import CheckpointAndMonitor, StepLogger
from lstnet_tf.checkpoints import CheckpointStore, ResumeError
from lstnet_tf.config import ExperimentConfig
from lstnet_tf.devices import describe as describe_devices, distribution_strategy
from lstnet_tf.domains import MNIST, NUM_CLASSES, USPS
from lstnet_tf.files import write_atomically
from lstnet_tf.lstnet import LSTNet
from lstnet_tf.methods import METHODS, method_class
from lstnet_tf.optimizers import adam, decay_start_step
from lstnet_tf.pipeline import paired_dataset
from lstnet_tf.run_record import decide_precision, record_config


def build_model(config: ExperimentConfig, precision: str | None = None,
                 model_class: type | None = None,
                 strategy: tf.distribute.Strategy | None = None) -> LSTNet:
    """The config's method (an LSTNet by default; ``model_class`` replaces its class) with its
    architecture switches, compiled with the config's optimizers and the weights its objective
    reads (``config.objective_weights()``), in ``precision`` (default: ``config.train.precision``, which must then not
    be "auto"); with a ``strategy`` (``devices.distribution_strategy``), built in its scope to
    train on its replicas, BatchNorm synchronized as ``train.synchronized_batch_norm`` says."""
    spec = METHODS[config.method]
    train = config.train
    if spec.optimizer:  # the method's own Adam; the preset's schedule, length and average
        own = config.section(spec.optimizer)
        train = dataclasses.replace(train, d_learning_rate=own.learning_rate,
                                    g_learning_rate=own.learning_rate, beta_1=own.beta_1,
                                    beta_2=own.beta_2)
    model_class = model_class or method_class(config.method)
    precision = precision or train.precision
    if precision == "auto":
        raise ValueError("resolve 'auto' first (precision.resolve_precision / train_model)")
    arguments = dict(spec.arguments)
    if spec.output == "classifier":
        if not train.labelled_domain:
            raise ValueError(f"{config.method} trains with one domain's labels: set "
                             "train.labelled_domain (the runner sets it per Table 2 row)")
        arguments["labelled_domain"] = train.labelled_domain
    if spec.arguments_section:
        arguments.update(dataclasses.asdict(config.section(spec.arguments_section)))
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = model_class(config.model, dtype=precision, synchronized_batch_norm=bool(
            strategy and train.synchronized_batch_norm), **arguments)
        # The weight average is kept of the networks that are scored (LSTNet: the translators).
        ema = {phase: train.ema_decay if phase == model.AVERAGED_OPTIMIZER else 0.0
               for phase in ("d", "g")}
        model.compile(
            d_optimizer=adam(train, train.d_learning_rate, "d_adam", ema_decay=ema["d"]),
            g_optimizer=adam(train, train.g_learning_rate, "g_adam", ema_decay=ema["g"]),
            loss_weights=config.objective_weights(),
            jit_compile=train.jit_compile,
        )
    return model


class _BatchClock(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.ends = getattr(self, "ends", []) + [time.perf_counter()]


def measure_seconds_per_step(config: ExperimentConfig, precision: str, steps: int = 4,
                             warmup: int = 2) -> float:
    """Median seconds per training step of a throw-away model of the config's method and shape
    in ``precision``, on random images, after ``warmup`` steps (tracing, oneDNN set-up): what
    ``run_record.decide_precision`` times for ``auto``."""
    model = build_model(config, precision)
    rng = np.random.default_rng(0)
    stream = model.stream_settings(config)
    sizes = stream["batch_size"]
    sizes = (sizes, sizes) if isinstance(sizes, int) else sizes
    batch = tuple(rng.uniform(-1, 1, (n, d.image_size, d.image_size, 1)).astype("float32")
                  for n, d in zip(sizes, (MNIST, USPS)))
    if "labelled" in stream:  # random labels beside the labelled domain's batch
        batch += (rng.integers(0, NUM_CLASSES, sizes[model.labelled.position]).astype("int32"),)
    clock = _BatchClock()
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=warmup + steps,
              epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    return float(np.median(np.diff(clock.ends[warmup - 1:])))


def train_model(config: ExperimentConfig, images: tuple[np.ndarray, np.ndarray],
                 run_dir: Path, seed: int, monitor: Callable | None = None,
                 verbose: int = 1, callbacks: tuple = (),
                 labels: tuple[np.ndarray, np.ndarray] | None = None) -> LSTNet:
    """Trains (or resumes) one LSTNet in ``run_dir``; returns the model at the final step.

    ``images`` are the (MNIST, USPS) training images; the paired stream is built from them,
    ``config.train`` and ``seed``, positioned at the step the run resumes from. ``labels``
    (the same order; None for a domain whose labels training must not see) reach only a
    method that uses them (``USES_LABELS``): its ``pretrain``, which a fresh run calls first
    and whose record goes to ``pretraining.json``, and the stream, as its ``stream_settings``
    say (a domain-adaptation method: the labelled domain's labels beside its batch). ``monitor(model) -> {name: value}`` runs at every checkpoint.

    Writes ``config.json`` and ``precision.json`` in ``run_dir`` first (``run_record``); the
    model is built in the recorded precision (``model.precision``; why it was chosen:
    ``run_record.recorded_precision(run_dir)``).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    record_config(config, run_dir)  # writes config.json; refuses a changed config on resume
    # Before anything runs TensorFlow (the precision may be timed): a CPU is split into
    # logical devices only before it initialises.
    strategy = distribution_strategy(config.train.devices)
    # Writes precision.json; "auto" may first time a throw-away model in each candidate.
    choice = decide_precision(config, run_dir, functools.partial(measure_seconds_per_step, config))
    keras.utils.set_random_seed(seed)
    model = build_model(config, choice.precision, strategy=strategy)
    # The checkpoint where the decay starts is where a constant-rate run of that length would
    # have ended: kept for comparing the two (lstnet_experiments.studies.checkpoint_study).
    decay_start = decay_start_step(config.train)
    store = CheckpointStore(run_dir / "checkpoints",
                            also_keep=() if decay_start is None else (decay_start,))
    start = store.restore(model)
    every, total = config.train.checkpoint_every, config.train.steps
    if start > total:
        raise ResumeError(
            f"the checkpoint in {store.directory} is at step {start}, past train.steps = "
            f"{total}: pass --steps {start} or more to resume it, or use another --work-dir")
    if start == total:
        print(f"{config.method} already trained to step {total} in {run_dir} (nothing to resume).")
        return _on_one_device(model, config, store, strategy, choice.precision)
    if start:
        print(f"Resuming {config.method} from step {start} of {total} ({store.directory}).")
    else:
        if model.USES_LABELS and labels is None:
            raise ValueError(f"{config.method} pre-trains on the training labels: pass labels")
        record = model.pretrain(config, images, labels if model.USES_LABELS else None, seed,
                                verbose)
        if record:
            write_atomically(run_dir / "pretraining.json", json.dumps(record, indent=2))
    print(f"Training {config.method} for {total - start} steps; one epoch = {every} steps; "
          f"precision {choice.precision} ({choice.reason}).", flush=True)
    if strategy:
        print(f"Data-parallel training: {describe_devices(strategy)}.", flush=True)
    callbacks = [StepLogger(run_dir / "losses.csv", run_dir / "tensorboard", store, start),
                 CheckpointAndMonitor(store, monitor, run_dir / "monitor.csv", start),
                 *callbacks]
    aligned = -(-start // every) * every  # the first step on the checkpoint interval
    if aligned > start:
        print(f"The checkpoint (step {start}) is not on the interval of {every} steps: a first "
              f"epoch of {aligned - start} steps leads to step {aligned}.", flush=True)
        _fit(model, config, images, labels, seed, start, 1, aligned - start, 0, verbose,
             callbacks)
    if aligned < total:
        _fit(model, config, images, labels, seed, aligned, total // every, every,
             aligned // every, verbose, callbacks)
    return _on_one_device(model, config, store, strategy, choice.precision)


def _on_one_device(model: LSTNet, config: ExperimentConfig, store: CheckpointStore,
                   strategy: tf.distribute.Strategy | None, precision: str) -> LSTNet:
    """The trained model as everything after training reads it: a model trained on several
    replicas comes back as its final checkpoint in a one-device model, so that evaluation and
    the shipped translators are exactly those of one-device training (no synchronized
    BatchNorm in their layers, no mirrored variables)."""
    if strategy is None:
        return model
    single = build_model(config, precision)
    store.restore(single, model.step)
    return single


def _fit(model, config: ExperimentConfig, images, labels, seed: int, start: int, epochs: int,
         steps_per_epoch: int, initial_epoch: int, verbose: int, callbacks: list) -> None:
    """``fit`` on the paired stream positioned at ``start`` (a pure function of seed and step),
    drawn as the method says (``stream_settings``: batch sizes, the labelled domain)."""
    stream = paired_dataset(*images, seed=seed, augment=config.train.augment, start_step=start,
                            **model.stream_settings(config, labels))
    model.fit(stream, epochs=epochs, steps_per_epoch=steps_per_epoch,
              initial_epoch=initial_epoch, verbose=verbose,
              shuffle=False,  # the paired pipeline shuffles each domain itself
              callbacks=callbacks)
