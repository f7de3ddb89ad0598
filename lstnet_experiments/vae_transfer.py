"""Table 1 of the latent-space VAE transfer (``latent_vae_transfer.txt``), reproduced.

    python reproduce.py --experiment vae-transfer --data-dir ../shared/data
    python -m lstnet_experiments.vae_transfer --experiment vae-transfer --seeds 0 1 2

Per seed: the MNIST judge (trained once, cached in --work-dir), one unconditional VAE per
domain (MNIST{0-4}, MNIST{5-9}, USPS{0-4}; cached), then for each task, training-set size and
class pairing (3 shuffled bijections per seed) a latent translator, scored on the images
generated from every conditional of the evaluation split: correct when the judge reads the
paired class. The test split is read once per seed, after training; ``--split validation``
scores on the validation split carved from training data instead (the validation study) and
never reads a test set. Writes ``seed<N>.json`` per seed, then ``table.md`` / ``table.json``
from every seed file in --out, and (lowest seed) the figure per task: conditionals (their VAE
reconstructions) at the bottom, generated digits on top, for the paper's pairing i -> i+5.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lstnet_tf.config import ConfigError
from lstnet_tf.vae_transfer import tasks as vt_tasks
from lstnet_tf.vae_transfer.config import (BEYOND_THE_PAPER, make_config, merge_nested,
                                             parse_assignment)

EXPERIMENTS = ("vae-transfer",)
ROOT = Path(__file__).resolve().parent.parent
# Table 1 of the paper, CNN classifier column (cited, not re-run; its SVHN -> MNIST row needs
# SVHN, which this project does not have).
PAPER = {"mnist-mnist": {500: 0.63, 1000: 0.68, 2000: 0.66, "all": 0.77}}
JUDGE_SEED = 0
JUDGE_MINIMUM = 0.99
FIGURE_PAIRING = {i: i + 5 for i in vt_tasks.SOURCE_CLASSES}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="reproduce.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", choices=EXPERIMENTS, required=True,
                        help="the experiment to run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="SEED")
    parser.add_argument("--tasks", nargs="+", choices=list(vt_tasks.TASKS),
                        default=list(vt_tasks.TASKS))
    parser.add_argument("--sizes", nargs="+", default=[str(s) for s in vt_tasks.SIZES],
                        metavar="N", help="labelled training examples per domain (multiples "
                                          "of 5) or 'all'; default: 500 1000 2000 all")
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="what the translations are scored on: the test sets (reported "
                             "numbers, read once per seed) or the validation split (choices)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="assignments", help="override a config field, e.g. "
                                                 "translator.steps=3000 (repeatable)")
    parser.add_argument("--no-figure", action="store_true", help="skip the i -> i+5 figure")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/vae_transfer (test) or "
                             "results/vae_transfer/validation/<overrides> (validation)")
    parser.add_argument("--work-dir", type=Path, default=Path("runs") / "vae_transfer",
                        help="cached judge and VAEs (default: runs/vae_transfer)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        parser.error(f"--seeds must be distinct non-negative integers, got {args.seeds}")
    try:
        args.sizes = [vt_tasks.parse_size(s) for s in args.sizes]
    except ValueError as error:
        parser.error(f"--sizes: {error}")
    if len(set(map(str, args.sizes))) != len(args.sizes):
        parser.error(f"--sizes must be distinct, got {args.sizes}")
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a directory")
    overrides: dict = {}
    try:
        for text in args.assignments:
            overrides = merge_nested(overrides, parse_assignment(text))
        args.config = make_config(overrides)
    except ConfigError as error:
        parser.error(str(error))
    if args.out is None:
        label = "_".join(sorted(a.replace("=", "-") for a in args.assignments)) or "defaults"
        args.out = (Path("results") / "vae_transfer" if args.split == "test"
                    else Path("results") / "vae_transfer" / "validation" / label)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a directory")
    return args


# ---------------------------------------------------------------------------- provenance

def code_state() -> dict:
    """The git commit and what of the working tree differs from it (tracked changes and
    untracked files under the experiment's code), so a result says honestly what ran."""
    def git(*command):
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--", "lstnet_tf", "lstnet_experiments",
                      "reproduce.py", "tests").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown (not a git checkout)", "working_tree": []}
    return {"commit": commit, "describe": commit[:7] + ("-dirty" if changed else ""),
            "working_tree": changed}


def lscpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def provenance(args, environment: dict, load_at_start: list) -> dict:
    return {"command": " ".join(["python reproduce.py"] + list(args.argv)),
            "code": code_state(), "environment": environment, "lscpu_model": lscpu_model(),
            "load_average_at_start": load_at_start,
            "config": args.config.to_dict(), "split": args.split,
            "tasks": args.tasks, "sizes": [str(s) for s in args.sizes]}


