"""The validation study of results directories: which evaluation variant, which settings, and
was training done?

    python -m lstnet_experiments.studies.study results/cpu --out results/cpu_study
    python -m lstnet_experiments.studies.study results/cpu_3500_float32 results/cpu --out results/cpu_study

Reads only validation numbers from the per-seed files (``seed<N>.json``, ``monitor_seed<N>.csv``)
that ``reproduce.py --all`` wrote, never test numbers, and writes ``variants.md`` / ``.json``:

- every weights x BatchNorm-statistics variant of the final checkpoint on the full validation
  split, per seed, mean and the worst seed, and each variant's mean gain over the paper's
  ``raw/moving`` with a paired sign count over seeds;
- the validation-subset monitor at each checkpoint (raw and averaged weights), to see whether
  accuracy was still rising at the last step (the "more steps" lever);
- with several directories (one configuration each), the settings in which each differs from
  the first, its evaluated variant per seed, and its paired gain over the first on the seeds
  both ran (the lever study).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from lstnet_experiments.reproduction.report import read_seed_results
from lstnet_tf.config import settings_that_differ, with_defaults
from lstnet_tf.console import run_command
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
    from lstnet_experiments.reproduction.plots import read_csv

    return {str(s): {k: [float(x) for x in v] for k, v in read_csv(out_dir / f"monitor_seed{s}.csv").items()}
            for s in seeds if (out_dir / f"monitor_seed{s}.csv").is_file()}


def evaluated_accuracy(result: dict) -> dict:
    """A seed's full-validation accuracy of the variant its config evaluates."""
    return result["validation"]["variants"][result["evaluated"]]


def settings_table(studied: dict[Path, dict[int, dict]]) -> list[dict]:
    """Per results directory: its settings that differ from the first directory's, and per
    direction its evaluated variant per seed, mean, worst seed and mean paired gain over the
    first directory on the seeds both have (with how many of them it beats)."""
    (reference_dir, reference), rows = next(iter(studied.items())), []
    reference_config = with_defaults(next(iter(reference.values()))["provenance"]["config"])
    for directory, results in studied.items():
        config = with_defaults(next(iter(results.values()))["provenance"]["config"])
        row = {"results": str(directory),
               "differs_in": settings_that_differ(reference_config, config),
               "evaluated": next(iter(results.values()))["evaluated"],
               "steps": next(iter(results.values())).get("step"),
               "seconds_per_step": {str(s): r["timing"]["seconds_per_step"]
                                    for s, r in results.items()},
               "precision": {str(s): r.get("precision", {}).get("precision", "float32")
                             for s, r in results.items()},
               "directions": {}}
        common = sorted(set(results) & set(reference)) if directory != reference_dir else []
        for direction in DIRECTIONS:
            values = {s: evaluated_accuracy(r)[direction] for s, r in results.items()}
            gains = [values[s] - evaluated_accuracy(reference[s])[direction] for s in common]
            row["directions"][direction] = {
                "per_seed": {str(s): v for s, v in values.items()},
                "mean": statistics.fmean(values.values()), "min": min(values.values()),
                "paired_gain": statistics.fmean(gains) if gains else None,
                "seeds_better": f"{sum(g > 0 for g in gains)}/{len(gains)}" if gains else None}
        rows.append(row)
    return rows


def settings_markdown(rows: list[dict]) -> list[str]:
    lines = ["## Settings compared (final checkpoint, each configuration's evaluated variant)",
             "",
             f"Paired gain: mean over the seeds both ran of the difference to `{rows[0]['results']}`.",
             "",
             "| results | differs from the first in | steps | precision | s / step | direction | "
             "per seed | mean | worst seed | paired gain | seeds better |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        differs = ", ".join(f"`{k}`" for k in row["differs_in"]) or "(reference)"
        precision = ", ".join(sorted(set(row["precision"].values())))
        speed = ", ".join(f"{v:.3f}" for v in row["seconds_per_step"].values() if v)
        for direction, d in row["directions"].items():
            gain = "-" if d["paired_gain"] is None else f"{d['paired_gain']:+.4f}"
            better = d["seeds_better"] or "-"
            per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in d["per_seed"].items())
            lines.append(f"| `{row['results']}` | {differs} | {row['steps']} | {precision} | "
                         f"{speed} | {DIRECTION_LABELS[direction]} | {per_seed} | "
                         f"{d['mean']:.4f} | {d['min']:.4f} | {gain} | {better} |")
    return lines + [""]


def markdown(table: dict, monitors: dict, source: Path, command: str, seeds: list,
             header: bool = True) -> str:
    lines = [
        f"# Validation study of `{source}`",
        "",
        f"Command: `{command}`. Seeds {seeds}; every number here is on the validation split "
        "(never the test set). Accuracy of the judging classifier (trained with augmentation) on "
        "the translated validation images, final checkpoint.",
        "",
    ] if header else [f"## `{source}`, seeds {seeds}", ""]
    sub = "##" if header else "###"
    lines += [
        f"{sub} Evaluation variants (weights / BatchNorm statistics), against `{BASELINE}` (the paper's)",
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
    lines += ["", f"{sub} Validation-subset monitor at each checkpoint", "",
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+",
                        help="results directories with seed<N>.json files, one configuration "
                             "each; the first is the reference of the settings comparison")
    parser.add_argument("--out", type=Path, required=True, help="where variants.md/.json go")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    for directory in args.results:
        if not sorted(directory.glob("seed*.json")):
            parser.error(f"no seed<N>.json in {directory}")
    args.command = "python -m lstnet_experiments.studies.study " + " ".join(
        sys.argv[1:] if argv is None else argv)
    return args


def run(args) -> int:
    studied = {directory: read_seed_results(directory) for directory in args.results}
    command = args.command
    commit = environment()["git_commit"]
    sections, saved = [], {"command": command, "git_commit": commit, "results": {}}
    for directory, results in studied.items():
        table, monitors = variant_table(results), monitor_table(directory, results)
        saved["results"][str(directory)] = {"seeds": list(results), "variants": table,
                                            "monitor": monitors}
        sections.append(markdown(table, monitors, directory, f"{command}` at git `{commit}",
                                 list(results), header=len(studied) == 1))
    if len(studied) > 1:
        rows = settings_table(studied)
        saved["settings"] = rows
        sections.insert(0, "\n".join([
            f"# Validation study of {', '.join(f'`{d}`' for d in studied)}", "",
            f"Command: `{command}` at git `{commit}`. Every number here is on the validation "
            "split (never the test set): accuracy of the judging classifier (trained with "
            "augmentation) on the translated validation images.", "",
            *settings_markdown(rows)]))
    write_atomically(args.out / "variants.json", json.dumps(saved, indent=2) + "\n")
    write_atomically(args.out / "variants.md", "\n".join(sections))
    print((args.out / "variants.md").read_text())
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
