"""The straightforward training loop of LSTNet, kept as a reference for its tests and the
benchmark."""

from __future__ import annotations

from lstnet_tf.lstnet import LSTNet


class ReferenceLSTNet(LSTNet):
    """The straightforward loop: each phase runs its own forward pass of the translators.

    A reference only: the tests check ``LSTNet``'s gradients against it and the benchmark
    times it. Not registered for saving.
    """

    def generator_phase_translations(self, x1, x2, translations):
        return self.translate_all(x1, x2, training=True)