def definition_version() -> str:
    """A fingerprint of the code that defines and trains a VAE (part of its cache key): every
    function and class a VAE's training runs, and nothing of the translator's, so that a
    translator change does not retrain the VAEs. A new VAE helper must be listed here."""
    from lstnet_tf.vae_transfer import models, training

    parts = (models.kl_divergence, models.sample_code, models.reconstruction_cost,
             models.vae_loss, models._conv_block, models.build_encoder, models.build_decoder,
             models.Vae, training.train_vae, training._epochs)
    source = "".join(inspect.getsource(part) for part in parts) + f"{models.DECODER_GRID}"
    return hashlib.sha256(source.encode()).hexdigest()[:10]


# ---------------------------------------------------------------------------- stages

class Experiment:
    def __init__(self, args):
        from lstnet_tf import data
        from lstnet_tf.files import environment
        from lstnet_tf.vae_transfer.training import set_precision

        self.args, self.config = args, args.config
        self.work, self.out = Path(args.work_dir), Path(args.out)
        self.download = False if args.no_download else None
        self.verbose = 0 if args.quiet else 2
        set_precision(self.config.precision)
        self.environment = environment()
        self.splits = data.load_splits(self.config.data, args.data_dir, self.download)
        self._judge = None

    def log(self, text: str) -> None:
        print(text, flush=True)

    def judge(self):
        """The MNIST judge: the project's classifier on MNIST train minus validation, seed 0,
        one for every cell (lstnet_tf.classifier, cached)."""
        if self._judge is None:
            from lstnet_tf.classifier import load_or_train_classifier

            d = self.config.data
            self._judge = load_or_train_classifier(
                "mnist", self.splits["train"]["mnist"], self.splits["validation"]["mnist"],
                self.config.judge, JUDGE_SEED, self.work / "classifiers", verbose=self.verbose,
                data_key=f"-val{d.validation_fraction:g}s{d.validation_seed}")
        return self._judge

    def vae(self, domain: vt_tasks.Domain, seed: int, subset: np.ndarray | None = None):
        """The domain's VAE for ``seed``, trained on every training image of its classes, or
        on those at the indices ``subset`` (cached by config, data split, code fingerprint,
        seed and subset)."""
        from lstnet_tf.vae_transfer.models import Vae
        from lstnet_tf.vae_transfer.training import train_vae

        settings = json.dumps([self.config.vae.__dict__, self.config.data.__dict__,
                               self.config.precision], sort_keys=True)
        key = hashlib.sha256(settings.encode()).hexdigest()[:10]
        images, _ = vt_tasks.domain_images(self.splits["train"][domain.dataset], domain)
        name = domain.key
        if subset is not None:
            images = images[subset]
            name += f"-n{len(subset)}-{hashlib.sha256(subset.tobytes()).hexdigest()[:8]}"
        path = self.work / "vaes" / f"{name}-seed{seed}-{key}-def{definition_version()}"
        if (path / "vae.weights.h5").is_file():
            vae = Vae(images.shape[1], self.config.vae, name=f"vae_{domain.key}")
            vae(images[:2])
            vae.load_weights(path / "vae.weights.h5")
            info = json.loads((path / "info.json").read_text())
            self.log(f"  VAE {name} seed {seed}: cached ({path})")
            return vae, info
        start = time.time()
        vae, losses = train_vae(images, self.config.vae, seed=domain.vae_seed(seed),
                                name=f"vae_{domain.key}", verbose=self.verbose)
        info = {"losses": losses, "images": len(images), "seconds": round(time.time() - start, 1)}
        path.mkdir(parents=True, exist_ok=True)
        vae.save_weights(path / "vae.weights.h5")
        (path / "info.json").write_text(json.dumps(info))
        self.log(f"  VAE {name} seed {seed}: {len(images)} images, {info['seconds']:.0f} s, "
                 f"final losses {_fmt(losses)}")
        return vae, info

    def run_seed(self, seed: int) -> dict:
        from lstnet_tf import data
        from lstnet_tf.classifier import accuracy, predict_labels
        from lstnet_tf.vae_transfer.training import encode, generate, train_translator

        config, started = self.config, time.time()
        timings: dict = {}
        judge, judge_validation = self.judge()
        domains = {}
        for name in self.args.tasks:
            task = vt_tasks.TASKS[name]
            for domain in (task.source, task.target):
                domains.setdefault(domain.key, domain)
        # Every VAE and the codes of the images the translators may draw from, per domain and
        # size, trained before the evaluation split is read: by default one VAE per domain on
        # every training image; under ``vaes_trained_on_subset`` one per size other than "all",
        # on that size's N images (the full-data VAEs only for "all" and the figure).
        sizes = set(self.args.sizes) | ({vt_tasks.ALL} if not self.args.no_figure else set())
        vaes, stages = {}, {}
        t = time.time()
        for key, domain in domains.items():
            images, labels = vt_tasks.domain_images(self.splits["train"][domain.dataset], domain)
            for size in sizes:
                subset = config.vaes_trained_on_subset and size != vt_tasks.ALL
                picked = vt_tasks.vae_subset(labels, size, seed, domain) if subset else slice(None)
                name = f"{key}-n{size}" if subset else key
                if name not in vaes:
                    vaes[name] = self.vae(domain, seed, picked if subset else None)
                    stages[name] = (vaes[name][0],
                                    (*encode(vaes[name][0], images[picked]), labels[picked]))
                stages[key, size] = stages[name]
        timings["vaes"] = round(time.time() - t, 1)
        # The evaluation split, read here: for "test", once for this seed.
        evaluation = (data.load_test(self.args.data_dir, self.download)
                      if self.args.split == "test" else self.splits["validation"])
        judge_record = {"validation_accuracy": judge_validation, "seed": JUDGE_SEED}
        if self.args.split == "test":  # the issue asks for a judge of at least 0.99 on test
            judge_record["test_accuracy"] = accuracy(judge, *evaluation["mnist"])
            if judge_record["test_accuracy"] < JUDGE_MINIMUM:
                self.log(f"warning: the judge's MNIST test accuracy "
                         f"{judge_record['test_accuracy']:.4f} is below {JUDGE_MINIMUM}")

        pairings = vt_tasks.shuffled_pairings(config.pairings, seed)
        cells, figures = {}, {}
        t = time.time()
        for name in self.args.tasks:
            task = vt_tasks.TASKS[name]
            x_eval, y_eval = vt_tasks.domain_images(evaluation[task.source.dataset], task.source)
            eval_codes: dict = {}  # the conditionals' codes, per source VAE

            def score(pairing: dict, size, salt: int):
                source_vae, (mu_1, log_var_1, y_1) = stages[task.source.key, size]
                target_vae, (mu_2, log_var_2, y_2) = stages[task.target.key, size]
                if id(source_vae) not in eval_codes:
                    eval_codes[id(source_vae)] = encode(source_vae, x_eval)[0]
                mu_eval = eval_codes[id(source_vae)]
                # Under vaes_trained_on_subset the pool already is the size's N images.
                drawn = vt_tasks.ALL if config.vaes_trained_on_subset else size
                rng = np.random.default_rng([seed, salt, 7])
                s = vt_tasks.labelled_subset(y_1, drawn, rng)
                r = vt_tasks.labelled_subset(y_2, drawn, rng)
                translator, losses = train_translator(
                    (mu_1[s], log_var_1[s]), y_1[s], (mu_2[r], log_var_2[r]), y_2[r],
                    vt_tasks.pairing_table(pairing), config.translator,
                    config.vae.sigma_scale, seed=100_000 * seed + salt)
                generated = generate(translator, target_vae, mu_eval, seed=seed)
                predicted = predict_labels(judge, generated)
                correct = vt_tasks.paired_correct(predicted, y_eval, pairing)
                return source_vae, mu_eval, generated, predicted, {
                    "pairing": {str(k): v for k, v in pairing.items()},
                    "accuracy": float(np.mean(correct)), "n": int(len(y_eval)),
                    "per_class": {str(c): float(np.mean(correct[y_eval == c]))
                                  for c in vt_tasks.SOURCE_CLASSES},
                    "final_losses": losses}

            cells[name] = {}
            for size in self.args.sizes:
                rows = []
                for k, pairing in enumerate(pairings):
                    cell_start = time.time()
                    *_, row = score(pairing, size, salt=vt_tasks.cell_salt(size, k))
                    rows.append(row)
                    self.log(f"  seed {seed} {name} size {size} pairing {k} "
                             f"{_pairing_text(pairing)}: accuracy {row['accuracy']:.4f} "
                             f"({time.time() - cell_start:.0f} s; losses {_fmt(row['final_losses'])})")
                cells[name][str(size)] = {"pairings": rows,
                                          "mean": float(np.mean([r["accuracy"] for r in rows]))}
            if not self.args.no_figure and seed == min(self.args.seeds):
                source_vae, mu_eval, generated, predicted, row = score(
                    FIGURE_PAIRING, vt_tasks.ALL, salt=vt_tasks.FIGURE_SALT)
                self.log(f"  seed {seed} {name} size all, paper's pairing i -> i+5: accuracy "
                         f"{row['accuracy']:.4f}")
                figures[name] = row
                from lstnet_experiments.vae_transfer_plots import transfer_figure
                from lstnet_tf.vae_transfer.training import decode

                picked = _figure_examples(y_eval)
                transfer_figure(decode(source_vae, mu_eval[picked]), generated[picked],
                                y_eval[picked], predicted[picked], FIGURE_PAIRING,
                                f"{task.label}, pairing i → i+5, all training examples, seed "
                                f"{seed} ({self.args.split} conditionals)",
                                self.out / f"figure_{name}.png")
        timings["translators_and_scoring"] = round(time.time() - t, 1)
        timings["total"] = round(time.time() - started, 1)
        return {"seed": seed, "split": self.args.split, "pairings": [
                    {str(k): v for k, v in p.items()} for p in pairings],
                "cells": cells, "figure_pairing_i_plus_5": figures,
                "judge": judge_record,
                "vaes": {name: info for name, (_, info) in vaes.items()},
                "timing_seconds": timings,
                "load_average_at_end": _load_average()}


