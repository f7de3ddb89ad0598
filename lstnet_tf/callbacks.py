"""The Keras callbacks of a training run: the per-step loss log with its NaN guard, and the
checkpoint (with the optional monitor) at the end of each checkpoint interval.

Both append to CSV files in the run directory; on resume they first drop the rows logged after
the checkpoint the run resumes from (a run killed after its last checkpoint), so that every
step is logged once.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from lstnet_tf.checkpoints import CheckpointStore
from lstnet_tf.console import UserFacingError
from lstnet_tf.files import write_atomically


class NonFiniteLossError(UserFacingError):
    """A loss became NaN or Inf; training stopped and the last good checkpoint was kept."""


def truncate_csv_after(path: Path, step: int) -> None:
    """Drops the rows of a CSV (first column: the step) logged after ``step``."""
    if not path.is_file():
        return
    with path.open() as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    write_atomically(path, "".join(",".join(r) + "\n" for r in kept))


class StepLogger(keras.callbacks.Callback):
    """Every step's raw loss terms to CSV and TensorBoard; stops on a NaN/Inf loss.

    The TensorBoard scalars of a step are written by one ``tf.function`` call, the same events
    as one eager ``tf.summary.scalar`` call per term, which were most of the logger's time
    (4.8 ms of CPU a step then, 1.6-1.9 ms now, against a 316 ms step at the cpu preset's
    width: results/benchmarks/step_logger.md)."""

    def __init__(self, csv_path: Path, tensorboard_dir: Path, store: CheckpointStore,
                 start_step: int):
        super().__init__()
        self.csv_path, self.store = Path(csv_path), store
        truncate_csv_after(self.csv_path, start_step)
        self.writer = tf.summary.create_file_writer(str(tensorboard_dir))
        self._write_scalars = None  # traced for the model's loss terms at the first step

    def _scalar_writer(self):
        """``write(step, values)``: each loss term's value (``values``, in the order of
        ``model.loss_terms``) as the scalar ``loss/<term>`` at ``step``, in one graph call."""
        tags = [f"loss/{name}" for name in self.model.loss_terms]
        writer = self.writer

        @tf.function(input_signature=[tf.TensorSpec([], tf.int64),
                                      tf.TensorSpec([len(tags)], tf.float32)])
        def write(step, values):
            with writer.as_default(step=step):
                for i, tag in enumerate(tags):
                    tf.summary.scalar(tag, values[i])

        return write

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
        terms = self.model.loss_terms
        self.csv.writerow([step] + [f"{losses[name]:.6g}" for name in terms])
        self.file.flush()
        if self._write_scalars is None:
            self._write_scalars = self._scalar_writer()
        self._write_scalars(tf.constant(step, tf.int64),
                            tf.constant([losses[name] for name in terms], tf.float32))

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
        truncate_csv_after(self.monitor_csv, start_step)

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
