"""CoGAN, the Coupled GAN (Liu and Tuzel, NIPS 2016; official code mingyuliutw/CoGAN, its
PyTorch ``trainer_cogan_mnist2usps.py`` and ``net_cogan_mnist2usps.py``), on LSTNet's Table 1
networks, as a domain-adaptation method.

Two generators draw a *pair* of digits, one per domain, from one noise vector z; they share
their first layers, so the pair shares its high-level content. Two discriminators tell real
from generated in their domain and share their last layers; a class head on the shared
discriminator features learns the labelled domain's labels, and because the discriminators
are coupled, it classifies the unlabelled domain's images too: that classifier is what is
scored. With s the labelled domain, h_k the features of D_k and c the class head:

    L_D = adversarial [1/2 (BCE(1, D1(x1)) + BCE(0, D1(G1(z)))) + the same for D2]
          + feature        mean_b ||h1(G1(z)) - h2(G2(z))||^2
          + classification CE(c(h_s(x_s)), y_s)
          + weight_decay   1/2 ||theta_D||^2
    L_G = adversarial [1/2 BCE(1, D1(G1(z'))) + 1/2 BCE(1, D2(G2(z')))]
          + weight_decay   1/2 ||theta_G||^2

(the official trainer: a 2-way softmax cross-entropy over the 2B real and 2B generated images,
a sigmoid BCE on one logit here; weights 1, 0.01, 10 and Adam's L2 weight decay 5e-4, lr 2e-4,
betas 0.5 / 0.999; a fresh z' for the generator step; z ~ N(0, I_100)). Weights, optimiser and
noise size: the ``cogan`` config section (``method_config.CoGANConfig``).

On Table 1's networks:
- G_k = G_k* o G_s o P: a new projection P (Dense + BatchNorm + LeakyReLU) maps z to a map of
  the latent's shape, then Table 1's G_s (layers 1-2) and the private G_k* (layers 3-7). P and
  G_s are shared, as CoGAN's generators share all but their last layer.
- D_k = Table 1's D_k layers 1-4, coupled as CoGAN's (``models.build_coupled_discriminator_
  features``): layer 1 per domain, layers 2-4 one set of weights, each domain with Table 1's
  pooling, both ending in a 4x4x512w map h_k; USPS's layer 4 is MNIST's 3x3 "same"
  convolution (Table 1's 2x2 "valid" one could not share weights). The real/fake logit and the
  class head on h_k are one shared layer each. (A first version shared only the heads and
  kept Table 1's four layers per domain: its classifier of the unlabelled domain stayed at
  chance for over 6000 steps; results/methods/cogan/first_design/README.md.) The base
  class still builds Table 1's D1 and D2, which CoGAN never calls (untrained weights in its
  checkpoints; the shipped classifier holds only the scored path).
- The scored classifier of the unlabelled domain u is c o h_u; the weight average (the
  preset's EMA) is kept of the discriminator side, which holds it.
- The preset's schedule, step count and batch size (64 per domain, the official trainer's);
  images in [-1, 1] with tanh, not [0, 1] with a sigmoid.
"""

from __future__ import annotations

import random

import keras
import tensorflow as tf

from lstnet_tf.domains import NUM_CLASSES
from lstnet_tf.lstnet import LSTNet, _bce
from lstnet_tf.method_config import CoGANWeights
from lstnet_tf.methods.adaptation import TrainedWithLabels
from lstnet_tf.models import (build_coupled_discriminator_features, build_head,
                              build_noise_projection)


def half_squared_norm(variables) -> tf.Tensor:
    """1/2 sum ||w||^2 over ``variables``: the L2 term whose gradient is w (torch's
    weight_decay, added to the gradient)."""
    return 0.5 * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])


def _flat(features) -> tf.Tensor:
    return tf.reshape(tf.cast(features, tf.float32), (tf.shape(features)[0], -1))


