"""The seven LSTNet networks of Table 1 as Keras functional models.

Domain 1 is MNIST (28x28x1), domain 2 is USPS (16x16x1, native size). Where Table 1 writes
"A/B" the per-domain value comes from a :class:`DomainSpec`, so both domains use the same
builders. Padding is "same" unless Table 1 marks a layer "V" (valid), pooling included.

Deviation from the printed table: encoder layer 6 uses stride 1, not "S3". With stride 3
the latent would be 3x3 and the listed generators would output 12x12 and 8x8 images; only a
7x7x128 latent makes every listed layer produce 28x28 and 16x16 images and lets the latent
discriminator's pooling stack fit.

Discriminators return logits: Table 1's final sigmoid is folded into a from-logits binary
cross-entropy in the loss (the same objective, numerically stabler).

The last layer of each network computes in float32 so that a mixed-precision policy keeps
every tensor that feeds a loss in float32.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
from keras import layers

from lstnet_tf import domains
from lstnet_tf.config import ModelConfig
from lstnet_tf.domains import Domain

LATENT_SIZE = 7
LATENT_CHANNELS = 128
IMAGE_CHANNELS = 1


@dataclass(frozen=True)
class DomainSpec(Domain):
    """A domain (name, index as in E1/E2, G1/G2, D1/D2, image size) with everything Table 1
    lets differ between the two domains ("A/B" entries)."""

    encoder_conv3_stride: int
    encoder_conv4_kernel: int
    encoder_conv4_padding: str
    generator_deconv3_kernel: int
    generator_deconv3_padding: str
    generator_deconv5_stride: int
    discriminator_pool2_stride: int
    discriminator_conv4_kernel: int
    discriminator_conv4_padding: str


MNIST = DomainSpec(
    **dataclasses.asdict(domains.MNIST),
    encoder_conv3_stride=2, encoder_conv4_kernel=3, encoder_conv4_padding="same",
    generator_deconv3_kernel=3, generator_deconv3_padding="same", generator_deconv5_stride=2,
    discriminator_pool2_stride=2, discriminator_conv4_kernel=3, discriminator_conv4_padding="same",
)
USPS = DomainSpec(
    **dataclasses.asdict(domains.USPS),
    encoder_conv3_stride=1, encoder_conv4_kernel=2, encoder_conv4_padding="valid",
    generator_deconv3_kernel=2, generator_deconv3_padding="valid", generator_deconv5_stride=1,
    discriminator_pool2_stride=1, discriminator_conv4_kernel=2, discriminator_conv4_padding="valid",
)
DOMAINS = (MNIST, USPS)


class _Blocks:
    """Table 1's building blocks, with the width multiplier and Keras-default hyperparameters."""

    def __init__(self, config: ModelConfig, dtype=None, synchronized_batch_norm: bool = False):
        self.config = config
        self.dtype = dtype  # None: the global dtype policy
        self.synchronized_batch_norm = synchronized_batch_norm

    def channels(self, n: int) -> int:
        return max(1, round(n * self.config.width))

    def conv_bn_lrelu(self, x, filters, kernel, stride, name, padding="same", transpose=False,
                      output_float32=False):
        conv, kind = (layers.Conv2DTranspose, "deconv") if transpose else (layers.Conv2D, "conv")
        x = conv(self.channels(filters), kernel, strides=stride, padding=padding, name=name,
                 dtype=self.dtype)(x)
        x = layers.BatchNormalization(
            momentum=self.config.batch_norm_momentum, epsilon=self.config.batch_norm_epsilon,
            name=name.replace(kind, "bn"), dtype=self.dtype,
            synchronized=self.synchronized_batch_norm,
        )(x)
        return layers.LeakyReLU(
            negative_slope=self.config.leaky_relu_slope, name=name.replace(kind, "lrelu"),
            dtype="float32" if output_float32 else self.dtype,
        )(x)

    def conv(self, filters, kernel, name, padding="same"):
        return layers.Conv2D(self.channels(filters), kernel, padding=padding, name=name,
                             dtype=self.dtype)

    def conv_lrelu_pool(self, x, filters, kernel, pool_stride, name, padding="same", conv=None):
        """``conv`` (a layer another network holds too) instead of a new convolution."""
        x = (conv or self.conv(filters, kernel, name, padding))(x)
        x = layers.LeakyReLU(negative_slope=self.config.leaky_relu_slope,
                             name=name.replace("conv", "lrelu"), dtype=self.dtype)(x)
        return layers.MaxPooling2D(2, strides=pool_stride, padding="same",
                                   name=name.replace("conv", "pool"), dtype=self.dtype)(x)

    def logit(self, x, prefix, units=1):
        x = layers.Flatten(name=f"{prefix}_flatten", dtype=self.dtype)(x)
        return layers.Dense(units, dtype="float32", name=f"{prefix}_logit")(x)


