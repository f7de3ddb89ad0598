"""The table of the VAE transfer (``table.md`` / ``table.json``), rebuilt from every seed file
of a run directory: per task and size, the mean ± sample std over seeds of each seed's
pairing-mean, each seed, each pairing; the size trend (Wilcoxon signed-rank); the settings that
differ from the defaults; the provenance of every seed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np

from lstnet_tf.config import flat_settings
from lstnet_tf.files import write_atomically
from lstnet_tf.vae_transfer import tasks as vt_tasks
from lstnet_tf.vae_transfer.config import BEYOND_THE_PAPER, make_config

# Table 1 of the paper, CNN classifier column (cited, not re-run; its SVHN -> MNIST row needs
# SVHN, which this project does not have).
PAPER = {"mnist-mnist": {500: 0.63, 1000: 0.68, 2000: 0.66, "all": 0.77}}


def read_seed_files(out: Path) -> dict[int, dict]:
    """Every ``seed<N>.json`` in ``out``, by seed."""
    results = {}
    for path in sorted(Path(out).glob("seed*.json")):
        result = json.loads(path.read_text())
        results[int(result["seed"])] = result
    return dict(sorted(results.items()))


def write_table(out: Path) -> dict:
    """``table.md`` / ``table.json`` from every seed file in ``out``: per task and size, the
    mean ± sample std over seeds of each seed's pairing-mean, each seed, each pairing."""
    results = read_seed_files(out)
    if not results:
        return {}
    first = next(iter(results.values()))
    split = first["split"]
    rows = []
    for name, task in vt_tasks.TASKS.items():
        sizes = [s for s in first["cells"].get(name, {})]
        for size in sizes:
            per_seed = {s: r["cells"][name][size]["mean"] for s, r in results.items()
                        if name in r["cells"] and size in r["cells"][name]}
            values = list(per_seed.values())
            key = size if size == "all" else int(size)
            rows.append({
                "task": name, "label": task.label, "size": size,
                "paper": PAPER.get(name, {}).get(key),
                "mean": float(np.mean(values)),
                "std": float(statistics.stdev(values)) if len(values) > 1 else None,
                "seeds": list(per_seed),
                "per_seed": per_seed,
                "per_pairing": {s: [p["accuracy"] for p in results[s]["cells"][name][size]["pairings"]]
                                for s in per_seed},
                "n": results[next(iter(per_seed))]["cells"][name][size]["pairings"][0]["n"],
                "chance": vt_tasks.CHANCE})
    seconds = {s: r["timing_seconds"]["total"] for s, r in results.items()}
    trends = [size_trend(results, name) for name in vt_tasks.TASKS
              if len(first["cells"].get(name, {})) > 1]
    table = {"split": split, "rows": rows, "seeds": list(results), "wall_seconds_per_seed": seconds,
             "trend": trends,
             "figure_pairing_i_plus_5": first.get("figure_pairing_i_plus_5", {}),
             "provenance": {s: r["provenance"] for s, r in results.items()},
             "judge": first["judge"]}
    write_atomically(out / "table.json", json.dumps(table, indent=1, default=str))
    write_atomically(out / "table.md", render_markdown(table))
    return table


def size_trend(results: dict[int, dict], name: str) -> dict:
    """Does accuracy change from the table's smallest size to its largest? The unit is one
    (seed, pairing): a seed trains every size with the same pairings, so its translators pair
    up across sizes. Two-sided Wilcoxon signed-rank test (scipy: exact for these few units
    unless differences tie or vanish) on the differences (largest minus smallest) of every unit
    of every seed."""
    from scipy import stats

    sizes = list(next(iter(results.values()))["cells"][name])
    smallest, largest = sizes[0], sizes[-1]
    differences = [large["accuracy"] - small["accuracy"]
                   for result in results.values()
                   for small, large in zip(result["cells"][name][smallest]["pairings"],
                                           result["cells"][name][largest]["pairings"])]
    p_value = (float(stats.wilcoxon(differences).pvalue)
               if any(differences) else 1.0)
    return {"task": name, "from": smallest, "to": largest, "units": len(differences),
            "mean_difference": float(np.mean(differences)),
            "rises": int(np.sum(np.asarray(differences) > 0)), "p_value": p_value}


