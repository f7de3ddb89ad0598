"""Runs LSTNet training under ``fit()``: precision, atomic checkpoints, resume, step logs.

One progress-bar "epoch" is one checkpoint interval (``train.checkpoint_every`` steps). A
run killed at any point resumes from its last checkpoint with the same step count and the
same data order (the paired pipeline is a pure function of the seed and the step).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from lstnet_tf.config import ExperimentConfig, TrainConfig, flat_settings, settings_that_differ
from lstnet_tf.console import UserFacingError
from lstnet_tf.devices import describe as describe_devices, distribution_strategy
from lstnet_tf.pipeline import paired_dataset
from lstnet_tf.lstnet import LSTNet, default_optimizer
from lstnet_tf.methods import METHODS, method_class
from lstnet_tf.precision import PrecisionChoice, resolve_precision
from lstnet_tf.checkpoints import CheckpointStore, ResumeError  # noqa: F401 (re-exported)
from lstnet_tf.files import write_atomically


class NonFiniteLossError(UserFacingError):
    """A loss became NaN or Inf; training stopped and the last good checkpoint was kept."""


def build_model(config: ExperimentConfig, precision: str | None = None,
                 model_class: type | None = None,
                 strategy: tf.distribute.Strategy | None = None) -> LSTNet:
    """The config's method (an LSTNet by default; ``model_class`` replaces its class) with its
    architecture switches, compiled with the config's optimizers and the weights its objective
    reads (``config.objective_weights()``), in ``precision`` (default: ``config.train.precision``, which must then not
    be "auto"); with a ``strategy`` (``devices.distribution_strategy``), built in its scope to
    train on its replicas, BatchNorm synchronized as ``train.synchronized_batch_norm`` says."""
    train = config.train
    model_class = model_class or method_class(config.method)
    precision = precision or train.precision
    if precision == "auto":
        raise ValueError("resolve 'auto' first (precision.resolve_precision / train_model)")
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = model_class(config.model, dtype=precision, synchronized_batch_norm=bool(
            strategy and train.synchronized_batch_norm), **METHODS[config.method].arguments)
        model.compile(
            d_optimizer=default_optimizer(learning_rate_schedule(train.d_learning_rate, train),
                                          train.beta_1, train.beta_2, "d_adam",
                                          weight_decay=train.weight_decay),
            g_optimizer=default_optimizer(learning_rate_schedule(train.g_learning_rate, train),
                                          train.beta_1, train.beta_2, "g_adam",
                                          ema_decay=train.ema_decay,
                                          weight_decay=train.weight_decay),
            loss_weights=config.objective_weights(),
            jit_compile=train.jit_compile,
        )
    return model


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


def _truncate_csv_after(path: Path, step: int) -> None:
    """Drops rows logged after ``step`` (a run killed after its last checkpoint)."""
    if not path.is_file():
        return
    with path.open() as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    write_atomically(path, "".join(",".join(r) + "\n" for r in kept))


class StepLogger(keras.callbacks.Callback):
    """Every step's raw loss terms to CSV and TensorBoard; stops on a NaN/Inf loss."""

    def __init__(self, csv_path: Path, tensorboard_dir: Path, store: CheckpointStore,
                 start_step: int):
        super().__init__()
        self.csv_path, self.store = Path(csv_path), store
        _truncate_csv_after(self.csv_path, start_step)
        self.writer = tf.summary.create_file_writer(str(tensorboard_dir))

    def on_train_begin(self, logs=None):
        new = not self.csv_path.is_file()
        self.file = self.csv_path.open("a", newline="")
        self.csv = csv.writer(self.file)
        if new:
            self.csv.writerow(("step",) + self.model.loss_terms)

    def on_train_batch_end(self, batch, logs=None):
        step, losses = self.model.step, self.model.last_step_losses()
        bad = [name for name, value in losses.items() if not math.isfinite(value)]
        if bad:
            self.on_train_end()
            kept = self.store.latest_step()
            raise NonFiniteLossError(
                f"non-finite loss at step {step} ({', '.join(bad)}); training stopped. "
                + (f"The last good checkpoint (step {kept}) in {self.store.directory} is kept. "
                   if kept is not None else "No checkpoint had been written yet. ")
                + "Try a lower learning rate or float32 precision."
            )
        self.csv.writerow([step] + [f"{losses[name]:.6g}" for name in self.model.loss_terms])
        self.file.flush()
        with self.writer.as_default(step=step):
            for name, value in losses.items():
                tf.summary.scalar(f"loss/{name}", value)

    def on_train_end(self, logs=None):
        if not self.file.closed:
            self.file.close()
        self.writer.flush()