def _latent_shape(config: ModelConfig):
    return (LATENT_SIZE, LATENT_SIZE, _Blocks(config).channels(LATENT_CHANNELS))


def build_private_encoder(spec: DomainSpec, config: ModelConfig, dtype=None,
                          synchronized_batch_norm: bool = False) -> keras.Model:
    """E1* / E2*: encoder layers 1-4."""
    b, i = _Blocks(config, dtype, synchronized_batch_norm), spec.index
    image = keras.Input((spec.image_size, spec.image_size, IMAGE_CHANNELS), name=f"{spec.name}_image")
    x = b.conv_bn_lrelu(image, 64, 7, 1, f"enc{i}_conv1")
    x = b.conv_bn_lrelu(x, 128, 5, 2, f"enc{i}_conv2")
    x = b.conv_bn_lrelu(x, 256, 3, spec.encoder_conv3_stride, f"enc{i}_conv3")
    x = b.conv_bn_lrelu(x, 512, spec.encoder_conv4_kernel, 1, f"enc{i}_conv4",
                        padding=spec.encoder_conv4_padding, output_float32=True)
    return keras.Model(image, x, name=f"E{i}_private")


def build_shared_encoder(config: ModelConfig, dtype=None, owner: int | None = None,
                         synchronized_batch_norm: bool = False) -> keras.Model:
    """E_s: encoder layers 5-6, one model used by both domains (``owner``: the domain index of
    an unshared copy, for the ablation that gives each domain its own)."""
    b = _Blocks(config, dtype, synchronized_batch_norm)
    tag = "shared" if owner is None else f"upper{owner}"
    features = keras.Input((LATENT_SIZE, LATENT_SIZE, b.channels(512)), name="private_features")
    x = b.conv_bn_lrelu(features, 256, 3, 1, f"{tag}_enc_conv5")
    # Stride 1, not the printed S3: see the module docstring.
    x = b.conv_bn_lrelu(x, 128, 3, 1, f"{tag}_enc_conv6", output_float32=True)
    return keras.Model(features, x, name="E_shared" if owner is None else f"E{owner}_upper")


def build_shared_generator(config: ModelConfig, dtype=None, owner: int | None = None,
                           synchronized_batch_norm: bool = False) -> keras.Model:
    """G_s: generator layers 1-2, one model used by both domains (``owner``: as for E_s)."""
    b = _Blocks(config, dtype, synchronized_batch_norm)
    tag = "shared" if owner is None else f"lower{owner}"
    latent = keras.Input(_latent_shape(config), name="latent")
    x = b.conv_bn_lrelu(latent, 128, 3, 1, f"{tag}_gen_deconv1", transpose=True)
    x = b.conv_bn_lrelu(x, 256, 3, 1, f"{tag}_gen_deconv2", transpose=True, output_float32=True)
    return keras.Model(latent, x, name="G_shared" if owner is None else f"G{owner}_lower")


