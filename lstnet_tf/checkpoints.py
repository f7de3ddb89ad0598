"""Atomic checkpoints of a training run: the weights and both optimizers' state, one directory
per step, written then renamed; restored with every optimizer variable checked."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from lstnet_tf.console import UserFacingError
from lstnet_tf.files import write_atomically


class ResumeError(UserFacingError):
    """A checkpoint does not fit the current configuration."""


class CheckpointStore:
    """Weights and both optimizers' state, one directory per step, written then renamed."""

    WEIGHTS = "model.weights.h5"
    OPTIMIZERS = "optimizers.npz"

    def __init__(self, directory: Path, keep: int = 2, also_keep: tuple[int, ...] = ()):
        self.directory = Path(directory)
        self.keep = keep
        self.also_keep = set(also_keep)  # steps never pruned

    def _path(self, step: int) -> Path:
        return self.directory / f"step-{step:07d}"

    def has(self, step: int) -> bool:
        return self._path(step).is_dir()

    def latest_step(self) -> int | None:
        pointer = self.directory / "latest"
        return int(pointer.read_text()) if pointer.is_file() else None

    def save(self, model) -> Path:
        step = model.step
        final = self._path(step)
        tmp = final.with_name(f".{final.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        model.save_weights(tmp / self.WEIGHTS)
        np.savez(tmp / self.OPTIMIZERS, **{path: np.asarray(v.numpy())
                                           for path, v in _optimizer_variables(model).items()})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        write_atomically(self.directory / "latest", str(step))
        self._prune(step)
        return final

    def _prune(self, latest: int) -> None:
        steps = sorted(int(p.name.split("-")[1]) for p in self.directory.glob("step-*"))
        for step in steps[:-self.keep]:
            if step != latest and step not in self.also_keep:
                shutil.rmtree(self._path(step), ignore_errors=True)

    def restore(self, model, step: int | None = None) -> int:
        """Loads the latest checkpoint (or the one of ``step``) into ``model``; returns its
        step (0 if there is none)."""
        if step is not None and not self.has(step):
            raise ResumeError(f"no checkpoint of step {step} in {self.directory} (kept: "
                              f"{sorted(p.name for p in self.directory.glob('step-*'))})")
        step = self.latest_step() if step is None else step
        if step is None:
            return 0
        path = self._path(step)
        try:
            with warnings.catch_warnings():
                # The weights file also holds the optimizers, which Keras skips, with a
                # warning, when they are not built yet; their state is restored from
                # OPTIMIZERS just below, checked variable by variable.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(path / self.WEIGHTS)
            with np.load(path / self.OPTIMIZERS) as state:
                variables = _optimizer_variables(model)
                if set(state.files) != set(variables):
                    raise KeyError(
                        "optimizer variables differ: missing "
                        f"{sorted(set(variables) - set(state.files))[:3]}, unexpected "
                        f"{sorted(set(state.files) - set(variables))[:3]}")
                for name, v in variables.items():
                    if state[name].shape != tuple(v.shape):
                        raise ValueError(f"optimizer variable {name} has shape "
                                         f"{state[name].shape}, the model {tuple(v.shape)}")
                    v.assign(state[name])
        except (OSError, ValueError, KeyError) as error:
            raise ResumeError(
                f"cannot resume from {path}: {error}. The checkpoint does not match this "
                f"configuration (width, precision?). Use another --out directory or delete "
                f"{self.directory} to start afresh."
            ) from None
        return step


def _optimizer_variables(model) -> dict:
    """Both optimizers' variables (moments, weight averages, counters) by variable path."""
    return {v.path: v for opt in (model.d_optimizer, model.g_optimizer) for v in opt.variables}
