r"""The networks and losses of the latent-space VAE transfer (Lu, ``latent_vae_transfer.txt``).

**VAEs** (section 2, equation (2), section 3.2). Encoder f: three convolutions (BatchNorm,
ReLU), a 256-unit linear layer (ReLU), then the posterior's mean mu and log-variance
log sigma^2, each of ``latent_dim`` = 100 units. Decoder g: a 2048-unit linear layer (ReLU),
reshaped to 4x4x128, then four transposed convolutions, BatchNorm and ReLU on the first three,
tanh on the last (images in [-1, 1]). Per image, with z ~ q(z|x):

    KL(x)  = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2)    = KL[N(mu, sigma^2) || N(0, I)]
    C(x)   = sum_pixels (x - g(z))^2                                 pixel-wise reconstruction cost
    -ELBO  = C(x) + KL(x)       (Gaussian decoder of variance 1/2, constants dropped)
    L_VAE  = lambda_1 C(x) + lambda_2 (-ELBO)                        equation (2), batch mean

Equation (2) adds "lambda_2 ELBO" to a cost that is minimised; the ELBO is to be maximised, so
the term minimised is lambda_2 (-ELBO), as written above. With one posterior sample both C
terms use the same g(z), so L_VAE = (lambda_1 + lambda_2) C + lambda_2 KL.

**Sigma scaled by alpha** (section 3.2, after Engel et al.): the code is sampled as
z = mu + alpha sigma n, n ~ N(0, I), alpha = 0.1, while the KL term is that of the encoder's
own (mu, sigma). The KL pulls sigma towards 1 and mu towards the prior; the decoder sees
codes ten times tighter around mu than the posterior the KL describes. (Reading: the paper
only says alpha multiplies the sigma output "to make the embedded space tighter".)

**Latent translator** (section 2, equations (3), (4), section 3.2). Generator
G(eps, z1): [eps, z1] concatenated, ``layers`` x Dense(512, ReLU), then two linear heads of
``latent_dim`` units, a generated code c and a gate logit; with gate = sigmoid(gate logit),

    G(eps, z1) = (1 - gate) * eps + gate * c                         (gated interpolation)

so eps must have z's size (100); eps ~ N(0, I), the VAEs' prior. Discriminator
D(z_cond, z): [z_cond, z] concatenated, ``layers`` x Dense(512, ReLU), Dense(1) logit.
z_cond is a real code of the paired class j = pi(i); with D = sigmoid(logit):

    L_D = E[-log D(z_cond, z_real)]          real code of class j under a real conditional
        + E[-log(1 - D(z_cond, G(eps, z1)))] generated code
        + E[-log(1 - D(z_cond, eps))]        plain noise                   equation (3)
    L_G = E[-log D(z_cond, G(eps, z1))] + lambda_reg / n ||eps - G(eps, z1)||^2,  n = 100 (4)

Departures, each deliberate:
- The paper writes the generated and noise terms as "-(1 - log D)", a sign slip: minimising
  it would push D *up* on fakes. Implemented is the standard -log(1 - D) the text describes
  ("classifying a false embedding").
- The paper's real term is written L(z, z); z_cond and z_real are two independent real codes
  of class j here (with the same vector twice, D could reject every generated code by an
  equality test that G, which never sees z_cond, cannot pass).
- Every -log sigmoid is computed from logits (softplus), the same objective, stabler.

Beyond the paper, behind ``TranslatorConfig.mismatched_pairs`` (off by default): a fourth term
E[-log(1 - D(z_cond, z_other))], z_other a real code of a target class other than j, so that D
is taught the pairing by real codes (Reed et al. 2016's matching-aware discriminator).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from lstnet_tf.vae_transfer.config import TranslatorConfig, VaeConfig

DECODER_GRID = 4  # the 2048 decoder units are reshaped to 4 x 4 x (2048 / 16)


# ----------------------------------------------------------------------------- formulas

def kl_divergence(mu, log_variance):
    """KL[N(mu, sigma^2) || N(0, I)] per example, summed over the code's dimensions."""
    return 0.5 * tf.reduce_sum(tf.square(mu) + tf.exp(log_variance) - 1.0 - log_variance, axis=-1)


