"""What the domain-adaptation methods (CoGAN, DeepJDOT) share: they train with the labels of
one domain, the labelled one, and yield a classifier of the other, which is scored on the
Table 2 row whose images are that domain's (``LSTNet.OUTPUT == "classifier"``).

Table 2's rows are LSTNet's: USPS->MNIST translates the USPS images for an MNIST judge, which
knows the MNIST labels; so its row is, in domain-adaptation terms, *labelled MNIST ->
unlabelled USPS, scored on the USPS test images*, and MNIST->USPS is labelled USPS ->
unlabelled MNIST. The cited papers name the opposite task by the same arrow (README, Table 2).
"""

from __future__ import annotations

from lstnet_tf.directions import SOURCE_AND_TARGET
from lstnet_tf.domains import DOMAINS, domain


class TrainedWithLabels:
    """Mixed in before ``LSTNet``: the ``labelled_domain`` constructor argument (saved by
    get_config), the two roles, the one Table 2 row the model is scored on, and the labelled
    stream (the preset's batch size, the labelled domain's labels beside its images)."""

    USES_LABELS = True
    OUTPUT = "classifier"

    def __init__(self, *args, labelled_domain: str = "mnist", **kwargs):
        super().__init__(*args, **kwargs)
        self.labelled = domain(labelled_domain)
        self.unlabelled = next(d for d in DOMAINS if d.name != self.labelled.name)

    def get_config(self) -> dict:
        return {**super().get_config(), "labelled_domain": self.labelled.name}

    @property
    def directions(self) -> tuple[str, ...]:
        """The one Table 2 row it adapts: the row whose images are the unlabelled domain's
        and whose judge knows the labelled domain's labels."""
        return tuple(d for d, pair in SOURCE_AND_TARGET.items()
                     if pair == (self.unlabelled.name, self.labelled.name))

    def check_direction(self, direction: str) -> None:
        if direction not in self.directions:
            raise ValueError(f"this {type(self).__name__} was trained with "
                             f"{self.labelled.name} labels: it classifies "
                             f"{self.unlabelled.name} images, not {direction}")

    def stream_settings(self, config, labels: tuple | None = None) -> dict:
        labelled = None if labels is None else (self.labelled.position,
                                                labels[self.labelled.position])
        return {"batch_size": config.train.batch_size, "labelled": labelled}
