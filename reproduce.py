#!/usr/bin/env python
"""Regenerates Table 2 of the LSTNet paper (ESANN 2020) and its figures.

    python reproduce.py --all                      # preset chosen for this machine
    python reproduce.py --all --preset cpu --seeds 0 1 2
    python reproduce.py --summary --preset paper   # Table 1 networks, keras summaries

Steps of --all, per seed: train (or load cached) MNIST and USPS classifiers, train LSTNet
(resuming from the last checkpoint in --work-dir if a run was interrupted), evaluate the
final checkpoint in both directions, then write Table 2 and the figures to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from lstnet_tf.config import PRECISIONS, ConfigError, available_presets, load_config  # noqa: E402


def parse_args(argv=None):
    presets = available_presets()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--all", action="store_true",
                        help="classifiers, LSTNet training, evaluation, Table 2 and figures")
    action.add_argument("--summary", action="store_true",
                        help="print keras.Model.summary() of every Table 1 network and exit")
    parser.add_argument("--preset", choices=presets, default=None,
                        help=f"configuration preset from configs/ ({', '.join(presets)}); "
                             "default: 'paper' when TensorFlow sees a GPU, else 'cpu'")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="one LSTNet run (and classifier pair) per seed; several seeds give "
                             "mean ± std (default: 0)")
    parser.add_argument("--steps", type=int, default=None,
                        help="override the preset's number of LSTNet training steps (a multiple "
                             "of its checkpoint interval)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="override the preset's compute precision (auto: mixed_float16 on "
                             "a GPU, float32 on a CPU)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory holding mnist/ and usps/ data files (else "
                             "$LSTNET_DATA_DIR, then the per-user cache; see README)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download missing data (same as LSTNET_NO_DOWNLOAD=1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where tables and figures go (default: results/<preset>)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="checkpoints, logs and cached classifiers (default: runs/<preset>)")
    parser.add_argument("--quiet", action="store_true",
                        help="one progress line per epoch instead of live progress bars "
                             "(automatic when the output is not a terminal)")
    args = parser.parse_args(argv)

    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        parser.error(f"--seeds must be distinct non-negative integers, got {args.seeds}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a directory")
    for flag in ("out", "work_dir"):
        path = getattr(args, flag)
        if path is not None and path.exists() and not path.is_dir():
            parser.error(f"--{flag.replace('_', '-')} {path} exists and is not a directory")
    args.preset_reason = "chosen with --preset"
    if args.preset is None:
        args.preset, args.preset_reason = _default_preset()
    train_overrides = {}
    if args.steps is not None:
        every = load_config(args.preset).train.checkpoint_every
        train_overrides.update(steps=args.steps, checkpoint_every=min(every, args.steps))
    if args.precision is not None:
        train_overrides["precision"] = args.precision
    overrides = {"train": train_overrides} if train_overrides else {}
    try:
        args.config = load_config(args.preset, overrides)
    except ConfigError as error:
        parser.error(str(error))
    return args


def _default_preset() -> tuple[str, str]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "paper", f"TensorFlow sees {len(gpus)} GPU(s)"
    return "cpu", "TensorFlow sees no GPU, so the reduced CPU preset"


@contextlib.contextmanager
def _phase(timings: dict, name: str):
    """Announces a phase and records its wall time in ``timings``."""
    print(f"\n== {name} ==", flush=True)
    start = time.time()
    yield
    timings[name] = round(time.time() - start, 1)
    print(f"== {name}: {timings[name]:.0f} s ==", flush=True)


def run_all(args) -> int:
    import numpy as np

    from lstnet_tf import data
    from lstnet_tf.classifier import load_or_train_classifiers
    from lstnet_tf.evaluate import evaluate_lstnet, evaluate_source_only
    from lstnet_tf.report import build_table, environment, write_table2
    from lstnet_tf.training import train_lstnet

    config = args.config
    out = args.out or ROOT / "results" / config.preset
    work = args.work_dir or ROOT / "runs" / config.preset
    download = False if args.no_download else None
    # Live progress bars on a terminal; one line per epoch in a log file or with --quiet.
    verbose = 1 if sys.stdout.isatty() and not args.quiet else 2
    estimate_min = config.estimated_seconds_per_step_cpu * config.train.steps * len(args.seeds) / 60
    print(f"Preset '{config.preset}' ({args.preset_reason}): {config.description}")
    print(f"Seeds {args.seeds}, {config.train.steps} LSTNet steps each, width "
          f"{config.model.width}, precision {config.train.precision}.")
    print(f"Estimated run time on the reference 2-core CPU: ~{estimate_min:.0f} min "
          f"(plus the classifiers); tables and figures go to {out}, checkpoints to {work}.",
          flush=True)

    timings: dict = {}
    started = time.time()
    with _phase(timings, "load data"):
        sets = data.load_all(args.data_dir, download)
        for split, domains in sets.items():
            print(f"{split}: " + ", ".join(f"{d} {x.shape}" for d, (x, _) in domains.items()))

    per_seed, source_only, classifier_acc, monitor_csvs = {}, {}, {}, {}
    for seed in args.seeds:
        seed_dir = work / f"seed{seed}"
        with _phase(timings, f"seed {seed}: classifiers"):
            classifiers, accuracies = load_or_train_classifiers(
                sets, config.classifier, seed, work / "classifiers", verbose)
            classifier_acc[seed] = accuracies
            source_only[seed] = evaluate_source_only(classifiers, sets["test"])
            print(f"classifier test accuracy {accuracies}; source-only {source_only[seed]}")

        def monitor(model, classifiers=classifiers):
            return evaluate_lstnet(model, classifiers, sets["test"],
                                   limit=config.train.monitor_samples)

        def dataset_fn(start_step, seed=seed):
            return data.paired_dataset(sets["train"]["mnist"][0], sets["train"]["usps"][0],
                                       batch_size=config.train.batch_size, seed=seed,
                                       augment=config.train.augment, start_step=start_step)

        with _phase(timings, f"seed {seed}: LSTNet training"):
            model = train_lstnet(config, dataset_fn, seed_dir, seed, monitor=monitor,
                                 verbose=verbose)
        with _phase(timings, f"seed {seed}: evaluation"):
            per_seed[seed] = evaluate_lstnet(model, classifiers, sets["test"])
            print(f"LSTNet (final checkpoint, step {model.step}): {per_seed[seed]}")
        monitor_csvs[seed] = seed_dir / "monitor.csv"
        if seed == args.seeds[0]:
            first = (model, classifiers)

    with _phase(timings, "figures"):
        _write_figures(first, sets["test"], out, work, args.seeds, monitor_csvs, config.preset)
    with _phase(timings, "tables"):  # last, so that it records every phase before it
        def seed_mean(values: dict) -> dict:
            return {k: float(np.mean([v[k] for v in values.values()]))
                    for k in next(iter(values.values()))}

        provenance = {
            "command": "python " + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "preset": config.preset,
            "seeds": args.seeds,
            "steps": config.train.steps,
            "config": config.to_dict(),
            "environment": environment(),
            "classifier_test_accuracy_per_seed": {str(s): v for s, v in classifier_acc.items()},
            "source_only_per_seed": {str(s): v for s, v in source_only.items()},
            "usps_split": "standard 7291 train / 2007 test, native 16x16",
            "wall_time_seconds": timings,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        rows = build_table(per_seed, seed_mean(source_only), seed_mean(classifier_acc))
        write_table2(out, rows, provenance)
    total = time.time() - started
    print(f"\nTable 2 ({config.preset}, seeds {args.seeds}, {total / 60:.1f} min):")
    print((out / "table2.md").read_text().split("## Provenance")[0])
    print(f"Files in {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def _write_figures(first, test_sets, out, work, seeds, monitor_csvs, preset):
    from lstnet_tf import plots
    from lstnet_tf.classifier import predict_labels
    from lstnet_tf.evaluate import apply_in_batches
    from lstnet_tf.report import write_atomically

    model, classifiers = first
    (x1, y1), (x2, y2) = test_sets["mnist"], test_sets["usps"]
    n = 12
    for name, x, y, forward, back, classifier in (
        ("usps_to_mnist", x2, y2, model.translate_2_to_1, model.translate_1_to_2, classifiers["mnist"]),
        ("mnist_to_usps", x1, y1, model.translate_1_to_2, model.translate_2_to_1, classifiers["usps"]),
    ):
        translated = apply_in_batches(forward, x[:n])
        plots.translation_grid(
            x[:n], translated, apply_in_batches(back, translated),
            predict_labels(classifier, translated), y[:n],
            f"{name.replace('_to_', ' → ')} ({preset}, seed {seeds[0]}, first {n} test images)",
            out / f"translations_{name}.png")
    for seed in seeds:
        write_atomically(out / f"losses_seed{seed}.csv",
                         (work / f"seed{seed}" / "losses.csv").read_bytes())
        write_atomically(out / f"monitor_seed{seed}.csv", monitor_csvs[seed].read_bytes())
    plots.loss_curves(out / f"losses_seed{seeds[0]}.csv", out / "losses.png",
                      f"LSTNet losses ({preset}, seed {seeds[0]})")
    plots.accuracy_curves({f"seed {s}": out / f"monitor_seed{s}.csv" for s in seeds},
                          out / "accuracy_monitor.png", f"Translated test-subset accuracy ({preset})")
    k = 1000
    plots.latent_embedding(apply_in_batches(model.encode_1, x1[:k]),
                           apply_in_batches(model.encode_2, x2[:k]), y1[:k], y2[:k],
                           out / "latent_embedding.png",
                           f"PCA of latent codes, {k} test images per domain ({preset}, seed {seeds[0]})")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.summary:
        from lstnet_tf.models import print_summaries

        print(f"Table 1 networks, preset '{args.config.preset}' (width {args.config.model.width})")
        print_summaries(args.config.model)
        return 0
    from lstnet_tf.training import run_reporting_errors

    return run_reporting_errors(lambda: run_all(args))


if __name__ == "__main__":
    sys.exit(main())
