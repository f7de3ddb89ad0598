"""Per-image correctness of a results directory's seeds written before the runner saved it.

    python -m lstnet_experiments.studies.per_image results/cpu --seeds 0 --work-dir runs/cpu \
        --data-dir ../shared/data

Since methods are compared image by image, ``reproduce.py --all`` writes, per seed,
``correct_seed<N>.npz``: for the validation split and the test set, under both judges, which
images the evaluated translators get right. Seeds trained before that have only their
accuracies. For them this command scores the seed's shipped translators
(``models/seed<N>/<direction>.keras``, the evaluated variant, stored in float16) with the
seed's judges (the runner's cached classifiers in ``--work-dir``, trained if missing), and
writes the same file. It reads the test set once more for translators whose test accuracy was
already reported: no choice is made on it. The recomputed accuracies are checked against the
seed file's (float16 storage moves a few images at most) and written beside the file, in
``correct_seed<N>.json``, with the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lstnet_experiments.reproduction.report import ResultsError, read_seed_results
from lstnet_tf.config import config_from_record
from lstnet_tf.console import run_command
from lstnet_tf.directions import DIRECTIONS

# Images that float16 storage of the translators may move, per split and direction, before
# the recomputation is called inconsistent with the seed file.
TOLERATED_IMAGES = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results directory of reproduce.py --all")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, metavar="SEED")
    parser.add_argument("--work-dir", type=Path, required=True,
                        help="the runner's work directory holding (or to hold) the cached "
                             "classifiers, as for reproduce.py")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory holding mnist/ and usps/ (as for reproduce.py)")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    args.command = "python -m lstnet_experiments.studies.per_image " + " ".join(
        str(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        results = read_seed_results(args.results)
    except ResultsError as error:
        parser.error(str(error))
    missing = sorted(set(args.seeds) - set(results))
    if missing:
        parser.error(f"{args.results} has no seed file for seeds {missing}")
    args.seed_results = {seed: results[seed] for seed in args.seeds}
    return args


def run(args) -> int:
    from lstnet_experiments.reproduction.report import save_per_image
    from lstnet_experiments.reproduction.runner import Runner
    from lstnet_tf import data
    from lstnet_tf.evaluate import accuracies, direction_correct
    from lstnet_tf.files import environment, write_atomically
    from lstnet_tf.shipped_models import load_translator

    for seed, result in args.seed_results.items():
        config = config_from_record(result["provenance"]["config"])
        runner = Runner(config, args.work_dir, args.data_dir, download=False,
                        command=args.command)
        judges = {"augmented": runner.classifiers(seed, augment=True)[0]}
        if "plain" in result["test"]:
            judges["plain"] = runner.classifiers(0, augment=False)[0]
        translators = {}
        for direction in DIRECTIONS:
            model = load_translator(args.results / "models" / f"seed{seed}" /
                                    f"{direction}.keras", direction)
            translators[direction] = lambda x, model=model: model(x, training=False)
        test = data.load_test(args.data_dir, first_images=runner.config.data.first_images)
        sets = {"validation": runner.splits["validation"], "test": test}
        correct = {split: {judge: direction_correct(translators, classifiers, images)
                           for judge, classifiers in judges.items()}
                   for split, images in sets.items()}
        recorded = {"test": {judge: result["test"][judge]["translator"] for judge in judges},
                    "validation": {"augmented":
                                   result["validation"]["variants"][result["evaluated"]]}}
        check = {split: {judge: {"recorded": recorded[split][judge],
                                 "recomputed": accuracies(correct[split][judge])}
                         for judge in recorded[split]} for split in recorded}
        worst = max(abs(c["recorded"][d] - c["recomputed"][d]) * len(correct[split][judge][d])
                    for split, judges_ in check.items() for judge, c in judges_.items()
                    for d in DIRECTIONS)
        if worst > TOLERATED_IMAGES + 0.5:
            raise ResultsError(
                f"seed {seed}: the shipped translators give accuracies {worst:.0f} images away "
                f"from the seed file's ({check}); are --work-dir's classifiers that run's?")
        save_per_image(args.results / f"correct_seed{seed}.npz", correct)
        write_atomically(args.results / f"correct_seed{seed}.json", json.dumps({
            "written_by": args.command, "git_commit": environment()["git_commit"],
            "note": "recomputed from the shipped (float16) translators and the cached judges; "
                    "the test set was read again for already reported translators",
            "accuracy_check": check, "largest_difference_in_images": round(worst),
        }, indent=2) + "\n")
        print(f"seed {seed}: wrote {args.results / f'correct_seed{seed}.npz'} (largest "
              f"difference from the seed file: {worst:.0f} images)")
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
