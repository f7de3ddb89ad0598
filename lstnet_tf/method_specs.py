"""The methods compared on equal terms, by name: which class trains each, with which
architecture switches, and which config section holds its objective's weights.

A leaf module (no TensorFlow, no other import of this package), so that a config can be
checked before anything is built; ``lstnet_tf.methods.method_class`` imports the classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MethodSpec:
    module: str
    class_name: str
    # The config section (a dotted path) whose fields are the objective's weights.
    weights: str
    # Constructor arguments: the architecture switches a method flips (saved by get_config).
    arguments: dict = field(default_factory=dict)
    # A config section whose fields are further constructor arguments ("" when none).
    arguments_section: str = ""
    # A config section (a ``MethodOptimizer``) replacing the preset's Adam settings.
    optimizer: str = ""
    # Fields of ``weights`` without a term in this objective: setting one is an error.
    unused_weights: tuple[str, ...] = ()
    # Config sections read only by this method (beyond ``weights``).
    sections: tuple[str, ...] = ()
    # Why it is refused under a tf.distribute strategy ("" when it is not).
    single_device_only: str = ""
    # "translator": scored through the judges; "classifier": a domain-adaptation method
    # trained with one domain's labels, scored by its own classifier of the other domain
    # (one training per Table 2 row, ``train.labelled_domain``).
    output: str = "translator"


OBJECTIVE_1 = "train.loss_weights"  # w1, w2, wl, w3..w6 of the paper's objective (1)

# The order is the comparison table's.
METHODS = {
    "lstnet": MethodSpec("lstnet_tf.lstnet", "LSTNet", OBJECTIVE_1),
    "no_latent_disc": MethodSpec("lstnet_tf.lstnet", "LSTNet", OBJECTIVE_1,
                                 arguments={"latent_discriminator": False},
                                 unused_weights=("adversarial_latent",)),
    "no_cross_cycle": MethodSpec("lstnet_tf.methods.ablations", "NoCrossCycle", OBJECTIVE_1,
                                 unused_weights=("cycle_3", "cycle_4")),
    "no_reconstruction": MethodSpec("lstnet_tf.methods.ablations", "NoReconstruction",
                                    OBJECTIVE_1, unused_weights=("cycle_1", "cycle_2")),
    "unshared": MethodSpec("lstnet_tf.lstnet", "LSTNet", OBJECTIVE_1,
                           arguments={"shared_layers": False}),
    "unit": MethodSpec("lstnet_tf.methods.unit", "UNIT", "unit",
                       single_device_only="its latent noise would be the same draw on every "
                                          "replica"),
    "xgan": MethodSpec("lstnet_tf.methods.xgan", "XGAN", "xgan"),
    "dtn": MethodSpec("lstnet_tf.methods.dtn", "DTN", "dtn.weights",
                      sections=("dtn.pretraining",),
                      single_device_only="its pre-training of f does not run under the "
                                         "strategy"),
    "cogan": MethodSpec("lstnet_tf.methods.cogan", "CoGAN", "cogan.weights",
                        sections=("cogan.optimizer", "cogan.generator"),
                        arguments_section="cogan.generator", optimizer="cogan.optimizer",
                        single_device_only="its noise would be the same draw on every replica",
                        output="classifier"),
    "deepjdot": MethodSpec("lstnet_tf.methods.deepjdot", "DeepJDOT", "deepjdot.weights",
                           sections=("deepjdot.optimizer", "deepjdot.batch",
                                     "deepjdot.warm_start", "deepjdot.transport"),
                           arguments_section="deepjdot.transport",
                           optimizer="deepjdot.optimizer",
                           single_device_only="its transport plan couples the whole batch",
                           output="classifier"),
}


def sections_of(name: str) -> tuple[str, ...]:
    """Every config section the method ``name`` reads for its objective."""
    spec = METHODS[name]
    return (spec.weights, *spec.sections)


def method_sections() -> tuple[str, ...]:
    """Every config section that belongs to some method's objective."""
    return tuple(dict.fromkeys(s for name in METHODS for s in sections_of(name)))