def build_private_generator(spec: DomainSpec, config: ModelConfig, dtype=None,
                            synchronized_batch_norm: bool = False) -> keras.Model:
    """G1* / G2*: generator layers 3-7, ending in a tanh image in [-1, 1]."""
    b, i = _Blocks(config, dtype, synchronized_batch_norm), spec.index
    features = keras.Input((LATENT_SIZE, LATENT_SIZE, b.channels(256)), name="shared_features")
    x = b.conv_bn_lrelu(features, 512, spec.generator_deconv3_kernel, 1, f"gen{i}_deconv3",
                        padding=spec.generator_deconv3_padding, transpose=True)
    x = b.conv_bn_lrelu(x, 256, 3, 2, f"gen{i}_deconv4", transpose=True)
    x = b.conv_bn_lrelu(x, 128, 5, spec.generator_deconv5_stride, f"gen{i}_deconv5", transpose=True)
    x = b.conv_bn_lrelu(x, 64, 7, 1, f"gen{i}_deconv6", transpose=True)
    image = layers.Conv2DTranspose(IMAGE_CHANNELS, 1, activation="tanh", dtype="float32",
                                   name=f"gen{i}_deconv7")(x)
    return keras.Model(features, image, name=f"G{i}_private")


def build_image_discriminator(spec: DomainSpec, config: ModelConfig, dtype=None,
                              outputs: int = 1) -> keras.Model:
    """D1 / D2: real image of the domain vs image translated into it; returns a logit
    (``outputs`` logits for a method whose discriminator tells more than two kinds apart)."""
    b, i = _Blocks(config, dtype), spec.index
    image = keras.Input((spec.image_size, spec.image_size, IMAGE_CHANNELS), name=f"{spec.name}_image")
    x = b.conv_lrelu_pool(image, 64, 3, 1, f"disc{i}_conv1")
    x = b.conv_lrelu_pool(x, 128, 3, spec.discriminator_pool2_stride, f"disc{i}_conv2")
    x = b.conv_lrelu_pool(x, 256, 5, 2, f"disc{i}_conv3")
    x = b.conv_lrelu_pool(x, 512, spec.discriminator_conv4_kernel, 2, f"disc{i}_conv4",
                          padding=spec.discriminator_conv4_padding)
    return keras.Model(image, b.logit(x, f"disc{i}", outputs), name=f"D{i}")


def build_coupled_discriminator_features(config: ModelConfig, dtype=None) -> tuple:
    """CoGAN's coupled (D1, D2), Table 1's layers 1-4 up to the 4x4 feature map: layer 1 per
    domain, layers 2-4 one set of weights for both (CoGAN's discriminators share every layer
    but the first), each domain with its own pooling. Layer 4 is MNIST's 3x3 "same"
    convolution in both: USPS's Table 1 layer 4 (2x2 "valid") could not share its weights,
    and USPS's 8x8 map pools to 4x4 through it all the same."""
    b = _Blocks(config, dtype)
    shared = {"conv2": b.conv(128, 3, "disc_shared_conv2"),
              "conv3": b.conv(256, 5, "disc_shared_conv3"),
              "conv4": b.conv(512, MNIST.discriminator_conv4_kernel, "disc_shared_conv4",
                              MNIST.discriminator_conv4_padding)}
    features = []
    for spec in DOMAINS:
        i = spec.index
        image = keras.Input((spec.image_size, spec.image_size, IMAGE_CHANNELS),
                            name=f"{spec.name}_image")
        x = b.conv_lrelu_pool(image, 64, 3, 1, f"disc{i}_conv1")
        x = b.conv_lrelu_pool(x, 128, 3, spec.discriminator_pool2_stride, f"disc{i}_conv2",
                              conv=shared["conv2"])
        x = b.conv_lrelu_pool(x, 256, 5, 2, f"disc{i}_conv3", conv=shared["conv3"])
        x = b.conv_lrelu_pool(x, 512, 3, 2, f"disc{i}_conv4", conv=shared["conv4"])
        features.append(keras.Model(image, x, name=f"D{i}_features"))
    return tuple(features)