@keras.saving.register_keras_serializable(package="lstnet_tf")
class CoGAN(TrainedWithLabels, LSTNet):
    WEIGHTS = CoGANWeights
    DISCRIMINATOR_TERMS = ("d_adv_1", "d_adv_2", "d_feature", "d_class", "d_weight_decay")
    GENERATOR_TERMS = ("g_adv_1", "g_adv_2", "g_weight_decay")
    AVERAGED_OPTIMIZER = "d"  # the scored classifier is on the discriminator side

    def __init__(self, *args, noise_dims: int = 100, latent_discriminator: bool = False,
                 **kwargs):
        if latent_discriminator:
            raise ValueError("CoGAN has no latent discriminator: latent_discriminator must be "
                             "False")
        super().__init__(*args, latent_discriminator=False, **kwargs)
        self.noise_dims = noise_dims
        self.projection = build_noise_projection(self.model_config, noise_dims, self.precision)
        self.features = build_coupled_discriminator_features(self.model_config, self.precision)
        shape = self.features[0].outputs[0].shape[1:]
        if shape != self.features[1].outputs[0].shape[1:]:
            raise ValueError("the two discriminators' feature maps differ in shape: "
                             f"{shape} and {self.features[1].outputs[0].shape[1:]}")
        self.real_or_generated = build_head(shape, 1, "D_shared_logit")
        self.class_head = build_head(shape, NUM_CLASSES, "D_shared_classes")
        # The noise is a pure function of this key, the step and the draw (as UNIT's).
        self.noise_key = self.add_weight(
            shape=(), dtype="int32", trainable=False, name="noise_key",
            initializer=keras.initializers.Constant(random.randrange(2 ** 31)))

    def get_config(self) -> dict:
        return {**super().get_config(), "noise_dims": self.noise_dims}

    @property
    def discriminator_variables(self):
        parts = [*self.features, self.real_or_generated, self.class_head]
        return [v for m in parts for v in m.trainable_variables]

    @property
    def translator_variables(self):
        """The generators: P, G_s (once) and G1*, G2*."""
        n = self.networks
        parts = [self.projection, *dict.fromkeys(n.shared_generators), *n.private_generators]
        return [v for m in parts for v in m.trainable_variables]

    def term_weights(self) -> dict[str, float]:
        w = self.loss_weights
        return {"d_adv_1": w.adversarial, "d_adv_2": w.adversarial, "d_feature": w.feature,
                "d_class": w.classification, "d_weight_decay": w.weight_decay,
                "g_adv_1": w.adversarial, "g_adv_2": w.adversarial,
                "g_weight_decay": w.weight_decay}

    def noise(self, batch, draw: int) -> tf.Tensor:
        """z ~ N(0, I) for ``batch`` pairs; ``draw`` numbers the step's two draws (D, G)."""
        step = tf.cast(self.completed_steps, tf.int32)
        seed = tf.stack([tf.convert_to_tensor(self.noise_key), 2 * step + draw])
        return tf.random.stateless_normal((batch, self.noise_dims), seed=seed)

    def generate(self, batch, draw: int, training: bool) -> dict:
        """A generated pair per noise vector: (G1(z), G2(z))."""
        latent = self.projection(self.noise(batch, draw), training=training)
        return {"x1_generated": self.networks.gen_1(latent, training=training),
                "x2_generated": self.networks.gen_2(latent, training=training)}

    def translate_all(self, x1, x2, training: bool) -> dict:
        return self.generate(tf.shape(x1)[0], 0, training)

    def generator_phase_translations(self, x1, x2, translations) -> dict:
        # A fresh draw for the generator step, as the official trainer's gen_update.
        return self.generate(tf.shape(x1)[0], 1, training=True)

    def discriminate(self, k: int, images) -> tuple[tf.Tensor, tf.Tensor]:
        """D_k's features h_k and the shared real/fake logit on them."""
        features = self.features[k](images)
        return features, self.real_or_generated(features)

    def discriminator_terms(self, x1, x2, t) -> dict:
        real = [self.discriminate(k, x) for k, x in enumerate((x1, x2))]
        fake = [self.discriminate(k, t[f"x{k + 1}_generated"]) for k in range(2)]
        s = self.labelled.position
        return {
            "d_adv_1": lambda: 0.5 * (_bce(1.0, real[0][1]) + _bce(0.0, fake[0][1])),
            "d_adv_2": lambda: 0.5 * (_bce(1.0, real[1][1]) + _bce(0.0, fake[1][1])),
            "d_feature": lambda: tf.reduce_mean(tf.reduce_sum(
                tf.square(_flat(fake[0][0]) - _flat(fake[1][0])), axis=1)),
            "d_class": lambda: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                t["labels"], self.class_head(real[s][0]))),
            "d_weight_decay": lambda: half_squared_norm(self.discriminator_variables),
        }

    def generator_terms(self, x1, x2, t) -> dict:
        return {
            "g_adv_1": lambda: 0.5 * _bce(1.0, self.discriminate(0, t["x1_generated"])[1]),
            "g_adv_2": lambda: 0.5 * _bce(1.0, self.discriminate(1, t["x2_generated"])[1]),
            "g_weight_decay": lambda: half_squared_norm(self.translator_variables),
        }

    # ------------------------------------------------------------ inference

    def scored_parts(self, direction: str) -> list:
        """The unlabelled domain's classifier c o h_u: D_u layers 1-4, the class head."""
        self.check_direction(direction)
        return [self.features[self.unlabelled.position], self.class_head]
