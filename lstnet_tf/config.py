"""Typed experiment configuration with per-preset file overrides.

The dataclass defaults are the paper's setting (section 3 and Table 1). A preset in
``lstnet_tf/configs/<name>.yaml`` overrides any subset of fields; command-line overrides (``--steps``)
are applied last. The fully resolved config is written next to every result.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lstnet_tf.method_config import (PLAN_LABEL_COSTS, CoGANConfig,  # noqa: F401
                                     DeepJDOTConfig, DTNConfig, DTNPretraining, DTNWeights,
                                     UNITWeights, XGANWeights)
from lstnet_tf.method_specs import METHODS, method_sections, sections_of
from lstnet_tf.precision import PRECISIONS

CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # shipped as package data
EVAL_WEIGHTS = ("raw", "ema")
EVAL_BATCH_NORM = ("moving", "recomputed", "batch")


class ConfigError(ValueError):
    """An unknown preset, an unknown field or an impossible value."""


@dataclass(frozen=True)
class ModelConfig:
    # 1.0 is Table 1; smaller values scale every channel count except the image channels.
    width: float = 1.0
    # Keras defaults, which the paper most likely used (it does not state them).
    leaky_relu_slope: float = 0.3
    batch_norm_momentum: float = 0.99
    batch_norm_epsilon: float = 1e-3


@dataclass(frozen=True)
class DataConfig:
    """How the training sets are split; read by ``data.load_splits``.

    A fixed, class-stratified ``validation_fraction`` of each training set (MNIST train and
    USPS train) is held out. Classifiers and LSTNet train on the rest; monitoring and every
    choice between variants read the validation part only. The test sets are read once per
    seed, after training, for the reported numbers.
    """

    validation_fraction: float = 0.1
    # The split is the same for every run seed, so all seeds are scored on the same images.
    validation_seed: int = 0
    # Keep only the first N images of each split of each domain (train, validation and test;
    # the validation split is drawn from the whole training set first); 0 keeps them all.
    # For seconds-long pipeline checks (the smoke preset), not for results.
    first_images: int = 0


@dataclass(frozen=True)
class EvalConfig:
    """Which translator the reported numbers score (beyond the paper; see README)."""

    # "raw": the final weights, as the paper; "ema": their exponential moving average
    # (needs train.ema_decay > 0).
    weights: str = "raw"
    # BatchNorm statistics of the scored path G1oE2 / G2oE1: "moving" (the moving averages
    # pooled over every call during training, as the paper), "recomputed" (population
    # statistics of training images passed through exactly that path) or "batch" (each test
    # batch's own statistics).
    batch_norm: str = "moving"
    # Training batches (of train.batch_size) for the "recomputed" statistics.
    batch_norm_batches: int = 300
    # Also score with classifiers trained without augmentation (a stricter judge).
    second_judge: bool = True


@dataclass(frozen=True)
class LossWeights:
    """The weights w1, w2, wl, w3..w6 of objective (1)."""

    adversarial_1: float = 20.0
    adversarial_2: float = 20.0
    adversarial_latent: float = 30.0
    cycle_1: float = 100.0  # x1 -> E1 -> G1
    cycle_2: float = 100.0  # x2 -> E2 -> G2
    cycle_3: float = 100.0  # x1 -> E1 -> G2 -> E2 -> G1
    cycle_4: float = 100.0  # x2 -> E2 -> G1 -> E1 -> G2


@dataclass(frozen=True)
class TrainConfig:
    # The paper gives no iteration count; 47000 is 50 MNIST epochs at batch 64, the
    # budget of the public PyTorch reimplementation (see README, "Deviations").
    steps: int = 47000
    batch_size: int = 64
    d_learning_rate: float = 1e-4
    g_learning_rate: float = 1e-4
    # Fraction of the steps after which both learning rates fall to 0 along a half cosine
    # (CycleGAN holds then decays the same way, linearly); 1.0 keeps them constant, as the paper.
    lr_decay_start: float = 1.0
    beta_1: float = 0.8
    beta_2: float = 0.999
    # Weight decay of both Adam optimizers, Keras' decoupled form (as AdamW: each step shrinks
    # every trained weight by learning rate x weight_decay); 0 = none, as the paper. The
    # PyTorch peer's weight_decay=1e-2 is the L2 form, added to the gradient instead.
    weight_decay: float = 0.0
    loss_weights: LossWeights = field(default_factory=LossWeights)
    augment: bool = True
    # "auto": mixed_float16 on a GPU; on a CPU the faster of float32 and mixed_bfloat16,
    # measured at the start of the run where the CPU has bfloat16 instructions (precision.py).
    precision: str = "auto"
    # Compile train_step with XLA (off: slower than oneDNN's kernels on the CPUs measured in
    # results/benchmarks.md).
    jit_compile: bool = False
    # Checkpoint, progress-bar "epoch" and accuracy-monitor interval, in steps.
    checkpoint_every: int = 500
    # Validation images per domain translated and classified at each checkpoint: monitoring
    # only, never used to choose the reported checkpoint (that is always the last one).
    monitor_samples: int = 1000
    # Decay of an exponential moving average of the encoder/generator weights, kept by the
    # g optimizer (Keras' use_ema); 0 keeps none. It does not change training.
    ema_decay: float = 0.0
    # The one domain ("mnist" or "usps") whose training labels a domain-adaptation method
    # (cogan, deepjdot) trains with; "" for the unsupervised methods. The runner sets it per
    # Table 2 row: USPS->MNIST is read by an MNIST judge, so its row is labelled MNIST.
    labelled_domain: str = ""
    # Data-parallel replicas (lstnet_tf/devices.py, docs/devices.md): the batch is split into
    # this many equal shares, trained at once under tf.distribute.MirroredStrategy with one
    # device's maths; one per GPU, or, without a GPU, logical devices of the CPU (to try the
    # path, not faster). 1: no strategy at all.
    devices: int = 1
    # With devices > 1, BatchNorm's training statistics are those of the whole batch, as on
    # one device (Keras' synchronized=True); False: each replica's share's own.
    synchronized_batch_norm: bool = True


@dataclass(frozen=True)
class ClassifierConfig:
    """The source-domain classifiers (the paper does not give their architecture)."""

    mnist_epochs: int = 3
    usps_epochs: int = 30
    # 0: full passes over the training set; a positive value caps each epoch (smoke tests).
    steps_per_epoch: int = 0
    batch_size: int = 128
    learning_rate: float = 1e-3
    augment: bool = True


@dataclass(frozen=True)
class ExperimentConfig:
    preset: str = "paper"
    description: str = ""
    # The objective trained over the shared networks: "lstnet" (the paper), an ablation or a
    # related method (lstnet_tf.methods).
    method: str = "lstnet"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    # Each related method's own objective settings (``train.loss_weights`` is objective (1),
    # LSTNet's and its ablations'); a method reads only its own (method_specs.METHODS).
    unit: UNITWeights = field(default_factory=UNITWeights)
    xgan: XGANWeights = field(default_factory=XGANWeights)
    dtn: DTNConfig = field(default_factory=DTNConfig)
    cogan: CoGANConfig = field(default_factory=CoGANConfig)
    deepjdot: DeepJDOTConfig = field(default_factory=DeepJDOTConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def section(self, path: str) -> Any:
        """The config section at a dotted ``path`` (``"train.loss_weights"``, ``"unit"``)."""
        value = self
        for part in path.split("."):
            value = getattr(value, part)
        return value

    def objective_weights(self) -> Any:
        """The weights the method's objective reads (its section of the config)."""
        return self.section(METHODS[self.method].weights)

    def _settings_of_other_methods(self, reference: "ExperimentConfig") -> list[str]:
        """Objective settings set away from ``reference`` (the preset's, which may size
        every method, as ``smoke`` does) that the method does not have."""
        problems, defaults = [], reference
        spec = METHODS[self.method]
        own = sections_of(self.method)
        for path in method_sections():
            fields = dataclasses.asdict(self.section(path))
            changed = [k for k, v in fields.items()
                       if v != getattr(defaults.section(path), k)
                       and (path not in own or (path == spec.weights
                                                and k in spec.unused_weights))]
            if changed:
                settings = ", ".join(f"{path}.{k}" for k in changed)
                problems.append(
                    f"method {self.method} has no setting {settings} "
                    f"(its objective reads {', '.join(f'{s}.*' for s in own)}"
                    + (f", without {', '.join(spec.unused_weights)}" if spec.unused_weights
                       else "") + "); leave it at its default")
        return problems

    def validate(self, reference: "ExperimentConfig | None" = None) -> "ExperimentConfig":
        """Raises a ConfigError naming every impossible value, and every method setting the
        method does not have that differs from ``reference`` (default: the paper's)."""
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        else:
            problems += self._settings_of_other_methods(reference or ExperimentConfig())
        if self.model.width <= 0:
            problems.append(f"model.width must be > 0, got {self.model.width}")
        if self.train.steps < 1:
            problems.append(f"train.steps must be >= 1, got {self.train.steps}")
        if self.train.batch_size < 1:
            problems.append(f"train.batch_size must be >= 1, got {self.train.batch_size}")
        if self.train.devices < 1:
            problems.append(f"train.devices must be >= 1, got {self.train.devices}")
        elif (self.train.devices > 1 and self.method in METHODS
              and METHODS[self.method].single_device_only):
            problems.append(f"method {self.method} trains on one device only "
                            f"({METHODS[self.method].single_device_only}); use train.devices 1")
        elif self.train.batch_size % self.train.devices:
            problems.append(
                f"train.batch_size ({self.train.batch_size}) does not split into "
                f"train.devices ({self.train.devices}) equal shares; use a device count that "
                "divides the batch size")
        if self.train.precision not in PRECISIONS:
            problems.append(f"train.precision must be one of {PRECISIONS}, got {self.train.precision!r}")
        for name in ("checkpoint_every", "monitor_samples"):
            if getattr(self.train, name) < 1:
                problems.append(f"train.{name} must be >= 1")
        if self.train.steps % self.train.checkpoint_every:
            problems.append(
                f"train.steps ({self.train.steps}) must be a multiple of train.checkpoint_every "
                f"({self.train.checkpoint_every}); change one of them"
            )
        if not 0.0 < self.data.validation_fraction < 0.5:
            problems.append("data.validation_fraction must be in (0, 0.5), got "
                            f"{self.data.validation_fraction}")
        if self.data.first_images < 0:
            problems.append(f"data.first_images must be >= 0 (0 keeps every image), got "
                            f"{self.data.first_images}")
        if not 0.0 <= self.train.lr_decay_start <= 1.0:
            problems.append(f"train.lr_decay_start must be in [0, 1] (a fraction of train.steps), "
                            f"got {self.train.lr_decay_start}")
        if self.train.weight_decay < 0:
            problems.append(f"train.weight_decay must be >= 0, got {self.train.weight_decay}")
        if not 0.0 <= self.train.ema_decay < 1.0:
            problems.append(f"train.ema_decay must be in [0, 1), got {self.train.ema_decay}")
        if self.eval.weights not in EVAL_WEIGHTS:
            problems.append(f"eval.weights must be one of {EVAL_WEIGHTS}, got {self.eval.weights!r}")
        if self.eval.weights == "ema" and not self.train.ema_decay:
            problems.append("eval.weights 'ema' needs train.ema_decay > 0 (no average is kept)")
        if self.eval.batch_norm not in EVAL_BATCH_NORM:
            problems.append(f"eval.batch_norm must be one of {EVAL_BATCH_NORM}, got "
                            f"{self.eval.batch_norm!r}")
        if self.eval.batch_norm_batches < 1:
            problems.append("eval.batch_norm_batches must be >= 1")
        if min(self.classifier.mnist_epochs, self.classifier.usps_epochs) < 1:
            problems.append("classifier epochs must be >= 1")
        if self.train.labelled_domain not in ("", "mnist", "usps"):
            problems.append(f"train.labelled_domain must be mnist, usps or empty, got "
                            f"{self.train.labelled_domain!r}")
        elif (self.train.labelled_domain and self.method in METHODS
              and METHODS[self.method].output != "classifier"):
            problems.append(f"method {self.method} reads no labels: leave train.labelled_domain "
                            "empty")
        if self.deepjdot.transport.label_cost not in PLAN_LABEL_COSTS:
            problems.append(f"deepjdot.transport.label_cost must be one of {PLAN_LABEL_COSTS}, "
                            f"got {self.deepjdot.transport.label_cost!r}")
        for path in method_sections():  # weights >= 0; counts (epochs, batch size) >= 1
            for name, value in dataclasses.asdict(self.section(path)).items():
                if isinstance(value, str):
                    continue
                least = 1 if isinstance(value, int) else 0
                if value < least:
                    problems.append(f"{path}.{name} must be >= {least}, got {value}")
        if problems:
            raise ConfigError("; ".join(problems))
        return self