def sample_code(mu, log_variance, sigma_scale: float, noise):
    """z = mu + alpha sigma n (the reparametrised sample with sigma scaled by alpha)."""
    return mu + sigma_scale * tf.exp(0.5 * log_variance) * noise


def reconstruction_cost(images, reconstructions):
    """C(x, g(z)): squared error summed over pixels, per example."""
    return tf.reduce_sum(tf.square(images - reconstructions), axis=[1, 2, 3])


def vae_loss(cost, kl, reconstruction_weight: float, elbo_weight: float):
    """lambda_1 C + lambda_2 (-ELBO) with -ELBO = C + KL, per example (equation (2))."""
    return reconstruction_weight * cost + elbo_weight * (cost + kl)


def gated_interpolation(epsilon, generated, gate):
    """(1 - gate) eps + gate c: gate 0 returns the noise, gate 1 the generated code."""
    return (1.0 - gate) * epsilon + gate * generated


def discriminator_terms(real_logits, generated_logits, noise_logits,
                        mismatched_logits=None) -> dict:
    """The three batch-mean terms of L_D (3), from D's logits: -log D(real),
    -log(1 - D(generated)), -log(1 - D(noise)); -log sigmoid(a) = softplus(-a). With
    ``mismatched_logits`` (beyond the paper) a fourth, -log(1 - D(real code of another class))."""
    terms = {"real": tf.reduce_mean(tf.nn.softplus(-real_logits)),
             "generated": tf.reduce_mean(tf.nn.softplus(generated_logits)),
             "noise": tf.reduce_mean(tf.nn.softplus(noise_logits))}
    if mismatched_logits is not None:
        terms["mismatched"] = tf.reduce_mean(tf.nn.softplus(mismatched_logits))
    return terms


def generator_terms(generated_logits, epsilon, translated) -> dict:
    """The two batch-mean terms of L_G (4) before weighting: -log D(generated) and
    1/n ||eps - G(eps, z)||^2 with n the code's size."""
    return {"adversarial": tf.reduce_mean(tf.nn.softplus(-generated_logits)),
            "regularizer": tf.reduce_mean(tf.reduce_mean(tf.square(epsilon - translated), axis=-1))}


# ----------------------------------------------------------------------------- networks

def _conv_block(x, filters, kernel, strides, name, momentum, transpose=False, padding="same"):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_encoder(image_side: int, config: VaeConfig, name: str) -> keras.Model:
    """x (side, side, 1) -> (mu, log sigma^2). Convolutions k4 s2, k4 s2, k3 s1 ("same"):
    28 -> 14 -> 7 -> 7 for MNIST, 16 -> 8 -> 4 -> 4 for USPS."""
    c, m = config.base_channels, config.batch_norm_momentum
    image = keras.Input((image_side, image_side, 1), name="image")
    x = _conv_block(image, c, 4, 2, "conv1", m)
    x = _conv_block(x, 2 * c, 4, 2, "conv2", m)
    x = _conv_block(x, 4 * c, 3, 1, "conv3", m)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(config.encoder_units, activation="relu", name="linear")(x)
    mu = layers.Dense(config.latent_dim, dtype="float32", name="mu")(x)
    log_variance = layers.Dense(config.latent_dim, dtype="float32", name="log_variance")(x)
    return keras.Model(image, [mu, log_variance], name=name)