class CheckpointAndMonitor(keras.callbacks.Callback):
    """At the end of each checkpoint interval: save, then run the optional monitor."""

    def __init__(self, store: CheckpointStore, monitor: Callable | None, monitor_csv: Path,
                 start_step: int):
        super().__init__()
        self.store, self.monitor, self.monitor_csv = store, monitor, Path(monitor_csv)
        _truncate_csv_after(self.monitor_csv, start_step)

    def on_epoch_end(self, epoch, logs=None):
        self.store.save(self.model)
        if self.monitor is None:
            return
        values = self.monitor(self.model)
        new = not self.monitor_csv.is_file()
        with self.monitor_csv.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["step", *values])
            writer.writerow([self.model.step, *(f"{v:.6g}" for v in values.values())])
        print("  monitor (validation subset, not used for selection): "
              + ", ".join(f"{k} {v:.4f}" for k, v in values.items()), flush=True)


PRECISION_FILE = "precision.json"
CONFIG_FILE = "config.json"
# Settings a resumed run may change: how long it runs (not when the learning rates decay over
# the run: the schedule is laid out over train.steps) and how often it checkpoints/monitors (a
# checkpoint off the new interval is followed by a short first interval up to it), and on how
# many devices (a checkpoint is the same whatever the number of replicas that wrote it).
RESUMABLE_CHANGES = ("train.steps", "train.checkpoint_every", "train.monitor_samples",
                     "train.devices")
# "auto" decisions already measured in this process, by (width, batch size): every seed of
# one command trains in the same precision.
_MEASURED: dict = {}


def precision_of_run(config: ExperimentConfig, run_dir: Path) -> PrecisionChoice:
    """The run's precision: recorded in ``run_dir`` by its first start (so that a resumed run
    computes exactly as before), else resolved now (``auto`` may time a few steps, once per
    process and model shape). Nothing is written when the request contradicts the record."""
    path = Path(run_dir) / PRECISION_FILE
    if path.is_file():
        recorded = PrecisionChoice(**json.loads(path.read_text()))
        if config.train.precision in ("auto", recorded.precision):
            return recorded
        if (Path(run_dir) / "checkpoints" / "latest").is_file():
            raise ResumeError(
                f"the run in {run_dir} was trained in {recorded.precision}; resuming it in "
                f"{config.train.precision} would mix precisions. Resume without --precision "
                f"(or with {recorded.precision}), or use another --work-dir.")
    key = (config.method, config.model.width, config.train.batch_size)
    if config.train.precision == "auto" and key in _MEASURED:
        choice = _MEASURED[key]
    else:
        choice = resolve_precision(config.train.precision,
                                   time_step=lambda p: measure_seconds_per_step(config, p))
        if config.train.precision == "auto":
            _MEASURED[key] = choice
    write_atomically(path, json.dumps(choice.to_dict(), indent=2))
    return choice


def check_config_of_run(config: ExperimentConfig, run_dir: Path) -> None:
    """Records the config at a run's first start; on resume, refuses one that differs in
    anything but RESUMABLE_CHANGES (a checkpoint holds weights, not the settings)."""
    path = Path(run_dir) / CONFIG_FILE
    current = json.loads(json.dumps(config.to_dict()))
    if path.is_file() and (Path(run_dir) / "checkpoints" / "latest").is_file():
        recorded = json.loads(path.read_text())
        resumable = RESUMABLE_CHANGES
        if decay_start_step(config.train) is not None:  # the decay is laid out over train.steps
            resumable = tuple(k for k in RESUMABLE_CHANGES if k != "train.steps")
        changed = [k for k in settings_that_differ(recorded, current) if k not in resumable]
        if changed:
            then, now = flat_settings(recorded), flat_settings(current)
            why = (" train.steps can change on resume only when the learning rates do not "
                   "decay (train.lr_decay_start = 1): the decay is laid out over train.steps."
                   if "train.steps" in changed and "train.steps" in RESUMABLE_CHANGES else "")
            raise ResumeError(
                f"the run in {run_dir} was started with another configuration ("
                + ", ".join(f"{k}: {then[k]!r} then, {now[k]!r} now" for k in changed[:4])
                + f").{why} Resumable changes: {', '.join(resumable)}. Use the original "
                "settings to resume, or another --work-dir.")
    write_atomically(path, json.dumps(config.to_dict(), indent=2))


