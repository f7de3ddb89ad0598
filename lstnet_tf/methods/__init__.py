"""The methods compared on equal terms: objectives over LSTNet's networks, data and runner.

Each name maps to the ``keras.Model`` class that trains it; every class is LSTNet's step
(``lstnet_tf.lstnet.LSTNet.train_step``) with its own objective. The names are listed here
without importing TensorFlow, so that a config can be checked before anything is built.
"""

from __future__ import annotations

import importlib

# name -> (module, class); the order is the comparison table's.
METHODS = {
    "lstnet": ("lstnet_tf.lstnet", "LSTNet"),
    "no_latent_disc": ("lstnet_tf.methods.ablations", "NoLatentDiscriminator"),
    "no_cross_cycle": ("lstnet_tf.methods.ablations", "NoCrossCycle"),
    "no_reconstruction": ("lstnet_tf.methods.ablations", "NoReconstruction"),
    "unshared": ("lstnet_tf.methods.ablations", "Unshared"),
    "unit": ("lstnet_tf.methods.unit", "UNIT"),
    "xgan": ("lstnet_tf.methods.xgan", "XGAN"),
    "dtn": ("lstnet_tf.methods.dtn", "DTN"),
}


# Methods not yet checked under a tf.distribute strategy, and why: refused with devices > 1
# rather than trained wrongly.
SINGLE_DEVICE_ONLY = {
    "unit": "its latent noise would be the same draw on every replica",
    "dtn": "its pre-training of f does not run under the strategy",
}


def method_class(name: str) -> type:
    """The model class of the method ``name`` (a ValueError names the known ones)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    module, cls = METHODS[name]
    return getattr(importlib.import_module(module), cls)