def flat_settings(config: dict, prefix: str = "") -> dict[str, Any]:
    """A resolved config dict as {"train.steps": 3500, ...}, for comparing two runs' settings."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def settings_that_differ(recorded: dict, current: dict, ignore=("description",)) -> list[str]:
    """The settings two resolved configs set differently. A setting only one of them has (a
    field added or removed since) is not a difference: its default is the code's behaviour,
    which the recorded git commit identifies."""
    a, b = flat_settings(recorded), flat_settings(current)
    return sorted(k for k in set(a) & set(b) if k not in ignore and a[k] != b[k])


def with_defaults(recorded: dict, defaults: dict | None = None) -> dict:
    """A recorded config dict with the fields added since filled in with their defaults
    (switches are added off, so the default is what the recording code did); fields removed
    since are kept as recorded."""
    filled = dict(ExperimentConfig().to_dict() if defaults is None else defaults)
    for key, value in recorded.items():
        default = filled.get(key)
        filled[key] = (with_defaults(value, default)
                       if isinstance(value, dict) and isinstance(default, dict) else value)
    return filled


def nested_overrides(settings: dict[str, Any], into: dict | None = None) -> dict:
    """``{"train.loss_weights.cycle_3": 50.0}`` as the nested overrides ``load_config`` takes,
    merged into ``into`` (a copy) when given."""
    nested = copy.deepcopy(into or {})
    for dotted, value in settings.items():
        *sections, key = dotted.split(".")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config field {'.'.join(sections)} is not a section")
        node[key] = value
    return nested


def available_presets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _merge(instance: Any, overrides: dict[str, Any], path: str) -> Any:
    """Returns a copy of a (nested) dataclass with ``overrides`` applied, rejecting unknown keys."""
    fields = {f.name: f for f in dataclasses.fields(instance)}
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ConfigError(
                f"unknown config field {path}{key!r}; valid fields here: {', '.join(sorted(fields))}"
            )
        current = getattr(instance, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"config field {path}{key} must be a mapping")
            changes[key] = _merge(current, value, f"{path}{key}.")
        else:
            expected = type(current)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"config field {path}{key} must be {expected.__name__}, got {value!r}"
                )
            changes[key] = value
    return dataclasses.replace(instance, **changes)


def config_from_record(recorded: dict) -> ExperimentConfig:
    """The config a seed file recorded (``provenance.config``), fields added since at their
    defaults."""
    return _merge(ExperimentConfig(), with_defaults(recorded), "")


def load_config(preset: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Loads ``lstnet_tf/configs/<preset>.yaml`` over the paper defaults, then ``overrides``."""
    path = CONFIG_DIR / f"{preset}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown preset {preset!r}; available presets: {', '.join(available_presets())}"
        )
    with path.open() as f:
        from_file = yaml.safe_load(f) or {}
    preset_config = config = _merge(ExperimentConfig(), {**from_file, "preset": preset}, "")
    if overrides:
        config = _merge(config, overrides, "")
    return config.validate(reference=preset_config)
