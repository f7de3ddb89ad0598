"""What a run directory records about its run, so that a resumed run computes exactly as before:
``config.json`` (the settings) and ``precision.json`` (the precision it trains in).

A checkpoint holds weights and optimizer state, not the settings nor the precision; these two
files do, and a resume is checked against them. Both functions that decide write their file:
``record_config`` and ``decide_precision``; ``recorded_precision`` only reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from lstnet_tf.checkpoints import ResumeError
from lstnet_tf.config import ExperimentConfig, flat_settings, settings_that_differ
from lstnet_tf.files import write_atomically
from lstnet_tf.optimizers import decay_start_step
from lstnet_tf.precision import PrecisionChoice, resolve_precision

PRECISION_FILE = "precision.json"
CONFIG_FILE = "config.json"
# Settings a resumed run may change: how long it runs (not when the learning rates decay over
# the run: the schedule is laid out over train.steps) and how often it checkpoints/monitors (a
# checkpoint off the new interval is followed by a short first interval up to it), and on how
# many devices (a checkpoint is the same whatever the number of replicas that wrote it).
RESUMABLE_CHANGES = ("train.steps", "train.checkpoint_every", "train.monitor_samples",
                     "train.devices")
# "auto" decisions already measured in this process, by (method, width, batch size): every
# seed of one command trains in the same precision.
_MEASURED: dict = {}


def _has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / "checkpoints" / "latest").is_file()


def record_config(config: ExperimentConfig, run_dir: Path) -> None:
    """Writes ``config`` to ``run_dir/config.json``. When the run already has a checkpoint,
    first checks it against the recorded config and raises ``ResumeError`` (writing nothing)
    if they differ in anything but ``RESUMABLE_CHANGES``."""
    path = Path(run_dir) / CONFIG_FILE
    current = json.loads(json.dumps(config.to_dict()))
    if path.is_file() and _has_checkpoint(run_dir):
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


def recorded_precision(run_dir: Path) -> PrecisionChoice:
    """The precision recorded in ``run_dir/precision.json`` (written by ``decide_precision``);
    reads only. A missing file is an OSError."""
    return PrecisionChoice(**json.loads((Path(run_dir) / PRECISION_FILE).read_text()))


def decide_precision(config: ExperimentConfig, run_dir: Path,
                     time_step: Callable[[str], float]) -> PrecisionChoice:
    """Decides the precision the run in ``run_dir`` trains in and writes it to
    ``run_dir/precision.json``.

    A precision already recorded there (the run's first start) is kept, so that a resumed run
    computes exactly as before; an explicit ``train.precision`` that contradicts it raises
    ``ResumeError`` once the run has a checkpoint, and nothing is written. Otherwise the
    precision is resolved now (``precision.resolve_precision``): for ``auto`` on a CPU with
    bfloat16 instructions that calls ``time_step(precision) -> seconds per step`` for each
    candidate (``training.measure_seconds_per_step`` builds and trains a throw-away model of the
    run's shape: seconds to a minute), once per process, method and model shape."""
    if (Path(run_dir) / PRECISION_FILE).is_file():
        recorded = recorded_precision(run_dir)
        if config.train.precision in ("auto", recorded.precision):
            return recorded
        if _has_checkpoint(run_dir):
            raise ResumeError(
                f"the run in {run_dir} was trained in {recorded.precision}; resuming it in "
                f"{config.train.precision} would mix precisions. Resume without --precision "
                f"(or with {recorded.precision}), or use another --work-dir.")
    key = (config.method, config.model.width, config.train.batch_size)
    if config.train.precision == "auto" and key in _MEASURED:
        choice = _MEASURED[key]
    else:
        choice = resolve_precision(config.train.precision, time_step=time_step)
        if config.train.precision == "auto":
            _MEASURED[key] = choice
    write_atomically(Path(run_dir) / PRECISION_FILE, json.dumps(choice.to_dict(), indent=2))
    return choice
