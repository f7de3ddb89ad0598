"""UNIT (Liu, Breuel & Kautz, NIPS 2017; ``shared/papers/unit_nips2017.txt``) on LSTNet's
Table 1 networks.

Each encoder path E_i = E_s o E_i* gives the mean mu of a Gaussian latent with identity
covariance; the code used by the generators is z = mu + eta, eta ~ N(0, I) (section 3). With
p(z) = N(0, I), KL(N(mu, I) || N(0, I)) = 1/2 ||mu||^2. The objective is equations (2)-(7):

    L_VAE1 = lambda1 KL(q1(z1|x1)) + lambda2 ||x1 - G1(z1)||_1                     (3)
    L_GAN1 = lambda0 [log D1(x1) + log(1 - D1(G1(z2)))]                             (5)
    L_CC1  = lambda3 KL(q1(z1|x1)) + lambda3 KL(q2(z2|x1->2)) + lambda4 ||x1 - G1(z2)||_1,
             z2 ~ q2(z2 | x1->2 = G2(z1))                                           (7)

and the mirrors L_VAE2, L_GAN2, L_CC2. The Laplacian likelihood of the generators makes the
negative log-likelihoods L1 distances (section 3). Weights: the config's ``unit`` section
(``method_config.UNITWeights``), by default the paper's lambda0 = 10, lambda1 = lambda3 = 0.1,
lambda2 = lambda4 = 100 (section 5); its digits section (appendix B) gives no others. The
discriminators minimise lambda0 times their cross-entropy, the encoders/generators the
flipped-label cross-entropy of the translated halves, as LSTNet's J_AN terms.

Departures from the paper, each to keep every other part equal to LSTNet's:
- the networks are LSTNet's Table 1 networks (UNIT's digits networks are its own), and mu is
  the encoder's last layer as in LSTNet (BatchNorm + LeakyReLU), not a linear layer;
- the optimiser, learning rates, batch size, schedule and weight average are the ``cpu``
  preset's (UNIT: Adam 1e-4, betas 0.5 / 0.999, batch 1 + 1);
- every term is a mean over its elements (KL: 1/2 mean(mu^2), L1: mean |.|), as LSTNet's, not
  a sum; the weights are used as the paper gives them;
- the generator's non-saturating loss (-log D) instead of log(1 - D), as LSTNet's;
- translations and reported numbers use mu (no noise), as UNIT's code does at test time;
- UNIT's domain-adaptation variant (a source classifier inside the discriminators, with
  feature matching, section 5.2) is left out: it uses source labels, which LSTNet does not.
"""

from __future__ import annotations

import random

import keras
import tensorflow as tf

from lstnet_tf.method_config import UNITWeights
from lstnet_tf.lstnet import LSTNet


def gaussian_kl(mu) -> tf.Tensor:
    """KL(N(mu, I) || N(0, I)) = 1/2 ||mu||^2, as a mean over mu's elements."""
    return 0.5 * tf.reduce_mean(tf.square(tf.cast(mu, tf.float32)))


@keras.saving.register_keras_serializable(package="lstnet_tf")
class UNIT(LSTNet):
    WEIGHTS = UNITWeights
    DISCRIMINATOR_TERMS = ("d_adv_1", "d_adv_2")
    GENERATOR_TERMS = ("g_adv_1", "g_adv_2", "kl_1", "kl_2", "cycle_1", "cycle_2",
                       "kl_cycle_1", "kl_cycle_2", "cycle_3", "cycle_4")

    def __init__(self, *args, latent_discriminator: bool = False, **kwargs):
        if latent_discriminator:
            raise ValueError("UNIT has no latent discriminator (its encoders share a latent "
                             "prior instead): latent_discriminator must be False")
        super().__init__(*args, latent_discriminator=False, **kwargs)
        # The noise is a pure function of this key (drawn from the run seed's generator), the
        # step and the draw's place in it: a resumed run draws exactly the noise it would have.
        self.noise_key = self.add_weight(
            shape=(), dtype="int32", trainable=False, name="noise_key",
            initializer=keras.initializers.Constant(random.randrange(2 ** 31)))

    def term_weights(self) -> dict[str, float]:
        w = self.loss_weights
        return {"d_adv_1": w.gan, "d_adv_2": w.gan, "g_adv_1": w.gan, "g_adv_2": w.gan,
                "kl_1": w.kl, "kl_2": w.kl,
                "cycle_1": w.reconstruction, "cycle_2": w.reconstruction,
                "kl_cycle_1": w.kl_cycle, "kl_cycle_2": w.kl_cycle,
                "cycle_3": w.cycle, "cycle_4": w.cycle}

    def sample(self, mu, draw: int):
        """z = mu + eta, eta ~ N(0, I); ``draw`` numbers the step's four draws."""
        step = tf.cast(self.completed_steps, tf.int32)
        seed = tf.stack([tf.convert_to_tensor(self.noise_key), 4 * step + draw])
        eta = tf.random.stateless_normal(tf.shape(mu), seed=seed)
        return mu + tf.cast(eta, mu.dtype)

    def translate_all(self, x1, x2, training: bool) -> dict:
        n = self.networks
        mu1, mu2 = n.enc_1(x1, training=training), n.enc_2(x2, training=training)
        z1, z2 = self.sample(mu1, 0), self.sample(mu2, 1)
        x12, x21 = n.gen_2(z1, training=training), n.gen_1(z2, training=training)
        mu12, mu21 = n.enc_2(x12, training=training), n.enc_1(x21, training=training)
        return {
            "mu1": mu1, "mu2": mu2, "mu12": mu12, "mu21": mu21, "x12": x12, "x21": x21,
            "x11": n.gen_1(z1, training=training), "x22": n.gen_2(z2, training=training),
            "x121": n.gen_1(self.sample(mu12, 2), training=training),
            "x212": n.gen_2(self.sample(mu21, 3), training=training),
        }

    def generator_terms(self, x1, x2, t) -> dict:
        # The adversarial and L1 terms are LSTNet's (the same formulas on these translations).
        return {
            **super().generator_terms(x1, x2, t),
            "kl_1": lambda: gaussian_kl(t["mu1"]),
            "kl_2": lambda: gaussian_kl(t["mu2"]),
            "kl_cycle_1": lambda: gaussian_kl(t["mu1"]) + gaussian_kl(t["mu12"]),
            "kl_cycle_2": lambda: gaussian_kl(t["mu2"]) + gaussian_kl(t["mu21"]),
        }