def _load_average() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def _pairing_text(pairing: dict) -> str:
    return " ".join(f"{i}→{j}" for i, j in pairing.items())


def _fmt(losses: dict) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in losses.items())


def _figure_examples(labels: np.ndarray, per_class: int = 2, blocks: int = 3) -> np.ndarray:
    """Indices of the first ``per_class * blocks`` conditionals of each source class, laid out
    block by block (each block: ``per_class`` columns per class)."""
    firsts = {c: np.flatnonzero(labels == c)[:per_class * blocks] for c in vt_tasks.SOURCE_CLASSES}
    return np.array([firsts[c][b * per_class + k] for b in range(blocks)
                     for c in vt_tasks.SOURCE_CLASSES for k in range(per_class)])


# ---------------------------------------------------------------------------- table

def read_seed_files(out: Path) -> dict[int, dict]:
    results = {}
    for path in sorted(Path(out).glob("seed*.json")):
        result = json.loads(path.read_text())
        results[int(result["seed"])] = result
    return dict(sorted(results.items()))


def write_table(out: Path) -> dict:
    """``table.md`` / ``table.json`` from every seed file in ``out``: per task and size, the
    mean ± sample std over seeds of each seed's pairing-mean, each seed, each pairing."""
    from lstnet_tf.files import write_atomically

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
    from lstnet_tf.config import flat_settings

    defaults = flat_settings(make_config().to_dict())
    return {key: value for key, value in sorted(flat_settings(config).items())
            if defaults.get(key) != value}