def build_latent_discriminator(config: ModelConfig, dtype=None) -> keras.Model:
    """D_l: latent code from domain 1 (label 1) vs domain 2 (label 0); returns a logit."""
    b = _Blocks(config, dtype)
    latent = keras.Input(_latent_shape(config), name="latent")
    x = b.conv_lrelu_pool(latent, 256, 3, 1, "disc_latent_conv1")
    x = b.conv_lrelu_pool(x, 512, 3, 2, "disc_latent_conv2")
    x = b.conv_lrelu_pool(x, 256, 3, 1, "disc_latent_conv3")
    return keras.Model(latent, b.logit(x, "disc_latent"), name="D_latent")


def build_head(feature_shape, units: int, name: str) -> keras.Model:
    """A head beyond Table 1 (a related method's classifier or shared logit): the feature map
    flattened, then a Dense layer of ``units`` logits (float32)."""
    features = keras.Input(feature_shape, name=f"{name}_features")
    x = layers.Flatten(name=f"{name}_flatten")(features)
    return keras.Model(features, layers.Dense(units, dtype="float32", name=f"{name}_logits")(x),
                       name=name)


def build_noise_projection(config: ModelConfig, noise_dims: int, dtype=None) -> keras.Model:
    """Noise of ``noise_dims`` numbers to a map of the latent's shape (Dense + BatchNorm +
    LeakyReLU), for a generator that starts from noise (CoGAN) instead of an encoder."""
    b = _Blocks(config, dtype)
    noise = keras.Input((noise_dims,), name="noise")
    x = layers.Dense(LATENT_SIZE * LATENT_SIZE * b.channels(LATENT_CHANNELS), name="project",
                     dtype=dtype)(noise)
    x = layers.Reshape(_latent_shape(config), name="project_reshape", dtype=dtype)(x)
    x = layers.BatchNormalization(momentum=config.batch_norm_momentum,
                                  epsilon=config.batch_norm_epsilon, name="project_bn",
                                  dtype=dtype)(x)
    x = layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name="project_lrelu",
                         dtype="float32")(x)
    return keras.Model(noise, x, name="noise_projection")


@dataclass
class LSTNetNetworks:
    """All networks of one LSTNet; the composites reuse the very same shared-part objects.

    ``shared_encoders`` / ``shared_generators`` hold E_s / G_s per domain: the same object
    twice in LSTNet, two objects when a method gives each domain its own. A method without
    D_l has ``latent_discriminator`` None.
    """

    private_encoders: tuple[keras.Model, keras.Model]
    shared_encoders: tuple[keras.Model, keras.Model]
    shared_generators: tuple[keras.Model, keras.Model]
    private_generators: tuple[keras.Model, keras.Model]
    image_discriminators: tuple[keras.Model, keras.Model]
    latent_discriminator: keras.Model | None
    encoders: tuple[keras.Model, keras.Model]  # E1 = E_s o E1*, E2 = E_s o E2*
    generators: tuple[keras.Model, keras.Model]  # G1 = G1* o G_s, G2 = G2* o G_s

    # Named parts: E1, E2, G1, G2, D1, D2, D_l of the paper (domain 1 is MNIST, 2 USPS), so
    # that no reader has to map tuple positions to the paper's indices.
    enc_1 = property(lambda self: self.encoders[0])
    enc_2 = property(lambda self: self.encoders[1])
    gen_1 = property(lambda self: self.generators[0])
    gen_2 = property(lambda self: self.generators[1])
    disc_1 = property(lambda self: self.image_discriminators[0])
    disc_2 = property(lambda self: self.image_discriminators[1])
    disc_latent = property(lambda self: self.latent_discriminator)

    @property
    def shared_encoder(self) -> keras.Model:
        return self._the_shared("shared_encoders")

    @property
    def shared_generator(self) -> keras.Model:
        return self._the_shared("shared_generators")

    def _the_shared(self, field: str) -> keras.Model:
        first, second = getattr(self, field)
        if first is not second:
            raise AttributeError(f"these networks have one of {field} per domain")
        return first

    def translators(self) -> list[keras.Model]:
        """The encoder/generator team (every variable the second update phase trains)."""
        return _distinct([*self.private_encoders, *self.shared_encoders, *self.shared_generators,
                          *self.private_generators])

    def discriminators(self) -> list[keras.Model]:
        return [*self.image_discriminators,
                *([self.latent_discriminator] if self.latent_discriminator is not None else [])]

    def all_parts(self) -> list[keras.Model]:
        """Every building block once (the composites only re-wire them)."""
        return self.translators() + self.discriminators()

    def count_params(self, parts: str = "translators") -> int:
        return sum(m.count_params() for m in getattr(self, parts)())


