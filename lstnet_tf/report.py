"""Table 2 (markdown, CSV, JSON) with provenance, written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from lstnet_tf.evaluate import DIRECTION_LABELS, DIRECTIONS

# Table 2 of the paper (published numbers, cited, not re-run here).
PUBLISHED = {
    "usps_to_mnist": {"CoGAN": 0.9315, "UNIT": 0.9358, "DeepJDOT": 0.964, "LSTNet (paper)": 0.9701},
    "mnist_to_usps": {"CoGAN": 0.9565, "UNIT": 0.9597, "DeepJDOT": 0.957, "LSTNet (paper)": 0.9761},
}
PAPER_CLASSIFIER_ACCURACY = {"mnist": 0.9941, "usps": 0.9751}
# Classifier that scores each direction: the target domain's.
SCORING_CLASSIFIER = {"usps_to_mnist": "mnist", "mnist_to_usps": "usps"}
CSV_COLUMNS = ("direction", "CoGAN", "UNIT", "DeepJDOT", "LSTNet (paper)",
               "source-only (ours)", "LSTNet (ours) mean", "LSTNet (ours) std",
               "LSTNet (ours) per seed", "classifier (ours)", "classifier (paper)")


def _cpu_description() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()} logical CPUs"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x {os.cpu_count()} logical CPUs"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def environment() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpu": _cpu_description(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")] or "none",
        "git_commit": _git_commit(),
    }


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def build_table(per_seed: dict, source_only: dict, classifier_accuracy: dict) -> list[dict]:
    """Rows of Table 2. ``per_seed[seed][direction]``; the others are keyed by the first seed's
    values (source-only and classifier accuracies are averaged over seeds by the caller)."""
    rows = []
    for direction in DIRECTIONS:
        values = [per_seed[seed][direction] for seed in sorted(per_seed)]
        mean, std = _mean_std(values)
        domain = SCORING_CLASSIFIER[direction]
        rows.append({
            "direction": DIRECTION_LABELS[direction],
            **PUBLISHED[direction],
            "source-only (ours)": source_only[direction],
            "LSTNet (ours) mean": mean,
            "LSTNet (ours) std": std,
            "LSTNet (ours) per seed": {str(s): per_seed[s][direction] for s in sorted(per_seed)},
            "classifier (ours)": classifier_accuracy[domain],
            "classifier (paper)": PAPER_CLASSIFIER_ACCURACY[domain],
        })
    return rows


def table_markdown(rows: list[dict], provenance: dict) -> str:
    seeds = provenance["seeds"]
    lines = [
        f"# Table 2 — preset `{provenance['preset']}`",
        "",
        "Accuracy of the target-domain classifier on the translated test set (USPS: standard "
        "7291/2007 split at 16×16). CoGAN, UNIT, DeepJDOT and LSTNet (paper) are the published "
        "numbers (Table 2 of the paper, cited, not re-run). Ours: the final checkpoint of each run, "
        f"mean ± std over {len(seeds)} seed(s) {seeds}.",
        "",
        "| direction | CoGAN | UNIT | DeepJDOT | LSTNet (paper) | source-only (ours) | "
        "LSTNet (ours) | per seed | classifier (ours / paper) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in r["LSTNet (ours) per seed"].items())
        lines.append(
            f"| {r['direction']} | {r['CoGAN']:.4f} | {r['UNIT']:.4f} | {r['DeepJDOT']:.4f} | "
            f"{r['LSTNet (paper)']:.4f} | {r['source-only (ours)']:.4f} | "
            f"**{r['LSTNet (ours) mean']:.4f} ± {r['LSTNet (ours) std']:.4f}** | {per_seed} | "
            f"{r['classifier (ours)']:.4f} / {r['classifier (paper)']:.4f} |"
        )
    lines += ["", "## Provenance", "", "```json", json.dumps(provenance, indent=2), "```", ""]
    return "\n".join(lines)


def table_csv(rows: list[dict], provenance: dict) -> str:
    out = io.StringIO()
    for key in ("command", "preset", "seeds", "steps", "git_commit"):
        value = provenance.get(key, provenance["environment"].get(key))
        out.write(f"# {key}: {json.dumps(value)}\n")
    out.write("# full provenance and resolved config: table2.json\n")
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "LSTNet (ours) per seed": json.dumps(r["LSTNet (ours) per seed"])})
    return out.getvalue()


def write_atomically(path: Path, data: str | bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def write_table2(out_dir: Path, rows: list[dict], provenance: dict) -> list[Path]:
    out_dir = Path(out_dir)
    files = {
        "table2.md": table_markdown(rows, provenance),
        "table2.csv": table_csv(rows, provenance),
        "table2.json": json.dumps({"rows": rows, "provenance": provenance}, indent=2) + "\n",
    }
    for name, text in files.items():
        write_atomically(out_dir / name, text)
    return [out_dir / name for name in files]
