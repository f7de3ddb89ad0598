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
