"""LSTNet as a trainable keras.Model: the alternating optimisation of section 2.1.

Each ``train_step((x1, x2))`` first updates the discriminators D1, D2, D_l with the
encoders/generators fixed, then updates E1*, E2*, E_s, G_s, G1*, G2* with the
discriminators fixed, minimising objective (1) of the paper:

    w1 J_AN1 + w2 J_AN2 + wl J_ANl + w3 CC1 + w4 CC2 + w5 CC3 + w6 CC4

Adversarial terms are binary cross-entropies on logits. The discriminators minimise the
usual real=1 / translated=0 loss (D_l: E1(x1)=1, E2(x2)=0); the encoders/generators minimise
the same cross-entropies with flipped labels. Cycle terms are mean absolute errors.
"""

from __future__ import annotations

import keras
import tensorflow as tf

import dataclasses

from lstnet_tf.config import LossWeights, ModelConfig
from lstnet_tf.devices import AllReplicasLossScaleOptimizer
from lstnet_tf.directions import DIRECTIONS
from lstnet_tf.inference import path_parts
from lstnet_tf.models import build_lstnet_networks
from lstnet_tf.optimizers import default_optimizer
from lstnet_tf.precision import needs_loss_scaling

# Each loss term -> the LossWeights field (w1, w2, wl, w3..w6 of objective (1)) weighting it.
LOSS_WEIGHT_FIELDS = {"d_adv_1": "adversarial_1", "d_adv_2": "adversarial_2",
                      "d_adv_latent": "adversarial_latent",
                      "g_adv_1": "adversarial_1", "g_adv_2": "adversarial_2",
                      "g_adv_latent": "adversarial_latent", "cycle_1": "cycle_1",
                      "cycle_2": "cycle_2", "cycle_3": "cycle_3", "cycle_4": "cycle_4"}
DISCRIMINATOR_TERMS = ("d_adv_1", "d_adv_2", "d_adv_latent")
GENERATOR_TERMS = ("g_adv_1", "g_adv_2", "g_adv_latent", "cycle_1", "cycle_2", "cycle_3", "cycle_4")
LOSS_TERMS = (*DISCRIMINATOR_TERMS, "d_total", *GENERATOR_TERMS, "g_total")


