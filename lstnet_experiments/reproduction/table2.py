"""Table 2 with every column measured: CoGAN, UNIT, DeepJDOT and LSTNet on equal terms.

    python reproduce.py --all --methods cogan unit deepjdot lstnet --preset cpu --seeds 0 1 2 --out results
    python -m lstnet_experiments.reproduction.table2 results --preset cpu     # rebuild only

A results root holds LSTNet's seed files in ``<root>/<preset>/`` and every other method's in
``<root>/methods/<method>/`` (the committed layout). Per row and judge, each column is the
mean ± sample std over the seeds run, and each seed is paired image by image with LSTNet's
same seed on the test set (exact McNemar). The rows are LSTNet's: USPS→MNIST scores the USPS
test images with an MNIST judge; CoGAN and DeepJDOT, which yield a classifier of the
unlabelled domain, are trained for each row with the labels of the domain its judge knows
and scored on the same images. The cited numbers, in the cited papers' own directions and
protocols, stand in their own rows. Writes ``<root>/table2/table2.md`` and ``table2.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from lstnet_experiments.reproduction.report import (JUDGES, PUBLISHED, load_per_image,
                                                    read_seed_results)
from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS
from lstnet_tf.files import write_atomically

# The paper's column order, and each method's name there.
COLUMNS = {"cogan": "CoGAN", "unit": "UNIT", "deepjdot": "DeepJDOT", "lstnet": "LSTNet"}


def results_directory(root: Path, preset: str, method: str) -> Path:
    """Where ``reproduce.py --all --methods`` puts a method's seeds under ``root``."""
    return Path(root) / (preset if method == "lstnet" else f"methods/{method}")


def build(root: Path, preset: str) -> dict:
    """Per method, row and judge: n, mean, std, per seed and the pairing with LSTNet."""
    from lstnet_experiments.studies.compare import paired

    results = {m: read_seed_results(results_directory(root, preset, m)) for m in COLUMNS}
    results = {m: {s: r for s, r in seeds.items() if r["preset"] == preset}
               for m, seeds in results.items()}
    lstnet = results["lstnet"]
    table = {"preset": preset, "root": str(root), "columns": {}, "published_cited": PUBLISHED}
    for method, seeds in results.items():
        if not seeds:
            continue
        column = table["columns"][method] = {}
        for judge in JUDGES:
            judged = {s: r["test"][judge] for s, r in seeds.items() if judge in r["test"]}
            for direction in DIRECTIONS:
                values = {s: t["translator"][direction] for s, t in judged.items()}
                if not values:
                    continue
                against = {}
                for seed in values:
                    if method == "lstnet" or seed not in lstnet:
                        continue
                    mine = load_per_image(results_directory(root, preset, method)
                                          / f"correct_seed{seed}.npz")
                    theirs = load_per_image(results_directory(root, preset, "lstnet")
                                            / f"correct_seed{seed}.npz")
                    against[str(seed)] = paired(theirs["test"][judge][direction],
                                                mine["test"][judge][direction])
                column.setdefault(judge, {})[direction] = {
                    "n": len(values), "mean": statistics.fmean(values.values()),
                    "std": statistics.stdev(values.values()) if len(values) > 1 else None,
                    "per_seed": {str(s): v for s, v in values.items()},
                    "against_lstnet_test": against,
                    "output": seeds[next(iter(seeds))].get("output", "translator"),
                }
    return table


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "not run"
    spread = f" ± {entry['std']:.4f}" if entry["std"] is not None else ""
    return f"{entry['mean']:.4f}{spread} ({entry['n']})"


def markdown(table: dict) -> str:
    names = list(COLUMNS.values())
    lines = [
        f"# Table 2, every column measured (preset `{table['preset']}`)", "",
        "Test accuracy, mean ± sample std (seeds) over the seeds run, every method on LSTNet's "
        "Table 1 networks, data, split and schedule. The rows are LSTNet's: USPS→MNIST scores "
        "the USPS test images with a judge trained on MNIST labels (in domain-adaptation terms: "
        "labelled MNIST → unlabelled USPS); CoGAN and DeepJDOT, which yield their own "
        "classifier, are trained for each row with the labels of the domain its judge knows "
        "and scored on the same images. The cited numbers follow their own papers' directions "
        "and protocols (docs/deviations.md).", ""]
    for judge, description in JUDGES.items():
        lines += [f"## Judged by {description}", "",
                  "| row | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
        for direction in DIRECTIONS:
            cells = [_cell(table["columns"].get(m, {}).get(judge, {}).get(direction))
                     for m in COLUMNS]
            lines.append(f"| {DIRECTION_LABELS[direction]} (measured) | " + " | ".join(cells)
                         + " |")
        for direction in DIRECTIONS:
            cited = table["published_cited"][direction]
            lines.append(f"| {DIRECTION_LABELS[direction]} (cited) | "
                         + " | ".join(f"{cited[c]:.4f}" if c in cited else
                                      f"{cited['LSTNet (paper)']:.4f}" for c in names) + " |")
        lines.append("")
        pairs = [f"{COLUMNS[m]} {DIRECTION_LABELS[d]} seed {s}: {v['difference']:+.4f}, "
                 f"p {v['p_value']:.2g}"
                 for m, column in table["columns"].items() if m != "lstnet"
                 for d, entry in column.get(judge, {}).items()
                 for s, v in entry["against_lstnet_test"].items()]
        if pairs:
            lines += ["Against LSTNet's same seed, test images paired (difference, exact "
                      "McNemar p): " + "; ".join(pairs) + ".", ""]
    return "\n".join(lines)


def write(root: Path, preset: str) -> list[Path]:
    table = build(root, preset)
    if "lstnet" not in table["columns"]:
        from lstnet_experiments.reproduction.report import ResultsError

        raise ResultsError(f"no LSTNet seed of preset {preset} in "
                           f"{results_directory(root, preset, 'lstnet')}: run reproduce.py "
                           "--all --methods ... first")
    out = Path(root) / "table2"
    write_atomically(out / "table2.json", json.dumps(table, indent=2) + "\n")
    write_atomically(out / "table2.md", markdown(table))
    return [out / "table2.md", out / "table2.json"]


def main(argv=None) -> int:
    from lstnet_tf.console import run_reporting_errors

    parser = argparse.ArgumentParser(prog="python -m lstnet_experiments.reproduction.table2",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the results root (e.g. results)")
    parser.add_argument("--preset", default="cpu", help="the preset whose seeds it reads")
    args = parser.parse_args(argv)
    return run_reporting_errors(lambda: print("wrote", *write(args.root, args.preset)) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