def _distinct(models: list) -> list:
    """``models`` in order, each object once."""
    seen, kept = set(), []
    for m in models:
        if id(m) not in seen:
            seen.add(id(m))
            kept.append(m)
    return kept


def build_lstnet_networks(config: ModelConfig | None = None, dtype=None, shared: bool = True,
                          latent_discriminator: bool = True,
                          discriminator_outputs: int = 1,
                          synchronized_batch_norm: bool = False) -> LSTNetNetworks:
    """Builds every network; ``dtype`` is a Keras dtype policy name (None: the global policy).

    ``shared=False`` gives each domain its own E_s and G_s (nothing shared);
    ``latent_discriminator=False`` builds no D_l; ``discriminator_outputs`` is the number of
    logits of D1 and D2 (Table 1: one); ``synchronized_batch_norm`` makes BatchNorm compute its
    training statistics over every replica's share of the batch (distributed training only)."""
    config = config or ModelConfig()
    sync = {"synchronized_batch_norm": synchronized_batch_norm}
    if shared:
        shared_encoders = (build_shared_encoder(config, dtype, **sync),) * 2
        shared_generators = (build_shared_generator(config, dtype, **sync),) * 2
    else:
        shared_encoders = tuple(build_shared_encoder(config, dtype, d.index, **sync)
                                for d in DOMAINS)
        shared_generators = tuple(build_shared_generator(config, dtype, d.index, **sync)
                                  for d in DOMAINS)
    private_encoders = tuple(build_private_encoder(d, config, dtype, **sync) for d in DOMAINS)
    private_generators = tuple(build_private_generator(d, config, dtype, **sync) for d in DOMAINS)

    def compose(first, second, input_shape, name):
        inputs = keras.Input(input_shape, name=f"{name}_input")
        return keras.Model(inputs, second(first(inputs)), name=name)

    encoders = tuple(
        compose(private_encoders[k], shared_encoders[k],
                (d.image_size, d.image_size, IMAGE_CHANNELS), f"E{d.index}")
        for k, d in enumerate(DOMAINS)
    )
    generators = tuple(
        compose(shared_generators[k], private_generators[k], _latent_shape(config), f"G{d.index}")
        for k, d in enumerate(DOMAINS)
    )
    return LSTNetNetworks(
        private_encoders=private_encoders,
        shared_encoders=shared_encoders,
        shared_generators=shared_generators,
        private_generators=private_generators,
        image_discriminators=tuple(build_image_discriminator(d, config, dtype,
                                                             discriminator_outputs)
                                   for d in DOMAINS),
        latent_discriminator=(build_latent_discriminator(config, dtype)
                              if latent_discriminator else None),
        encoders=encoders,
        generators=generators,
    )


def print_summaries(config: ModelConfig | None = None, print_fn=None) -> None:
    """Prints keras.Model.summary() of every Table 1 network, to read beside the paper."""
    networks = build_lstnet_networks(config)
    for model in networks.all_parts() + [*networks.encoders, *networks.generators]:
        model.summary(print_fn=print_fn, expand_nested=False)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Print the Table 1 network summaries.")
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    print_summaries(ModelConfig(width=parser.parse_args().width))
