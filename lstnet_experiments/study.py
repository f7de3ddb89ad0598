"""The validation study of a results directory: which evaluation variant, and was training done?

    python -m lstnet_experiments.study results/cpu --out results/cpu_study

Reads only validation numbers from the per-seed files (``seed<N>.json``, ``monitor_seed<N>.csv``)
that ``reproduce.py --all`` wrote, never test numbers, and writes ``variants.md`` / ``.json``:

- every weights x BatchNorm-statistics variant of the final checkpoint on the full validation
  split, per seed, mean and the worst seed, and each variant's mean gain over the paper's
  ``raw/moving`` with a paired sign count over seeds;
- the validation-subset monitor at each checkpoint (raw and averaged weights), to see whether
  accuracy was still rising at the last step (the "more steps" lever).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from lstnet_experiments.report import read_seed_results
from lstnet_tf.files import environment, write_atomically
from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS

BASELINE = "raw/moving"


def variant_table(results: dict[int, dict]) -> dict:
    """Per variant and direction: per-seed validation accuracy, mean, min, gain over
    BASELINE (mean) and on how many seeds the variant beats it."""
    table = {}
    variants = next(iter(results.values()))["validation"]["variants"]
    for variant in variants:
        table[variant] = {}
        for direction in DIRECTIONS:
            values = {s: r["validation"]["variants"][variant][direction] for s, r in results.items()}
            base = {s: r["validation"]["variants"][BASELINE][direction] for s, r in results.items()}
            table[variant][direction] = {
                "per_seed": {str(s): v for s, v in values.items()},
                "mean": statistics.fmean(values.values()),
                "min": min(values.values()),
                "gain_over_baseline": statistics.fmean(values[s] - base[s] for s in values),
                "seeds_better": sum(values[s] > base[s] for s in values),
            }
    return table


def monitor_table(out_dir: Path, seeds) -> dict:
    """Per seed, the monitor CSV's rows (validation subset at each checkpoint)."""
    from lstnet_experiments.plots import read_csv

    return {str(s): {k: [float(x) for x in v] for k, v in read_csv(out_dir / f"monitor_seed{s}.csv").items()}
            for s in seeds if (out_dir / f"monitor_seed{s}.csv").is_file()}


def markdown(table: dict, monitors: dict, source: Path, command: str, seeds: list) -> str:
    lines = [
        f"# Validation study of `{source}`",
        "",
        f"Command: `{command}`. Seeds {seeds}; every number here is on the validation split "
        "(never the test set). Accuracy of the judging classifier (trained with augmentation) on "
        "the translated validation images, final checkpoint.",
        "",
        f"## Evaluation variants (weights / BatchNorm statistics), against `{BASELINE}` (the paper's)",
        "",
        "| variant | direction | per seed | mean | worst seed | mean gain | seeds better |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant, directions in table.items():
        for direction, row in directions.items():
            per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in row["per_seed"].items())
            lines.append(f"| {variant} | {DIRECTION_LABELS[direction]} | {per_seed} | "
                         f"{row['mean']:.4f} | {row['min']:.4f} | "
                         f"{row['gain_over_baseline']:+.4f} | {row['seeds_better']}/{len(seeds)} |")
    lines += ["", "## Validation-subset monitor at each checkpoint", "",
              "Raw weights / averaged weights, moving BatchNorm statistics (the monitor's own "
              "setting), first images of the validation split.", ""]
    for seed, columns in monitors.items():
        lines.append(f"Seed {seed}:")
        lines.append("")
        lines.append("| step | " + " | ".join(c for c in columns if c != "step") + " |")
        lines.append("| --- |" + " --- |" * (len(columns) - 1))
        for i, step in enumerate(columns["step"]):
            lines.append(f"| {int(step)} | " + " | ".join(
                f"{columns[c][i]:.4f}" for c in columns if c != "step") + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results directory with seed<N>.json files")
    parser.add_argument("--out", type=Path, required=True, help="where variants.md/.json go")
    args = parser.parse_args(argv)
    results = read_seed_results(args.results)
    if not results:
        parser.error(f"no seed<N>.json in {args.results}")
    command = "python -m lstnet_experiments.study " + " ".join(
        sys.argv[1:] if argv is None else argv)
    table, monitors = variant_table(results), monitor_table(args.results, results)
    commit = environment()["git_commit"]
    write_atomically(args.out / "variants.json", json.dumps(
        {"command": command, "git_commit": commit, "seeds": list(results), "variants": table,
         "monitor": monitors}, indent=2) + "\n")
    write_atomically(args.out / "variants.md",
                     markdown(table, monitors, args.results, f"{command}` at git `{commit}",
                              list(results)))
    print((args.out / "variants.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