# ---------------------------------------------------------------------------- command

def run(args) -> int:
    from lstnet_tf.files import write_atomically

    out = Path(args.out)
    done = read_seed_files(out)
    for seed, result in done.items():
        from lstnet_tf.config import settings_that_differ

        if settings_that_differ(result["provenance"]["config"], args.config.to_dict()) or \
                result["split"] != args.split:
            raise _error(f"{out} holds seed files of another configuration or split; pass "
                         "--out to write this one elsewhere")
    seeds = [s for s in args.seeds if s not in done]
    if done.keys() & set(args.seeds):
        print(f"Seeds {sorted(done.keys() & set(args.seeds))} already in {out} (their "
              f"{args.split} split was read): kept.")
    started = time.time()
    print(f"VAE transfer: tasks {args.tasks}, sizes {args.sizes}, seeds {seeds}, "
          f"{args.config.pairings} pairings, scored on {args.split}; writing {out}", flush=True)
    experiment = Experiment(args) if seeds else None
    for seed in seeds:
        if (out / f"seed{seed}.json").exists():  # written meanwhile by a parallel run
            print(f"Seed {seed} appeared in {out} meanwhile: kept, not trained again.")
            continue
        seed_start, load_at_start = time.time(), _load_average()
        result = experiment.run_seed(seed)
        result["provenance"] = provenance(args, experiment.environment, load_at_start)
        write_atomically(out / f"seed{seed}.json", json.dumps(result, indent=1, default=str))
        print(f"seed {seed}: {(time.time() - seed_start) / 60:.1f} min; wrote "
              f"{out / f'seed{seed}.json'}", flush=True)
        write_table(out)
    table = write_table(out)
    print(f"\n{(time.time() - started) / 60:.1f} min this run.")
    if table:
        print((out / "table.md").read_text().split("## Provenance")[0])
    return 0


def _error(message: str):
    from lstnet_tf.console import UserFacingError

    return UserFacingError(message)


def main(argv=None) -> int:
    from lstnet_tf.console import hide_tensorflow_logs, run_reporting_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    hide_tensorflow_logs("--verbose" in argv)
    args = parse_args(argv)
    args.argv = argv
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
