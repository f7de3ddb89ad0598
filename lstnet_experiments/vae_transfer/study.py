"""The validation study of the VAE transfer, summarised from its run directories.

    python -m lstnet_experiments.vae_transfer.study results/vae_transfer/validation

Each subdirectory holds one ``--split validation`` run (``table.json``: seed 0, 3 pairings,
MNIST{0-4} -> MNIST{5-9}). Writes ``study.md`` beside them: per variant, its overrides against
the defaults, the validation accuracy per size (mean of the pairings, and each pairing) and
the wall time, and applies the rule fixed before the runs: the default is kept unless a
variant beats it by more than 0.01 at size "all"; among variants within 0.01 of the best, the
cheapest (fewest training steps) is preferred.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lstnet_tf.config import flat_settings
from lstnet_tf.files import write_atomically
from lstnet_experiments.vae_transfer.table import overrides_of

RULE = ("Rule (fixed before the runs): keep the default unless a variant beats it by more than "
        "0.01 at size 'all' (validation split; the mean over the run's seeds of each seed's 3 "
        "pairings: seed 0 until part 4, seeds 0 and 1 from part 5 on, compared on equal seeds); "
        "among settings within 0.01 of the best, prefer the cheapest. A switch beyond the paper "
        "is never adopted into the paper's table: when it wins, it gets a table of its own.")


def summarize(directory: Path) -> str:
    lines = ["# VAE transfer: validation study", "", RULE, "",
             "| variant (directory) | differs from the code's defaults | seeds | size | validation "
             "accuracy (mean) | per seed | per pairing | wall time (min) | judge epochs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for path in sorted(Path(directory).glob("*/table.json")):
        table = json.loads(path.read_text())
        record = next(iter(table["provenance"].values()))
        settings = flat_settings(record["config"])
        differs = ", ".join(f"{k}={v}" for k, v in overrides_of(record["config"]).items()) or "—"
        minutes = sum(table["wall_seconds_per_seed"].values()) / 60
        for row in table["rows"]:
            pairings = "; ".join(f"{seed}: " + " ".join(f"{v:.3f}" for v in values)
                                 for seed, values in row["per_pairing"].items())
            per_seed = ", ".join(f"{seed}: {v:.4f}" for seed, v in row["per_seed"].items())
            seeds = " ".join(str(seed) for seed in row["per_seed"])
            lines.append(f"| {path.parent.name} | {differs} | {seeds} | {row['size']} | "
                         f"{row['mean']:.4f} | {per_seed} | {pairings} | {minutes:.1f} | "
                         f"{settings.get('judge.mnist_epochs')} |")
    lines += ["", "Each run: `python reproduce.py --experiment vae-transfer --split validation "
              "--seeds 0 (parts 1-4) or --seeds 0 1 --out <directory> (from part 5) --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data "
              "--no-download --quiet [--set KEY=VALUE]` (commands: each directory's table.md)."]
    text = "\n".join(lines) + "\n"
    write_atomically(Path(directory) / "study.md", text)
    return text


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else "results/vae_transfer/validation")))
