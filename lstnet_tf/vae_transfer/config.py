"""Typed configuration of the latent-space VAE transfer (``latent_vae_transfer.txt``).

Every field the paper fixes is marked "paper"; every other one is a choice the paper leaves
open, made on the validation split (``results/vae_transfer/README.md``, "Validation study").
Overrides (``--set vae.steps=3000``) are merged with ``lstnet_tf.config``'s checked merge, so an
unknown field or a wrongly typed value is one ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lstnet_tf.config import ClassifierConfig, ConfigError, DataConfig, _merge
from lstnet_tf.precision import PRECISIONS


@dataclass(frozen=True)
class VaeConfig:
    """The two unconditional VAEs (section 3.2 and equation (2))."""

    latent_dim: int = 100           # paper: "Z embedding is set to 100"
    sigma_scale: float = 0.1        # paper: alpha, applied to the encoder's sigma
    # Channels of the three encoder convolutions are (c, 2c, 4c); the decoder mirrors them.
    # 16 keeps a VAE at ~0.07 s a step on 2 CPU cores (32: ~0.2 s).
    base_channels: int = 16
    encoder_units: int = 256        # paper: "a linear layer of size 256"
    decoder_units: int = 2048       # paper: "1 linear layer of size 2048"
    reconstruction_weight: float = 1.0   # lambda_1 of (2)
    elbo_weight: float = 1.0             # lambda_2 of (2)
    # Optimiser steps per VAE (the paper trains "until convergence"): 1500 batches of 128 are
    # 7 passes over MNIST{0-4} or {5-9}, 53 over USPS{0-4}. Below 10 or a multiple of 10
    # (``epochs_and_steps``), as translator.steps.
    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 1e-3  # Adam
    batch_norm_momentum: float = 0.9


@dataclass(frozen=True)
class TranslatorConfig:
    """The latent generator G(eps, z1) -> z2 and the conditional discriminator D(z_cond, z)."""

    layers: int = 4                 # paper: "4-layer fully connected network"
    units: int = 512                # paper: "of size 512"
    # lambda_reg of (4); validation (MNIST, all): 1.0 -> 0.715, 0.1 -> 0.792, 0.01 -> 0.695.
    regularizer_weight: float = 0.1
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 2e-4  # Adam, for D and G
    beta_1: float = 0.5
    # Beyond the paper, off by default: D also rejects a real code of another target class
    # under the conditional (a fourth term of L_D, the matching-aware discriminator of Reed et
    # al. 2016), so that it learns the pairing from real codes, not only from G's mistakes.
    mismatched_pairs: bool = False
    # XLA halves the step of these small dense networks on a CPU (speed only).
    jit_compile: bool = True


# Settings that go beyond the paper's method (off in the defaults); a table made with one says so.
BEYOND_THE_PAPER = ("translator.mismatched_pairs",)
# A training of at least this many steps runs as this many equal "epochs", so that the last
# one's mean losses (the reported final losses) describe the end of training.
EPOCHS = 10


def epochs_and_steps(steps: int, setting: str) -> tuple[int, int]:
    """``(epochs, steps per epoch)`` of a training of exactly ``steps`` steps: ``EPOCHS``
    equal epochs, or one epoch when there are fewer steps than that. A count that the epochs
    do not divide is refused (``setting`` names it in the message), never rounded down."""
    epochs = EPOCHS if steps >= EPOCHS else 1
    if steps % epochs:
        below, above = steps - steps % epochs, steps - steps % epochs + epochs
        raise ConfigError(
            f"{setting}={steps} is not a multiple of {epochs}: a training runs as {epochs} "
            f"equal epochs (the last one's mean losses are its final losses), so "
            f"{steps % epochs} steps would be dropped; set {setting} to a multiple of "
            f"{epochs}, such as {below} or {above} (--set {setting}={below})")
    return epochs, steps // epochs


@dataclass(frozen=True)
class VaeTransferConfig:
    # The validation split of the LSTNet experiments (same fraction and seed), so that the
    # MNIST judge, trained on MNIST train minus that split, never saw a validation image.
    data: DataConfig = field(default_factory=DataConfig)
    vae: VaeConfig = field(default_factory=VaeConfig)
    translator: TranslatorConfig = field(default_factory=TranslatorConfig)
    # The MNIST judge: the project's classifier (lstnet_tf.classifier), 10 epochs as in the
    # LSTNet `cpu` preset (3 epochs gave 0.982 on validation, too weak for a 0.99 judge).
    judge: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(mnist_epochs=10))
    # Class pairings (shuffled bijections source class -> target class) per seed: paper, 3.
    pairings: int = 3
    # What Table 1's "size of training set" counts, a choice the paper leaves open. Off: the
    # labelled examples the translator sees (N per domain, drawn per pairing); the VAEs train on
    # every training image of their domain. On, the other reading: the whole method sees only N
    # images per domain, so the VAEs train on those N too (drawn once per seed and size,
    # shared by the pairings; "all" is the same in both readings).
    vaes_trained_on_subset: bool = False
    # float32: the networks are small, bfloat16 buys nothing here (lstnet_tf.precision names).
    precision: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "VaeTransferConfig":
        problems = []
        positive = {"vae.latent_dim": self.vae.latent_dim, "vae.base_channels": self.vae.base_channels,
                    "vae.encoder_units": self.vae.encoder_units,
                    "vae.decoder_units": self.vae.decoder_units, "vae.steps": self.vae.steps,
                    "vae.batch_size": self.vae.batch_size, "translator.layers": self.translator.layers,
                    "translator.units": self.translator.units, "translator.steps": self.translator.steps,
                    "translator.batch_size": self.translator.batch_size, "pairings": self.pairings}
        problems += [f"{name} must be >= 1, got {value}" for name, value in positive.items()
                     if value < 1]
        for name, steps in (("vae.steps", self.vae.steps),
                            ("translator.steps", self.translator.steps)):
            try:
                epochs_and_steps(steps, name)
            except ConfigError as error:
                problems.append(str(error))
        rates = {"vae.learning_rate": self.vae.learning_rate,
                 "translator.learning_rate": self.translator.learning_rate,
                 "vae.sigma_scale": self.vae.sigma_scale}
        problems += [f"{name} must be > 0, got {value}" for name, value in rates.items()
                     if value <= 0]
        weights = {"vae.reconstruction_weight": self.vae.reconstruction_weight,
                   "vae.elbo_weight": self.vae.elbo_weight,
                   "translator.regularizer_weight": self.translator.regularizer_weight}
        problems += [f"{name} must be >= 0, got {value}" for name, value in weights.items()
                     if value < 0]
        if self.pairings > 10:  # tasks.cell_salt keeps 10 seed offsets per size
            problems.append(f"pairings must be at most 10, got {self.pairings}")
        if self.vae.decoder_units % 16:
            problems.append("vae.decoder_units must be a multiple of 16 (reshaped to 4x4xC)")
        if self.precision not in PRECISIONS or self.precision == "auto":
            problems.append(f"precision must be one of {PRECISIONS[1:]}, got {self.precision!r}")
        if problems:
            raise ConfigError("; ".join(problems))
        return self


def make_config(overrides: dict[str, Any] | None = None) -> VaeTransferConfig:
    """The defaults with nested ``overrides`` ({"vae": {"steps": 3000}}) applied, validated."""
    return _merge(VaeTransferConfig(), overrides or {}, "").validate()


def parse_assignment(text: str) -> dict[str, Any]:
    """``"vae.steps=3000"`` -> ``{"vae": {"steps": 3000}}`` (the value read as YAML)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"expected KEY=VALUE (e.g. vae.steps=3000), got {text!r}")
    nested: dict[str, Any] = {}
    node = nested
    *parents, leaf = key.strip().split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = yaml.safe_load(value)
    return nested


def merge_nested(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = (merge_nested(merged[key], value)
                       if isinstance(value, dict) and isinstance(merged.get(key), dict) else value)
    return merged
