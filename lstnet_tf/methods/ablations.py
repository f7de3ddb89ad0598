"""LSTNet's ablations: objective (1) with one part switched off, everything else unchanged.

Two are architecture switches of ``LSTNet`` itself (constructor arguments, set by
``lstnet_tf.method_specs.METHODS``); two drop terms, in the subclasses below.

- ``no_latent_disc`` (``latent_discriminator=False``): w_l = 0 and no D_l at all. The latent
  discriminator is neither built, trained nor part of the objective: J_ANl leaves both phases.
- ``no_cross_cycle``: CC3 and CC4 off (w5 = w6 = 0); the cross-domain cycles x1 -> x12 ->
  x121 and x2 -> x21 -> x212 are not even computed, so they have no gradient path.
- ``no_reconstruction``: CC1 and CC2 off (w3 = w4 = 0); the in-domain reconstructions x11,
  x22 are not computed.
- ``unshared`` (``shared_layers=False``): a separate E_s and G_s per domain (``E1_upper``, ``E2_upper``, ``G1_lower``,
  ``G2_lower``), so the two domains share no layer; every term of objective (1) stays. At
  width 1.0 the encoders/generators then have 13.07 M parameters against LSTNet's 11.15 M
  (one more E_s and G_s); ``LSTNetNetworks.count_params`` gives the count at any width.
"""

from __future__ import annotations

import keras

from lstnet_tf.lstnet import GENERATOR_TERMS, LSTNet


def _without(terms: tuple, *off: str) -> tuple:
    return tuple(t for t in terms if t not in off)


@keras.saving.register_keras_serializable(package="lstnet_tf")
class NoCrossCycle(LSTNet):
    GENERATOR_TERMS = _without(GENERATOR_TERMS, "cycle_3", "cycle_4")


@keras.saving.register_keras_serializable(package="lstnet_tf")
class NoReconstruction(LSTNet):
    GENERATOR_TERMS = _without(GENERATOR_TERMS, "cycle_1", "cycle_2")
