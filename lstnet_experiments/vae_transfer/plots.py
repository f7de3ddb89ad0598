"""The figure of the VAE transfer in the paper's layout (its Figure 2): in each block, the
conditionals (their reconstructions by the source VAE) at the bottom and the digits generated
from them on top, the judge's reading above each generated digit (red when it is not the
paired class)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstnet_experiments.reproduction.plots import _save, plt


def transfer_figure(conditionals, generated, labels, predicted, pairing: dict, title: str,
                    path: Path, columns: int = 10) -> Path:
    blocks = int(np.ceil(len(labels) / columns))
    fig, axes = plt.subplots(2 * blocks, columns, figsize=(1.0 * columns, 2.3 * blocks),
                             layout="constrained", squeeze=False)
    for b in range(blocks):
        for k in range(columns):
            index = b * columns + k
            top, bottom = axes[2 * b, k], axes[2 * b + 1, k]
            for ax in (top, bottom):
                ax.set_xticks([]), ax.set_yticks([])
            if index >= len(labels):
                top.axis("off"), bottom.axis("off")
                continue
            wanted = pairing[int(labels[index])]
            top.imshow(generated[index, ..., 0], cmap="gray", vmin=-1, vmax=1)
            top.set_title(f"{predicted[index]}", fontsize=9,
                          color="black" if predicted[index] == wanted else "red")
            bottom.imshow(conditionals[index, ..., 0], cmap="gray", vmin=-1, vmax=1)
            bottom.set_xlabel(f"{labels[index]}→{wanted}", fontsize=8)
            if k == 0:
                top.set_ylabel("generated", fontsize=8)
                bottom.set_ylabel("conditional", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
