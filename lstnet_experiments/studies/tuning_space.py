"""The tuning study's search space: a YAML file of levers, checked before anything runs, and
the resolved config of one trial (the base preset, the trial's values, an equal-cost schedule).
See ``results/tuning/space.yaml`` for the format; ``lstnet_experiments.studies.tune`` runs the study."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lstnet_tf.config import (ConfigError, available_presets, flat_settings, load_config,
                              nested_overrides)

SPACE_KEYS = {"study", "preset", "seed", "sampler_seed", "steps", "checkpoints", "equal_cost",
              "levers"}
SCHEDULE_FIELDS = ("train.steps", "train.checkpoint_every")
LEVER_KEYS = {"fields", "low", "high", "log", "choices"}


class SpaceError(ValueError):
    """A search-space file that cannot be used."""


@dataclass(frozen=True)
class Lever:
    """One searched value, written to every config field in ``fields`` (tied weights)."""

    name: str
    fields: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def suggest(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class SearchSpace:
    study: str
    preset: str
    seed: int
    sampler_seed: int
    steps: int | None  # the base preset's length (before equal-cost scaling); None: the preset's
    checkpoints: int
    equal_cost: bool
    levers: tuple[Lever, ...]

    def overrides(self, params: dict) -> dict:
        """The nested config overrides of one trial's parameters."""
        return nested_overrides({field: params[lever.name]
                                 for lever in self.levers for field in lever.fields})

    def preset_params(self) -> dict:
        """The base preset's own value of every lever (the study's first trial)."""
        config = load_config(self.preset).to_dict()
        params = {}
        for lever in self.levers:
            value = config
            for part in lever.fields[0].split("."):
                value = value[part]
            params[lever.name] = value
        return params


def load_space(path: Path) -> SearchSpace:
    """Reads and checks a search-space file; every problem is a ``SpaceError``."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise SpaceError(f"cannot read the search space {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SpaceError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise SpaceError(f"{path} must be a mapping with the keys {sorted(SPACE_KEYS)}")
    unknown = set(raw) - SPACE_KEYS
    if unknown:
        raise SpaceError(f"unknown key(s) {sorted(unknown)} in {path}; valid: {sorted(SPACE_KEYS)}")
    missing = {"study", "preset", "levers"} - set(raw)
    if missing:
        raise SpaceError(f"{path} lacks {sorted(missing)}")
    if raw["preset"] not in available_presets():
        raise SpaceError(f"preset {raw['preset']!r} in {path} is not one of {available_presets()}")
    if not isinstance(raw["levers"], dict) or not raw["levers"]:
        raise SpaceError(f"levers in {path} must be a non-empty mapping of name: range")
    levers = tuple(_lever(name, spec, path) for name, spec in raw["levers"].items())
    space = SearchSpace(study=str(raw["study"]), preset=raw["preset"],
                        seed=int(raw.get("seed", 0)), sampler_seed=int(raw.get("sampler_seed", 0)),
                        steps=None if raw.get("steps") is None else int(raw["steps"]),
                        checkpoints=int(raw.get("checkpoints", 14)),
                        equal_cost=bool(raw.get("equal_cost", True)), levers=levers)
    if space.checkpoints < 1 or (space.steps is not None and space.steps < space.checkpoints):
        raise SpaceError(f"checkpoints in {path} must be >= 1, and steps (if given) >= checkpoints")
    # Every field exists and takes every value of its range (checked on the real config).
    known = flat_settings(load_config(space.preset).to_dict())
    for lever in levers:
        unknown = [field for field in lever.fields if field not in known]
        if set(lever.fields) & set(SCHEDULE_FIELDS):
            raise SpaceError(f"lever {lever.name} in {path}: {', '.join(SCHEDULE_FIELDS)} are set "
                             "by the space's steps, checkpoints and equal_cost, not by a lever")
        if unknown:
            raise SpaceError(f"lever {lever.name} in {path}: unknown config field(s) {unknown}; "
                             "a field is a dotted path such as train.beta_1 (the resolved "
                             "config of seed<N>.json lists them all)")
    for lever in levers:
        values = list(lever.choices) if lever.choices is not None else [lever.low, lever.high]
        for value in values:
            try:
                load_config(space.preset, space.overrides({**space.preset_params(),
                                                           lever.name: value}))
            except ConfigError as error:
                raise SpaceError(f"lever {lever.name} = {value!r} in {path}: {error}") from None
    # The study's first trial is the base preset: its values must lie in the space.
    for lever in levers:
        value = space.preset_params()[lever.name]
        inside = (value in lever.choices if lever.choices is not None
                  else lever.low <= value <= lever.high)
        if not inside:
            raise SpaceError(f"lever {lever.name} in {path} leaves out the base preset's value "
                             f"{value!r} (the study's first trial is the preset itself)")
    return space


def _lever(name: str, spec, path: Path) -> Lever:
    if not isinstance(spec, dict):
        raise SpaceError(f"lever {name} in {path} must be a mapping with {sorted(LEVER_KEYS)}")
    unknown = set(spec) - LEVER_KEYS
    if unknown:
        raise SpaceError(f"unknown key(s) {sorted(unknown)} in lever {name} of {path}; valid: "
                         f"{sorted(LEVER_KEYS)}")
    fields = spec.get("fields")
    if isinstance(fields, str):
        fields = [fields]
    if not fields or not all(isinstance(f, str) for f in fields):
        raise SpaceError(f"lever {name} in {path} needs fields: a config field or a list of them")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices or {"low", "high", "log"} & set(spec):
            raise SpaceError(f"lever {name} in {path}: choices must be a non-empty list, "
                             "without low/high/log")
        return Lever(name, tuple(fields), choices=tuple(choices))
    low, high, log = spec.get("low"), spec.get("high"), bool(spec.get("log", False))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise SpaceError(f"lever {name} in {path} needs numeric low and high, or choices")
    if not low < high:
        raise SpaceError(f"lever {name} in {path} has an empty range: low {low} >= high {high}")
    if log and low <= 0:
        raise SpaceError(f"lever {name} in {path}: a log range needs low > 0, got {low}")
    return Lever(name, tuple(fields), float(low), float(high), log)


def iteration_cost(width: float, batch_size: int) -> int:
    """FLOPs of one training step (``lstnet_experiments.speed.flops``) at this width and batch."""
    from lstnet_experiments.speed.flops import iteration_flops
    from lstnet_tf.config import ModelConfig
    from lstnet_tf.models import build_lstnet_networks

    networks = build_lstnet_networks(ModelConfig(width=width))
    return iteration_flops(networks, batch_size, reuse_forward=True)["total"]


def space_config(space: SearchSpace, params: dict):
    """The resolved config of a trial: the preset, the trial's overrides, and a schedule of
    ``space.checkpoints`` checkpoints whose length costs what the preset's does (steps scaled
    by the preset's FLOPs per step over the trial's, when ``equal_cost``)."""
    config = load_config(space.preset, space.overrides(params))
    base = load_config(space.preset)
    steps = space.steps or base.train.steps
    if space.equal_cost:
        steps = steps * iteration_cost(base.model.width, base.train.batch_size) / iteration_cost(
            config.model.width, config.train.batch_size)
    every = max(1, round(steps / space.checkpoints))
    train = {"steps": every * space.checkpoints, "checkpoint_every": every}
    overrides = space.overrides(params)
    overrides["train"] = {**overrides.get("train", {}), **train}
    return load_config(space.preset, overrides)