def build_decoder(image_side: int, config: VaeConfig, name: str) -> keras.Model:
    """z -> image in [-1, 1]. Dense 2048 -> 4x4x128, then transposed convolutions to
    4c, 2c, c, 1 channels: MNIST 4 -(k4 s1 valid)-> 7 -(k4 s2)-> 14 -(k4 s2)-> 28 -(k3 s1)-> 28;
    USPS 4 -(k3 s1)-> 4 -(k4 s2)-> 8 -(k4 s2)-> 16 -(k3 s1)-> 16."""
    c, m = config.base_channels, config.batch_norm_momentum
    code = keras.Input((config.latent_dim,), name="code")
    x = layers.Dense(config.decoder_units, activation="relu", name="linear")(code)
    x = layers.Reshape((DECODER_GRID, DECODER_GRID, config.decoder_units // DECODER_GRID ** 2),
                       name="grid")(x)
    first = {"kernel": 4, "padding": "valid"} if image_side == 28 else {"kernel": 3, "padding": "same"}
    x = _conv_block(x, 4 * c, first["kernel"], 1, "deconv1", m, transpose=True,
                    padding=first["padding"])
    x = _conv_block(x, 2 * c, 4, 2, "deconv2", m, transpose=True)
    x = _conv_block(x, c, 4, 2, "deconv3", m, transpose=True)
    image = layers.Conv2DTranspose(1, 3, padding="same", activation="tanh", dtype="float32",
                                   name="deconv4")(x)
    return keras.Model(code, image, name=name)


def build_generator(config: TranslatorConfig, latent_dim: int, name="generator") -> keras.Model:
    """(eps, z1) -> G(eps, z1), the gated interpolation; the gate is a second output."""
    epsilon = keras.Input((latent_dim,), name="epsilon")
    condition = keras.Input((latent_dim,), name="condition")
    x = layers.Concatenate(name="concat")([epsilon, condition])
    for k in range(1, config.layers + 1):
        x = layers.Dense(config.units, activation="relu", name=f"dense{k}")(x)
    generated = layers.Dense(latent_dim, dtype="float32", name="generated")(x)
    gate = layers.Dense(latent_dim, activation="sigmoid", dtype="float32", name="gate")(x)
    translated = layers.Lambda(lambda t: gated_interpolation(*t), name="interpolation")(
        [epsilon, generated, gate])
    return keras.Model([epsilon, condition], [translated, gate], name=name)


def build_discriminator(config: TranslatorConfig, latent_dim: int,
                        name="discriminator") -> keras.Model:
    """(z_cond, z) -> the logit of D(z_cond, z)."""
    condition = keras.Input((latent_dim,), name="condition")
    code = keras.Input((latent_dim,), name="code")
    x = layers.Concatenate(name="concat")([condition, code])
    for k in range(1, config.layers + 1):
        x = layers.Dense(config.units, activation="relu", name=f"dense{k}")(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model([condition, code], logit, name=name)


# ----------------------------------------------------------------------------- models

class Vae(keras.Model):
    """One unconditional VAE trained on one domain's images with L_VAE (``fit(images)``)."""

    def __init__(self, image_side: int, config: VaeConfig, name: str = "vae", seed=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        # The model's own noise stream: a training does not depend on what ran before it.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.encoder = build_encoder(image_side, config, f"{name}_encoder")
        self.decoder = build_decoder(image_side, config, f"{name}_decoder")
        self.trackers = {key: keras.metrics.Mean(name=key)
                         for key in ("loss", "reconstruction", "kl")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        """The deterministic reconstruction g(mu(x))."""
        mu, _ = self.encoder(images, training=training)
        return self.decoder(mu, training=training)

    def train_step(self, images):
        with tf.GradientTape() as tape:
            mu, log_variance = self.encoder(images, training=True)
            noise = keras.random.normal(tf.shape(mu), seed=self.seed_generator)
            code = sample_code(mu, log_variance, self.config.sigma_scale, noise)
            cost = reconstruction_cost(images, self.decoder(code, training=True))
            kl = kl_divergence(mu, log_variance)
            loss = tf.reduce_mean(vae_loss(cost, kl, self.config.reconstruction_weight,
                                           self.config.elbo_weight))
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        for key, value in (("loss", loss), ("reconstruction", cost), ("kl", kl)):
            self.trackers[key].update_state(value)
        return {key: tracker.result() for key, tracker in self.trackers.items()}


class LatentTransfer(keras.Model):
    """The generator/discriminator pair of one class pairing, trained on latent codes.

    ``fit`` takes batches ``(mu_1, log_var_1, label_1)`` of labelled source codes. The
    target's labelled codes are held by the model (``target_mu``, ``target_log_variance``
    sorted by class with ``target_start`` / ``target_count`` per class), and
    ``pairing[i]`` is the target class j = pi(i) of source class i (-1 where undefined).
    Each step draws, per source example, two independent target codes of class pi(i) (the
    conditional and the real code), samples every code as mu + alpha sigma n, updates D on L_D
    (3), then G on L_G (4) with fresh noise.
    """

    def __init__(self, config: TranslatorConfig, latent_dim: int, sigma_scale: float,
                 target_mu, target_log_variance, target_labels, pairing, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.config, self.latent_dim, self.sigma_scale = config, latent_dim, sigma_scale
        # The model's own noise stream (stateless draws, so XLA honours it too): a training
        # does not depend on what ran before it in the process.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.generator = build_generator(config, latent_dim)
        self.discriminator = build_discriminator(config, latent_dim)
        order = np.argsort(target_labels, kind="stable")
        counts = np.bincount(np.asarray(target_labels), minlength=10)
        self.target_mu = tf.constant(np.asarray(target_mu)[order], tf.float32)
        self.target_log_variance = tf.constant(np.asarray(target_log_variance)[order], tf.float32)
        self.target_start = tf.constant(np.concatenate([[0], np.cumsum(counts)[:-1]]), tf.int32)
        self.target_count = tf.constant(counts, tf.int32)
        self.pairing = tf.constant(pairing, tf.int32)
        # The paired target classes, and each one's position among them (for drawing another).
        paired = np.unique(np.asarray(pairing)[np.asarray(pairing) >= 0])
        position = np.full(10, -1)
        position[paired] = np.arange(len(paired))
        self.paired_classes = tf.constant(paired, tf.int32)
        self.paired_position = tf.constant(position, tf.int32)
        d_terms = ("d_real", "d_generated", "d_noise") + (
            ("d_mismatched",) if config.mismatched_pairs else ())
        self.trackers = {key: keras.metrics.Mean(name=key) for key in
                         ("d_loss", *d_terms, "g_loss", "g_adversarial", "g_regularizer", "gate")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def _normal(self, like):
        return keras.random.normal(tf.shape(like), seed=self.seed_generator)

    def _target_codes(self, source_labels, mismatched=False):
        """A sampled real target code of class pi(i) for each source label i (``mismatched``:
        of another paired target class, drawn uniformly)."""
        classes = tf.gather(self.pairing, source_labels)
        if mismatched:
            paired_count = tf.size(self.paired_classes)
            shift = keras.random.randint(tf.shape(classes), 1, paired_count, dtype="int32",
                                         seed=self.seed_generator)
            position = (tf.gather(self.paired_position, classes) + shift) % paired_count
            classes = tf.gather(self.paired_classes, position)
        count = tf.gather(self.target_count, classes)
        offset = tf.cast(keras.random.uniform(tf.shape(classes), seed=self.seed_generator)
                         * tf.cast(count, tf.float32), tf.int32)
        index = tf.gather(self.target_start, classes) + tf.minimum(offset, count - 1)
        mu = tf.gather(self.target_mu, index)
        log_variance = tf.gather(self.target_log_variance, index)
        return sample_code(mu, log_variance, self.sigma_scale, self._normal(mu))

    def train_step(self, data):
        mu, log_variance, labels = data
        source = sample_code(mu, log_variance, self.sigma_scale, self._normal(mu))
        condition, real = self._target_codes(labels), self._target_codes(labels)
        epsilon = self._normal(source)
        translated, _ = self.generator([epsilon, source], training=True)
        other = self._target_codes(labels, mismatched=True) if self.config.mismatched_pairs \
            else None
        with tf.GradientTape() as tape:
            d_terms = discriminator_terms(
                self.discriminator([condition, real], training=True),
                self.discriminator([condition, translated], training=True),
                self.discriminator([condition, epsilon], training=True),
                None if other is None else self.discriminator([condition, other], training=True))
            d_loss = tf.add_n(list(d_terms.values()))
        d_variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_variables), d_variables))

        epsilon = self._normal(source)
        with tf.GradientTape() as tape:
            translated, gate = self.generator([epsilon, source], training=True)
            g_terms = generator_terms(self.discriminator([condition, translated], training=True),
                                      epsilon, translated)
            g_loss = g_terms["adversarial"] + self.config.regularizer_weight * g_terms["regularizer"]
        g_variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_variables), g_variables))

        values = {"d_loss": d_loss, **{f"d_{key}": value for key, value in d_terms.items()},
                  "g_loss": g_loss,
                  "g_adversarial": g_terms["adversarial"],
                  "g_regularizer": g_terms["regularizer"], "gate": tf.reduce_mean(gate)}
        for key, value in values.items():
            self.trackers[key].update_state(value)
        return {key: tracker.result() for key, tracker in self.trackers.items()}