def render_markdown(table: dict) -> str:
    split = table["split"]
    lines = [f"# Latent-space VAE transfer: Table 1 ({split} conditionals)", "",
             "Accuracy: the fraction of generated target images whose class, read by the MNIST "
             "judge, is the class paired with the conditional's class. Each seed's value is the "
             "mean over its 3 shuffled pairings; mean ± sample std over seeds. Chance 0.2. "
             "Paper: Table 1, CNN column (cited, not re-run; its SVHN → MNIST row needs SVHN).",
             "", "| task | size | paper | ours (mean ± std) | chance | per seed | per pairing | "
             "conditionals |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in table["rows"]:
        std = f" ± {row['std']:.4f}" if row["std"] is not None else " (one seed)"
        paper = f"{row['paper']:.2f}" if row["paper"] is not None else "—"
        per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in row["per_seed"].items())
        per_pairing = "; ".join(f"{s}: " + " ".join(f"{v:.3f}" for v in vs)
                                for s, vs in row["per_pairing"].items())
        lines.append(f"| {row['label']} | {row['size']} | {paper} | **{row['mean']:.4f}**{std} | "
                     f"{row['chance']:.1f} | {per_seed} | {per_pairing} | {row['n']} |")
    for trend in table.get("trend", []):
        lines += ["", f"Size {trend['from']} → {trend['to']}, {vt_tasks.TASKS[trend['task']].label}: "
                  f"{trend['mean_difference']:+.4f} on average over {trend['units']} (seed, "
                  f"pairing) units, higher in {trend['rises']} of them; Wilcoxon signed-rank "
                  f"p {trend['p_value']:.2g} (two-sided)."]
    figure = table.get("figure_pairing_i_plus_5") or {}
    if figure:
        lines += ["", "The paper's own pairing i → i+5 (all training examples, lowest seed, the "
                  "figures): " + "; ".join(f"{vt_tasks.TASKS[n].label} {r['accuracy']:.4f}"
                                           for n, r in figure.items())]
    overrides = overrides_of(next(iter(table["provenance"].values()))["config"])
    if overrides:
        lines += ["", "Settings that differ from the defaults (the paper's method): "
                  + ", ".join(f"`{key}={value}`" for key, value in overrides.items())
                  + (" — beyond the paper" if overrides.keys() & set(BEYOND_THE_PAPER) else "")
                  + "."]
    judge = table["judge"]
    lines += ["", "## Provenance", "",
              f"Judge: MNIST classifier (lstnet_tf.classifier, seed {judge.get('seed')}, "
              f"MNIST train minus validation), validation accuracy "
              f"{judge.get('validation_accuracy', float('nan')):.4f}"
              + (f", test accuracy {judge['test_accuracy']:.4f}" if "test_accuracy" in judge else "")
              + ".", ""]
    for seed, record in table["provenance"].items():
        env = record["environment"]
        code = record["code"]
        lines.append(f"- seed {seed}: `{record['command']}`; git {code.get('describe')} "
                     f"({code.get('commit')}); {len(code.get('working_tree', []))} changed/"
                     f"untracked paths; {record['lscpu_model']} ({env.get('cpu')}); python "
                     f"{env.get('python')}, TensorFlow {env.get('tensorflow')}, Keras "
                     f"{env.get('keras')}; load average at start {record['load_average_at_start']}; "
                     f"wall time {table['wall_seconds_per_seed'][seed] / 60:.1f} min")
    return "\n".join(lines) + "\n"


def overrides_of(config: dict) -> dict:
    """The settings of a run's config that differ from the defaults."""
    defaults = flat_settings(make_config().to_dict())
    return {key: value for key, value in sorted(flat_settings(config).items())
            if defaults.get(key) != value}

