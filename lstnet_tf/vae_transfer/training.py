"""Training and inference of the latent-space VAE transfer: the two stages of section 2.

1. ``train_vae``: one VAE per domain, unconditionally (every training image of the domain).
2. ``train_translator``: the generator/discriminator pair of one class pairing, on the
   labelled subset's latent codes (``encode``: mu and log sigma^2, computed once).
Sampling (section 2, end): ``generate`` = g_2(G_1(eps, z_1)) with z_1 = mu_1(x), the
encoder's mean (the training codes are posterior samples; at test time the deterministic
code of the conditional image is used).
Both trainings run exactly their configured steps (``config.epochs_and_steps``) and refuse a
count that their ten epochs do not divide. ``definition_version`` fingerprints what decides a
VAE (part of its cache key).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lstnet_tf import files
from lstnet_tf.vae_transfer import models
from lstnet_tf.vae_transfer.config import TranslatorConfig, VaeConfig, epochs_and_steps
from lstnet_tf.vae_transfer.models import LatentTransfer, Vae

BATCH = 500  # inference batch


def set_precision(precision: str) -> None:
    keras.mixed_precision.set_global_policy(precision)


def train_vae(images: np.ndarray, config: VaeConfig, seed: int, name: str,
              verbose: int = 0) -> tuple[Vae, dict]:
    """A VAE fitted to ``images`` (N, side, side, 1) in [-1, 1] for ``config.steps`` steps;
    returns it and the mean losses over the last tenth of the steps."""
    epochs, steps_per_epoch = epochs_and_steps(config.steps, "vae.steps")
    keras.utils.set_random_seed(seed)
    vae = Vae(images.shape[1], config, name=name, seed=seed)
    vae(images[:1])  # built, so that its weights can be saved and loaded
    vae.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    dataset = (tf.data.Dataset.from_tensor_slices(images)
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
               .batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    history = vae.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                      verbose=verbose, shuffle=False)
    return vae, {key: float(values[-1]) for key, values in history.history.items()}


def definition_version() -> str:
    """A fingerprint of the code that defines and trains a VAE (part of its cache key): every
    function and class a VAE's training runs, and nothing of the translator's, so that a
    translator change does not retrain the VAEs. A new VAE helper must be listed here."""
    return files.definition_version(
        (models.kl_divergence, models.sample_code, models.reconstruction_cost, models.vae_loss,
         models._conv_block, models.build_encoder, models.build_decoder, models.Vae, train_vae,
         epochs_and_steps), extra=f"{models.DECODER_GRID}")


def encode(vae: Vae, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, log sigma^2) of every image, BatchNorm in inference mode."""
    mu, log_variance = vae.encoder.predict(images, batch_size=BATCH, verbose=0)
    return mu, log_variance


def decode(vae: Vae, codes: np.ndarray) -> np.ndarray:
    return vae.decoder.predict(codes, batch_size=BATCH, verbose=0)


def train_translator(source_codes: tuple, source_labels: np.ndarray, target_codes: tuple,
                     target_labels: np.ndarray, pairing: np.ndarray, config: TranslatorConfig,
                     sigma_scale: float, seed: int, verbose: int = 0) -> tuple[LatentTransfer, dict]:
    """The translator of one pairing (``pairing[i]`` = pi(i)); returns it and the mean losses
    over the last tenth of its steps."""
    epochs, steps_per_epoch = epochs_and_steps(config.steps, "translator.steps")
    keras.utils.set_random_seed(seed)
    (mu_1, log_variance_1), (mu_2, log_variance_2) = source_codes, target_codes
    model = LatentTransfer(config, mu_1.shape[1], sigma_scale, mu_2, log_variance_2,
                           target_labels, pairing, seed=seed)
    model.compile(d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
                  g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1))
    dataset = (tf.data.Dataset.from_tensor_slices((mu_1, log_variance_1, source_labels))
               .shuffle(len(source_labels), seed=seed, reshuffle_each_iteration=True).repeat()
               .batch(config.batch_size, drop_remainder=False).prefetch(tf.data.AUTOTUNE))
    model.jit_compile = config.jit_compile
    history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        verbose=verbose, shuffle=False)
    return model, {key: float(values[-1]) for key, values in history.history.items()}


def generate(translator: LatentTransfer, target_vae: Vae, source_mu: np.ndarray,
             seed: int) -> np.ndarray:
    """Target-domain images g_2(G(eps, mu_1)), one per conditional code, eps drawn from seed."""
    epsilon = np.random.default_rng(seed).standard_normal(source_mu.shape).astype(np.float32)
    translated, _ = translator.generator.predict([epsilon, source_mu], batch_size=BATCH,
                                                 verbose=0)
    return decode(target_vae, translated)
