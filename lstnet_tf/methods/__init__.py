"""The methods compared on equal terms: objectives over LSTNet's networks, data and runner.

Each method is LSTNet's step (``lstnet_tf.lstnet.LSTNet.train_step``) with its own objective:
an ablation flips an architecture switch of ``LSTNet`` or drops terms in a subclass, a related
method is a subclass. Their names, classes and weight sections are listed in the leaf module
``lstnet_tf.method_specs``.
"""

from __future__ import annotations

import importlib

from lstnet_tf.method_specs import METHODS  # noqa: F401 (re-exported)


def method_class(name: str) -> type:
    """The model class of the method ``name`` (a ValueError names the known ones)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    spec = METHODS[name]
    return getattr(importlib.import_module(spec.module), spec.class_name)


def build_method(name: str, *args, **kwargs):
    """An instance of the method ``name``: its class with its architecture switches."""
    return method_class(name)(*args, **{**METHODS[name].arguments, **kwargs})
