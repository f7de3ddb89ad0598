"""XGAN (Royer et al., 2017; ``shared/papers/xgan_slides.txt``) on LSTNet's Table 1 networks.

XGAN is a domain-adversarial auto-encoder with shared high-level layers (the slides'
"Domain-adversarial auto-encoder", "Semantic consistency", "GAN loss"):

    L = w3 L_rec1 + w4 L_rec2                       reconstructions ||x_i - d_i(e_i(x_i))||_1
      + wl L_dann                                   domain-adversarial loss on the embeddings
      + w5 L_sem(1->2) + w6 L_sem(2->1)             ||e1(x1) - e2(d2(e1(x1)))||_1 and mirror
      + w1 L_GAN1 + w2 L_GAN2                       image GANs on the translations

Here e_i = E_i (E_s o E_i*), d_i = G_i (G_i* o G_s), the domain-adversarial critic is LSTNet's
D_l and the image discriminators are D1, D2.

Departures and choices (the slides give no weights):
- the weights are the config's ``xgan`` section (``method_config.XGANWeights``); by default
  LSTNet's for the term the two share: w1 = w2 = 20 (image GANs), wl = 30 (latent adversary),
  w3 = w4 = 100 (reconstructions); the semantic-consistency terms take LSTNet's cross-cycle
  weights w5 = w6 = 100, the terms they replace. Nothing was tuned;
- the domain-adversarial loss is LSTNet's D_l game (flipped labels for the encoders), not the
  gradient-reversal layer the slides name: the same critic and loss as LSTNet, so that only
  the semantic-consistency terms differ;
- the distance of the semantic-consistency loss is the mean absolute difference (the slides
  write a norm without its order);
- the teacher loss is left out: it needs a teacher network pre-trained on another data set;
- the optimiser, schedule and networks are the ``cpu`` preset's, as for every method here.
"""

from __future__ import annotations

import keras

from lstnet_tf.method_config import XGANWeights
from lstnet_tf.lstnet import LSTNet, _l1


@keras.saving.register_keras_serializable(package="lstnet_tf")
class XGAN(LSTNet):
    WEIGHTS = XGANWeights
    GENERATOR_TERMS = ("g_adv_1", "g_adv_2", "g_adv_latent", "cycle_1", "cycle_2",
                       "semantic_1", "semantic_2")

    def term_weights(self) -> dict[str, float]:
        w = self.loss_weights
        return {"d_adv_1": w.adversarial_1, "d_adv_2": w.adversarial_2,
                "d_adv_latent": w.adversarial_latent,
                "g_adv_1": w.adversarial_1, "g_adv_2": w.adversarial_2,
                "g_adv_latent": w.adversarial_latent,
                "cycle_1": w.reconstruction_1, "cycle_2": w.reconstruction_2,
                "semantic_1": w.semantic_1, "semantic_2": w.semantic_2}

    def translate_all(self, x1, x2, training: bool) -> dict:
        t = super().translate_all(x1, x2, training)  # z1, z2, x12, x21, x11, x22
        t["z12"] = self.networks.enc_2(t["x12"], training=training)  # e2(d2(e1(x1)))
        t["z21"] = self.networks.enc_1(t["x21"], training=training)  # e1(d1(e2(x2)))
        return t

    def generator_terms(self, x1, x2, t) -> dict:
        return {**super().generator_terms(x1, x2, t),
                "semantic_1": lambda: _l1(t["z1"], t["z12"]),
                "semantic_2": lambda: _l1(t["z2"], t["z21"])}