class _BatchClock(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.ends = getattr(self, "ends", []) + [time.perf_counter()]


def measure_seconds_per_step(config: ExperimentConfig, precision: str, steps: int = 4,
                             warmup: int = 2) -> float:
    """Median seconds per training step of a throw-away LSTNet of the config's shape in
    ``precision``, on random images, after ``warmup`` steps (tracing, oneDNN set-up)."""
    model = build_model(config, precision)
    rng, batch = np.random.default_rng(0), config.train.batch_size
    pair = (rng.uniform(-1, 1, (batch, 28, 28, 1)).astype("float32"),
            rng.uniform(-1, 1, (batch, 16, 16, 1)).astype("float32"))
    clock = _BatchClock()
    model.fit(tf.data.Dataset.from_tensors(pair).repeat(), steps_per_epoch=warmup + steps,
              epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    return float(np.median(np.diff(clock.ends[warmup - 1:])))


def train_model(config: ExperimentConfig, images: tuple[np.ndarray, np.ndarray],
                 run_dir: Path, seed: int, monitor: Callable | None = None,
                 verbose: int = 1, callbacks: tuple = (),
                 labels: tuple[np.ndarray, np.ndarray] | None = None) -> LSTNet:
    """Trains (or resumes) one LSTNet in ``run_dir``; returns the model at the final step.

    ``images`` are the (MNIST, USPS) training images; the paired stream is built from them,
    ``config.train`` and ``seed``, positioned at the step the run resumes from. ``labels``
    (the same order) reach only a method that pre-trains on them (``USES_LABELS``); a fresh
    run calls the method's ``pretrain`` first and records what it returns in
    ``pretraining.json``. ``monitor(model) -> {name: value}`` runs at every checkpoint.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    check_config_of_run(config, run_dir)
    # Before anything runs TensorFlow (the precision may be timed): a CPU is split into
    # logical devices only before it initialises.
    strategy = distribution_strategy(config.train.devices)
    choice = precision_of_run(config, run_dir)
    keras.utils.set_random_seed(seed)
    model = build_model(config, choice.precision, strategy=strategy)
    model.precision_choice = choice
    # The checkpoint where the decay starts is where a constant-rate run of that length would
    # have ended: kept for comparing the two (lstnet_experiments.checkpoint_study).
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
        return _on_one_device(model, config, store, strategy)
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
        _fit(model, config, images, seed, start, 1, aligned - start, 0, verbose, callbacks)
    if aligned < total:
        _fit(model, config, images, seed, aligned, total // every, every, aligned // every,
             verbose, callbacks)
    return _on_one_device(model, config, store, strategy)


def _on_one_device(model: LSTNet, config: ExperimentConfig, store: CheckpointStore,
                   strategy: tf.distribute.Strategy | None) -> LSTNet:
    """The trained model as everything after training reads it: a model trained on several
    replicas comes back as its final checkpoint in a one-device model, so that evaluation and
    the shipped translators are exactly those of one-device training (no synchronized
    BatchNorm in their layers, no mirrored variables)."""
    if strategy is None:
        return model
    single = build_model(config, model.precision_choice.precision)
    store.restore(single, model.step)
    single.precision_choice = model.precision_choice
    return single


def _fit(model, config: ExperimentConfig, images, seed: int, start: int, epochs: int,
         steps_per_epoch: int, initial_epoch: int, verbose: int, callbacks: list) -> None:
    """``fit`` on the paired stream positioned at ``start`` (a pure function of seed and step)."""
    stream = paired_dataset(*images, batch_size=config.train.batch_size, seed=seed,
                            augment=config.train.augment, start_step=start)
    model.fit(stream, epochs=epochs, steps_per_epoch=steps_per_epoch,
              initial_epoch=initial_epoch, verbose=verbose,
              shuffle=False,  # the paired pipeline shuffles each domain itself
              callbacks=callbacks)
