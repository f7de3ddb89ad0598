"""The tasks of Table 1 (``latent_vae_transfer.txt``, section 3), their domains, class
pairings and training-set sizes.

Domains are class-split, as the paper's MNIST -> MNIST setup: "we split the training set and
testing set with number as their classes", domain 1 holding digits {0..4}, domain 2 digits
{5..9}. So both MNIST domains draw from all of MNIST train (minus the validation split), each
keeping the images of its own five classes; USPS -> MNIST takes USPS {0..4} as domain 1.

"Size of training set" (Table 1) counts, by default, the *labelled* examples the translator
sees, per domain: N source images and N target images, N/5 of each class, drawn per seed and
pairing. The VAEs are unconditional and trained before, on every (unlabelled) training image of
their domain, so they do not depend on N; "all" uses every labelled training image of the
domain. The other reading (``vaes_trained_on_subset``): the VAEs see only the N images too
(``vae_subset``, one draw per seed, size and domain, shared by the pairings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
CHANCE = 1.0 / len(TARGET_CLASSES)
ALL = "all"
SIZES = (500, 1000, 2000, ALL)
FIGURE_SALT = 999  # the figure's extra translator (the paper's pairing i -> i+5, all examples)


def cell_salt(size, pairing_index: int) -> int:
    """The seed offset of one cell's translator and labelled draw, keyed by the size itself
    and not by its place among the command's ``--sizes``, so that a cell's value does not
    depend on which other sizes run. The paper's sizes keep the offsets their positions in
    ``SIZES`` gave them (0, 10, 20, 30), which the committed tables were run with; any other
    size is keyed from 100 up, so that no cell's salt reaches ``FIGURE_SALT``."""
    key = SIZES.index(size) if size in SIZES else 100 + size
    return 10 * key + pairing_index


@dataclass(frozen=True)
class Domain:
    dataset: str          # "mnist" or "usps"
    classes: tuple        # the digits it holds
    # Keeps the domains' VAEs apart for one seed: a VAE's seed is 1000 * seed + this.
    vae_seed_offset: int

    def vae_seed(self, seed: int) -> int:
        return 1000 * seed + self.vae_seed_offset

    @property
    def key(self) -> str:
        return f"{self.dataset}{self.classes[0]}-{self.classes[-1]}"


@dataclass(frozen=True)
class Task:
    name: str
    label: str
    source: Domain
    target: Domain


MNIST_SOURCE = Domain("mnist", SOURCE_CLASSES, vae_seed_offset=1)
MNIST_TARGET = Domain("mnist", TARGET_CLASSES, vae_seed_offset=2)
USPS_SOURCE = Domain("usps", SOURCE_CLASSES, vae_seed_offset=3)
TASKS = {
    "mnist-mnist": Task("mnist-mnist", "MNIST{0–4} → MNIST{5–9}", MNIST_SOURCE, MNIST_TARGET),
    "usps-mnist": Task("usps-mnist", "USPS{0–4} → MNIST{5–9}", USPS_SOURCE, MNIST_TARGET),
}


def parse_size(text: str):
    """A training-set size: a positive multiple of 5 (N/5 per class), or "all"."""
    if text == ALL:
        return ALL
    try:
        size = int(text)
    except ValueError:
        raise ValueError(f"a size is a positive multiple of 5 or 'all', got {text!r}") from None
    if size < 5 or size % 5:
        raise ValueError(f"a size is a positive multiple of 5 or 'all', got {text!r}")
    return size


def domain_images(split: tuple, domain: Domain) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of ``split`` = (x, y) that belong to ``domain``'s classes."""
    x, y = split
    keep = np.isin(y, domain.classes)
    return x[keep], y[keep]


def labelled_subset(labels: np.ndarray, size, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``size`` examples, size / (number of classes) of each class, or all."""
    if size == ALL:
        return np.arange(len(labels))
    classes = np.unique(labels)
    per_class = size // len(classes)
    picked = []
    for digit in classes:
        members = np.flatnonzero(labels == digit)
        if len(members) < per_class:
            raise ValueError(f"class {digit} has {len(members)} examples, {per_class} wanted")
        picked.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(picked))


def vae_subset(labels: np.ndarray, size, seed: int, domain: Domain) -> np.ndarray:
    """The N examples of ``domain`` that both its VAE and the translators see when "size"
    counts every image the method learns from: one balanced draw per seed, size and domain
    (independent of which other sizes run)."""
    if size == ALL:
        return np.arange(len(labels))
    rng = np.random.default_rng([seed, size, domain.vae_seed_offset, 13])
    return labelled_subset(labels, size, rng)


def shuffled_pairings(count: int, seed: int) -> list[dict]:
    """``count`` random bijections source class -> target class, drawn from ``seed`` (the
    paper shuffles the conditional pair 3 times and averages)."""
    rng = np.random.default_rng([seed, 22])
    return [dict(zip(SOURCE_CLASSES, (TARGET_CLASSES[k] for k in rng.permutation(5))))
            for _ in range(count)]


def pairing_table(pairing: dict) -> np.ndarray:
    """A lookup array: ``table[i]`` = pi(i) for source classes, -1 elsewhere."""
    table = np.full(10, -1, np.int32)
    for source, target in pairing.items():
        table[source] = target
    return table


def paired_correct(predicted: np.ndarray, conditional_labels: np.ndarray,
                   pairing: dict) -> np.ndarray:
    """Per generated image: does the judge's class equal the class paired with its
    conditional's class, pi(y)? (The score of every cell is the mean of this.)"""
    return np.asarray(predicted) == pairing_table(pairing)[np.asarray(conditional_labels)]
