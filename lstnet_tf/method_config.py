"""The related methods' own config sections (``ExperimentConfig.unit``, ``.xgan``, ``.dtn``):
each objective's weights with the published defaults, and DTN's pre-training. LSTNet's own
weights, objective (1), are ``config.LossWeights`` (``train.loss_weights``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UNITWeights:
    """lambda0..lambda4 of UNIT's objective, the defaults of its section 5 (its digits
    appendix gives no others); read only by ``method: unit``."""

    gan: float = 10.0  # lambda0
    kl: float = 0.1  # lambda1
    reconstruction: float = 100.0  # lambda2
    kl_cycle: float = 0.1  # lambda3
    cycle: float = 100.0  # lambda4


@dataclass(frozen=True)
class XGANWeights:
    """XGAN's weights; read only by ``method: xgan``. Its slides give none: LSTNet's for the
    terms the two share (image GANs, latent adversary, reconstructions), and the semantic
    consistency terms take the cross-cycle weights w5, w6 of the terms they replace."""

    adversarial_1: float = 20.0
    adversarial_2: float = 20.0
    adversarial_latent: float = 30.0
    reconstruction_1: float = 100.0
    reconstruction_2: float = 100.0
    semantic_1: float = 100.0
    semantic_2: float = 100.0


@dataclass(frozen=True)
class DTNWeights:
    """DTN's L_G = L_GANG + alpha L_CONST + beta L_TID + gamma L_TV (L_D weighs
    ``adversarial`` too). alpha = beta = 15, gamma = 0: the public implementation
    (yunjey/domain-transfer-network); the seminar report gives none."""

    adversarial: float = 1.0
    constancy: float = 15.0  # alpha
    target_identity: float = 15.0  # beta
    total_variation: float = 0.0  # gamma (0: the term is not computed)


@dataclass(frozen=True)
class DTNPretraining:
    """How DTN's fixed f = E_S is pre-trained as a classifier of S's training labels (Adam,
    no augmentation; about 1 250 steps per domain)."""

    mnist_epochs: int = 3
    usps_epochs: int = 25
    batch_size: int = 128
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class DTNConfig:
    """Read only by ``method: dtn``."""

    weights: DTNWeights = field(default_factory=DTNWeights)
    pretraining: DTNPretraining = field(default_factory=DTNPretraining)


@dataclass(frozen=True)
class MethodOptimizer:
    """A method's own Adam, in place of the preset's learning rates and betas (the preset's
    schedule shape, length, weight average and weight decay stay)."""

    learning_rate: float
    beta_1: float
    beta_2: float = 0.999


@dataclass(frozen=True)
class DeepJDOTWeights:
    """The weights of DeepJDOT's objective and of its transport cost (Damodaran et al., ECCV
    2018; the official Keras code, bbdamodaran/deepJDOT ``deepjdot_svhn_mnist.py``, its only
    real-data script): ``sloss``, ``jdot_alpha`` and ``tloss`` there."""

    source_classification: float = 1.0  # sloss
    alignment: float = 1e-3  # jdot_alpha: the squared feature distance
    target_classification: float = 1e-4  # tloss: the source label against f(g(x_t))


@dataclass(frozen=True)
class DeepJDOTBatch:
    """One step's batches: ``source_per_class`` images of each class of the labelled domain
    (class-balanced, as the official ``mini_batch_class_balanced``) and ``target`` images of
    the unlabelled one (official: 50 per class and 500)."""

    source_per_class: int = 50
    target: int = 500


@dataclass(frozen=True)
class DeepJDOTWarmStart:
    """The source-only model DeepJDOT starts from (the authors' advice, so that it does not
    diverge): g and f trained on the labelled domain's labels (official: Adam 2e-4, batch 128,
    10 epochs)."""

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 2e-4


PLAN_LABEL_COSTS = ("cross_entropy", "squared_error")


@dataclass(frozen=True)
class DeepJDOTTransport:
    """The transport plan of each step (``ot.emd``). ``label_cost``: the label part of its
    cost, ``cross_entropy`` (the paper) or ``squared_error`` (the official code: the squared
    distance between the one-hot source label and f's softmax). ``max_iterations``: the
    network simplex's limit (POT's default, 100 000, can stop short at 500 x 500)."""

    label_cost: str = "cross_entropy"
    max_iterations: int = 1_000_000


@dataclass(frozen=True)
class DeepJDOTConfig:
    """Read only by ``method: deepjdot``."""

    weights: DeepJDOTWeights = field(default_factory=DeepJDOTWeights)
    # The official script's Adam (Keras 2's default betas).
    optimizer: MethodOptimizer = field(default_factory=lambda: MethodOptimizer(1e-4, 0.9))
    batch: DeepJDOTBatch = field(default_factory=DeepJDOTBatch)
    warm_start: DeepJDOTWarmStart = field(default_factory=DeepJDOTWarmStart)
    transport: DeepJDOTTransport = field(default_factory=DeepJDOTTransport)


@dataclass(frozen=True)
class CoGANWeights:
    """CoGAN's discriminator loss = adversarial (real/fake, both domains) + feature x the
    squared distance of the two discriminators' features of a generated pair + classification
    x the labelled domain's cross-entropy; both phases add weight_decay x 1/2 ||w||^2 (the
    official PyTorch trainer's Adam weight_decay, an L2 term). Defaults: the official
    ``mnist2usps_full_cogan.yaml`` and trainer (mingyuliutw/CoGAN)."""

    adversarial: float = 1.0
    feature: float = 0.01  # mse_weight
    classification: float = 10.0  # cls_weight (the Caffe original: 0.5)
    weight_decay: float = 5e-4


@dataclass(frozen=True)
class CoGANGenerator:
    """The noise both generators start from: ``noise_dims`` standard normal numbers
    (``latent_dims``, drawn with torch.randn in the official trainer)."""

    noise_dims: int = 100


@dataclass(frozen=True)
class CoGANConfig:
    """Read only by ``method: cogan``."""

    weights: CoGANWeights = field(default_factory=CoGANWeights)
    # The official trainer's Adam: lr 2e-4, betas (0.5, 0.999).
    optimizer: MethodOptimizer = field(default_factory=lambda: MethodOptimizer(2e-4, 0.5))
    generator: CoGANGenerator = field(default_factory=CoGANGenerator)