def _bce(label: float, logits):
    """Mean binary cross-entropy of logits against a constant label, in float32."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), label), logits=logits))


def _l1(a, b):
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def _evaluated(terms: dict, names: tuple, weights: dict, total: str) -> dict:
    """Evaluates the (lazy) ``terms`` listed in ``names`` and their weighted sum ``total``."""
    losses = {name: terms[name]() for name in names}
    losses[total] = tf.add_n([weights[name] * losses[name] for name in names])
    return losses


@keras.saving.register_keras_serializable(package="lstnet_tf")
class LSTNet(keras.Model):
    """The two encoders, two generators and three discriminators, trained with ``fit``.

    One forward pass of the encoders/generators per step serves both phases. This is exact:
    their weights do not change between the discriminator update and their own update, and
    BatchNorm in training mode normalises with the same batch statistics, so the translations,
    losses and gradients of the second phase are those of a recomputation
    (``reference.ReferenceLSTNet``, tested against this). Only the BatchNorm moving averages are
    updated once per step instead of twice (they are used at inference only).

    Other methods (``lstnet_tf.methods``) are subclasses that change only the objective:
    which terms it has (``DISCRIMINATOR_TERMS`` / ``GENERATOR_TERMS``), how each is computed
    (``discriminator_terms`` / ``generator_terms``), their weights (``WEIGHTS``, a config
    section, mapped by ``term_weights``), what the forward pass computes (``translate_all``)
    and what is trained before the objective (``pretrain``, with labels only where
    ``USES_LABELS``); which networks exist are constructor arguments. The step itself is this
    one.

    Args:
        model_config: widths and layer hyperparameters (Table 1 at width 1.0).
        dtype: Keras dtype policy name for the networks (None: the global policy).
        synchronized_batch_norm: BatchNorm statistics over every replica's share of the batch,
            for training under a ``tf.distribute`` strategy (``lstnet_tf.devices``).
        shared_layers: one E_s and one G_s for both domains (Table 1); False gives each domain
            its own (the ``unshared`` ablation).
        latent_discriminator: build D_l and keep J_ANl in the objective; False drops both (the
            ``no_latent_disc`` ablation).
        image_discriminator_outputs: logits of D1 and D2 (Table 1: one).
    """

    DISCRIMINATOR_TERMS = DISCRIMINATOR_TERMS
    GENERATOR_TERMS = GENERATOR_TERMS
    LATENT_TERMS = ("d_adv_latent", "g_adv_latent")  # the terms that need D_l
    WEIGHTS = LossWeights  # the config section of this objective's weights
    # LSTNet is unsupervised; a method that pre-trains on the training labels says so here.
    USES_LABELS = False
    # A scored path outputs images for a judge ("translator") or class logits ("classifier").
    OUTPUT = "translator"
    AVERAGED_OPTIMIZER = "g"  # the one ("d"/"g") training the scored networks keeps the average

    def __init__(self, model_config: ModelConfig | dict | None = None, dtype=None,
                 synchronized_batch_norm: bool = False, shared_layers: bool = True,
                 latent_discriminator: bool = True, image_discriminator_outputs: int = 1,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(model_config, dict):
            model_config = ModelConfig(**model_config)
        self.model_config = model_config or ModelConfig()
        self.precision = getattr(dtype, "name", dtype)
        self.synchronized_batch_norm = synchronized_batch_norm
        self.architecture = {"shared_layers": shared_layers,
                             "latent_discriminator": latent_discriminator,
                             "image_discriminator_outputs": image_discriminator_outputs}
        # The terms this model has: without D_l, the latent adversarial terms leave both phases.
        self.discriminator_term_names, self.generator_term_names = (
            tuple(t for t in terms if latent_discriminator or t not in self.LATENT_TERMS)
            for terms in (self.DISCRIMINATOR_TERMS, self.GENERATOR_TERMS))
        self.networks = build_lstnet_networks(
            self.model_config, dtype=dtype, shared=shared_layers,
            latent_discriminator=latent_discriminator,
            discriminator_outputs=image_discriminator_outputs,
            synchronized_batch_norm=synchronized_batch_norm)
        # Attributes so that Keras tracks (and saves) every part exactly once.
        self.parts = self.networks.all_parts()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_terms}
        # The last step's raw loss values, for per-step logging (the trackers hold epoch means);
        # under a tf.distribute strategy the mean of the replicas' values, the global batch's.
        self._last_step = {name: tf.Variable(0.0, trainable=False, name=f"last_{name}",
                                             aggregation=tf.VariableAggregation.MEAN)
                           for name in self.loss_terms}
        # Counted here, not by an optimizer: a loss-scale optimizer skips overflowing steps.
        self.completed_steps = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                               trainable=False, name="completed_steps")
        # All variables exist now (functional parts); there is no call() to build.
        self.built = True

    @property
    def loss_terms(self) -> tuple[str, ...]:
        """Every logged loss: each phase's terms, then its weighted total (no D phase without
        discriminator terms)."""
        d_phase = (*self.discriminator_term_names, "d_total") if self.discriminator_term_names else ()
        return (*d_phase, *self.generator_term_names, "g_total")

    def get_config(self) -> dict:
        return {"model_config": dataclasses.asdict(self.model_config), "dtype": self.precision,
                "synchronized_batch_norm": self.synchronized_batch_norm, **self.architecture,
                "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "LSTNet":
        return cls(**config)

    def get_compile_config(self) -> dict | None:
        if not hasattr(self, "loss_weights"):
            return None
        return {"loss_weights": dataclasses.asdict(self.loss_weights)}

    def compile_from_config(self, config: dict) -> None:
        """A reloaded model is compiled with its loss weights and the default optimizers
        (Keras then restores their state if the saved ones were of that kind; to resume
        training, use the checkpoints in the run directory, which also hold the step)."""
        self.compile(loss_weights=self.WEIGHTS(**config["loss_weights"]))

    # ----------------------------------------------------------------- set-up

    def compile(self, d_optimizer=None, g_optimizer=None, loss_weights=None, **kwargs):
        """``d_optimizer`` trains the discriminators; ``g_optimizer`` the encoders and
        generators; ``loss_weights`` is the objective's weights section (a ``WEIGHTS``; default:
        its published values).

        Under a mixed_float16 policy each optimizer is wrapped in a LossScaleOptimizer, which a
        custom train_step needs in Keras 3 (fit does not scale losses for it); one that skips
        a step when any replica overflows (``devices.AllReplicasLossScaleOptimizer``).
        """
        super().compile(**kwargs)
        # Keras' own optimizer trains nothing here: built on no variables, as it is saved.
        # Under a tf.distribute strategy fit would build it on every weight (slots the size of
        # the model in every checkpoint, which a one-device model skips with a warning).
        self.optimizer.build([])
        self.d_optimizer = d_optimizer or default_optimizer(name="d_adam")
        self.g_optimizer = g_optimizer or default_optimizer(name="g_adam")
        if needs_loss_scaling(self.precision):
            self.d_optimizer = self._loss_scaled(self.d_optimizer)
            self.g_optimizer = self._loss_scaled(self.g_optimizer)
        self.loss_weights = loss_weights or self.WEIGHTS()
        if not isinstance(self.loss_weights, self.WEIGHTS):
            raise TypeError(f"{type(self).__name__} weighs its terms with a "
                            f"{self.WEIGHTS.__name__}, got a {type(self.loss_weights).__name__}")
        self.d_optimizer.build(self.discriminator_variables)
        self.g_optimizer.build(self.translator_variables)

    @staticmethod
    def _loss_scaled(optimizer):
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer
        # Named after the inner optimizer: an automatic name would depend on how many were
        # built before in the process, and checkpoints restore optimizer state by path.
        return AllReplicasLossScaleOptimizer(optimizer, name=f"{optimizer.name}_loss_scale")

    @property
    def metrics(self):
        # Listed here so that fit() resets them at each epoch.
        return list(self.trackers.values())

    @property
    def discriminator_variables(self):
        return [v for m in self.networks.discriminators() for v in m.trainable_variables]

    @property
    def translator_variables(self):
        return [v for m in self.networks.translators() for v in m.trainable_variables]

    @property
    def step(self) -> int:
        """Completed training steps."""
        return int(self.completed_steps.numpy())

    def weight_averages(self) -> dict:
        """The scored networks' weight averages (LSTNet: the g optimizer's), keyed by
        ``id(variable)``, in the order of the variables the optimizer was built on."""
        optimizer, variables = ((self.d_optimizer, self.discriminator_variables)
                                if self.AVERAGED_OPTIMIZER == "d"
                                else (self.g_optimizer, self.translator_variables))
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if not optimizer.use_ema:
            raise ValueError("this model keeps no weight average: set train.ema_decay > 0")
        return {id(v): average for v, average in
                zip(variables, optimizer._model_variables_moving_average)}

    def last_step_losses(self) -> dict[str, float]:
        return {name: float(v.numpy()) for name, v in self._last_step.items()}

    def stream_settings(self, config, labels: tuple | None = None) -> dict:
        """How ``pipeline.paired_dataset`` draws this method's batches: the preset's batch
        size for both domains, no labels (a method trained with labels adds them)."""
        return {"batch_size": config.train.batch_size}

    def pretrain(self, config, images: tuple, labels: tuple | None, seed: int,
                 verbose: int = 1) -> dict:
        """Whatever the method trains before its objective, on the (MNIST, USPS) training
        images (and ``labels`` where ``USES_LABELS``), as the ``ExperimentConfig`` says;
        returns what to record. LSTNet: nothing."""
        return {}

    # ------------------------------------------------------------ the maths

    def translate_all(self, x1, x2, training: bool) -> dict:
        """Every encoder/generator output that the objective's terms need."""
        n = self.networks
        z1, z2 = n.enc_1(x1, training=training), n.enc_2(x2, training=training)
        t = {"z1": z1, "z2": z2,
             "x12": n.gen_2(z1, training=training), "x21": n.gen_1(z2, training=training)}
        uses = set(self.generator_term_names)
        if "cycle_1" in uses:
            t["x11"] = n.gen_1(z1, training=training)
        if "cycle_2" in uses:
            t["x22"] = n.gen_2(z2, training=training)
        if "cycle_3" in uses:
            t["x121"] = n.gen_1(n.enc_2(t["x12"], training=training), training=training)
        if "cycle_4" in uses:
            t["x212"] = n.gen_2(n.enc_1(t["x21"], training=training), training=training)
        return t

    def term_weights(self) -> dict[str, float]:
        """Each term's weight in its phase's total: objective (1)'s w1, w2, wl, w3..w6."""
        return {term: getattr(self.loss_weights, field)
                for term, field in LOSS_WEIGHT_FIELDS.items()}

    def used_term_weights(self) -> dict[str, float]:
        """The weight of every term this model's objective has: what a run records."""
        weights = self.term_weights()
        return {term: float(weights[term])
                for term in (*self.discriminator_term_names, *self.generator_term_names)}

    def discriminator_terms(self, x1, x2, t) -> dict:
        """D1: real x1 = 1, G1(E2(x2)) = 0; D2 the mirror; D_l: E1(x1) = 1, E2(x2) = 0.
        Unevaluated: only the model's terms (``discriminator_term_names``) are computed."""
        n = self.networks
        return {
            "d_adv_1": lambda: _bce(1.0, n.disc_1(x1)) + _bce(0.0, n.disc_1(t["x21"])),
            "d_adv_2": lambda: _bce(1.0, n.disc_2(x2)) + _bce(0.0, n.disc_2(t["x12"])),
            "d_adv_latent": lambda: (_bce(1.0, n.disc_latent(t["z1"]))
                                     + _bce(0.0, n.disc_latent(t["z2"]))),
        }

    def generator_terms(self, x1, x2, t) -> dict:
        """Objective (1) for the encoders/generators: flipped adversarial labels + 4 cycles.
        Unevaluated: only the model's terms (``generator_term_names``) are computed.

        The real-image halves of J_AN1 and J_AN2 do not depend on the encoders/generators, so
        only the translated halves appear here.
        """
        n = self.networks
        return {
            "g_adv_1": lambda: _bce(1.0, n.disc_1(t["x21"])),
            "g_adv_2": lambda: _bce(1.0, n.disc_2(t["x12"])),
            "g_adv_latent": lambda: (_bce(0.0, n.disc_latent(t["z1"]))
                                     + _bce(1.0, n.disc_latent(t["z2"]))),
            "cycle_1": lambda: _l1(x1, t["x11"]),
            "cycle_2": lambda: _l1(x2, t["x22"]),
            "cycle_3": lambda: _l1(x1, t["x121"]),
            "cycle_4": lambda: _l1(x2, t["x212"]),
        }

    def discriminator_losses(self, x1, x2, t) -> dict:
        return _evaluated(self.discriminator_terms(x1, x2, t), self.discriminator_term_names,
                          self.term_weights(), "d_total")

    def generator_losses(self, x1, x2, t) -> dict:
        return _evaluated(self.generator_terms(x1, x2, t), self.generator_term_names,
                          self.term_weights(), "g_total")

    # ------------------------------------------------------------- training

    @staticmethod
    def _scaled(optimizer, loss):
        """The loss to differentiate: scaled under a LossScaleOptimizer (inside the tape).

        Under a tf.distribute strategy each replica's loss is a mean over its share of the
        batch and the optimizers sum the replicas' gradients, so each is divided by the number
        of replicas: the sum is then the gradient of the whole batch's mean, one device's."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / replicas
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.scale_loss(loss)
        return loss

    def discriminator_update(self, x1, x2, translations) -> dict:
        """One update of the discriminators on given translations; returns their losses."""
        if not self.discriminator_term_names:
            return {}
        with tf.GradientTape() as tape:
            losses = self.discriminator_losses(x1, x2, translations)
            scaled = self._scaled(self.d_optimizer, losses["d_total"])
        variables = self.discriminator_variables
        self.d_optimizer.apply(tape.gradient(scaled, variables), variables)
        return losses

    def generator_phase_translations(self, x1, x2, translations) -> dict:
        """The translations the generator phase differentiates: the step's one forward pass
        (``reference.ReferenceLSTNet`` recomputes them instead)."""
        return translations

    def train_step(self, data):
        x1, x2, *labels = data  # + the labelled domain's labels for a method that reads them
        with tf.GradientTape() as tape:
            # 1. One forward pass of the encoders/generators, recorded for their gradients.
            translations = self.translate_all(x1, x2, training=True)
            if labels:
                translations["labels"] = labels[0]
            # 2. The discriminators' update, on those translations, outside the g-tape.
            with tape.stop_recording():
                d_losses = self.discriminator_update(x1, x2, translations)
            # 3. The encoders'/generators' objective, against the updated discriminators.
            g_losses = self.generator_losses(
                x1, x2, self.generator_phase_translations(x1, x2, translations))
            scaled = self._scaled(self.g_optimizer, g_losses["g_total"])
        # 4. Their update.
        self.g_optimizer.apply(tape.gradient(scaled, self.translator_variables),
                               self.translator_variables)
        self.completed_steps.assign_add(1)
        for name, value in {**d_losses, **g_losses}.items():
            self.trackers[name].update_state(value)
            self._last_step[name].assign(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # ------------------------------------------------------------ inference

    @property
    def directions(self) -> tuple[str, ...]:
        """The Table 2 rows this model is scored on (LSTNet: both)."""
        return DIRECTIONS

    def scored_parts(self, direction: str) -> list:
        """The networks of ``direction``'s scored path, in the order they are applied
        (``inference.translator`` copies them): E_source*, E_s, G_s, G_target*."""
        return path_parts(self.networks, direction)

    def encode_1(self, x1):
        return self.networks.enc_1(x1, training=False)

    def encode_2(self, x2):
        return self.networks.enc_2(x2, training=False)

    def translate_1_to_2(self, x1):
        """MNIST -> USPS: G2(E1(x1)), BatchNorm in inference mode (no state changes)."""
        return self.networks.gen_2(self.encode_1(x1), training=False)

    def translate_2_to_1(self, x2):
        """USPS -> MNIST: G1(E2(x2)), BatchNorm in inference mode (no state changes)."""
        return self.networks.gen_1(self.encode_2(x2), training=False)
