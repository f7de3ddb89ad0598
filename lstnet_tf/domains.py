"""The two image domains, written once (no TensorFlow import): what every module reads for a
domain's name, its number in the paper (E1/E2, G1/G2, D1/D2), its image side and the classes.

Table 1's per-domain layer differences live beside the networks (``models.DomainSpec``, which
extends ``Domain``).
"""

from __future__ import annotations

from dataclasses import dataclass

NUM_CLASSES = 10  # the digits 0-9, in both domains


@dataclass(frozen=True)
class Domain:
    name: str  # "mnist", as in file names, config fields and seed files
    label: str  # "MNIST", as printed
    index: int  # 1 or 2, the paper's numbering
    image_size: int  # side of the square grayscale images, in pixels

    @property
    def position(self) -> int:
        """Where the domain sits in the (domain 1, domain 2) tuples of networks and data."""
        return self.index - 1


MNIST = Domain("mnist", "MNIST", 1, 28)
USPS = Domain("usps", "USPS", 2, 16)
DOMAINS = (MNIST, USPS)


def domain(name: str) -> Domain:
    """The domain called ``name`` (a ValueError names the known ones)."""
    for d in DOMAINS:
        if d.name == name:
            return d
    raise ValueError(f"domain must be one of {', '.join(d.name for d in DOMAINS)}, got {name!r}")
