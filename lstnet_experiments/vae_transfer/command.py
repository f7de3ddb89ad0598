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

This module is the command (flags, resuming, provenance); the protocol of a seed is
``experiment.py``, the table ``table.py``, the figure ``plots.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lstnet_experiments.vae_transfer.table import read_seed_files, write_table
from lstnet_tf.config import ConfigError, settings_that_differ
from lstnet_tf.files import code_state, load_average, lscpu_model, write_atomically
from lstnet_tf.vae_transfer import tasks as vt_tasks
from lstnet_tf.vae_transfer.config import make_config, merge_nested, parse_assignment

EXPERIMENTS = ("vae-transfer",)


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


# ---------------------------------------------------------------------------- command

def provenance(args, environment: dict, load_at_start: list) -> dict:
    """What a seed file records of the run that wrote it (the keys of every committed one)."""
    return {"command": " ".join(["python reproduce.py"] + list(args.argv)),
            "code": code_state(), "environment": environment, "lscpu_model": lscpu_model(),
            "load_average_at_start": load_at_start,
            "config": args.config.to_dict(), "split": args.split,
            "tasks": args.tasks, "sizes": [str(s) for s in args.sizes]}


def run(args) -> int:
    out = Path(args.out)
    done = read_seed_files(out)
    for seed, result in done.items():
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
    experiment = _experiment(args) if seeds else None
    for seed in seeds:
        if (out / f"seed{seed}.json").exists():  # written meanwhile by a parallel run
            print(f"Seed {seed} appeared in {out} meanwhile: kept, not trained again.")
            continue
        seed_start, load_at_start = time.time(), load_average()
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


def _experiment(args):
    """The protocol of ``args`` (imports TensorFlow: only when a seed is to run)."""
    from lstnet_experiments.vae_transfer.experiment import Experiment

    return Experiment(args)


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
