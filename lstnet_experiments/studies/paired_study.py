"""Two configurations compared image by image on the validation split, seed by seed.

    python -m lstnet_experiments.studies.paired_study results/cpu results/cpu_width05 \
        --data-dir ../shared/data --out results/cpu_study/width

The settings table of ``study`` compares accuracies; this says how sure a difference is. For
every seed both results directories hold, the shipped translators of each direction
(``models/seed<N>/<direction>.keras``: the evaluated variant, BatchNorm statistics included)
translate the same validation images, and one judge scores both: that seed's classifiers
shipped in the first directory, else in the second (or in --judges). Per seed and direction:
both accuracies, the images only one of them gets right, and the exact McNemar p-value. Across
seeds: the discordant images pooled (an exact test of "no difference in any of these seeds")
and how many seeds B wins. The McNemar tests are about these trained models; whether another seed would
agree is what the seed count says. Reads validation images and labels only, never the test
set. Writes ``paired.md`` and ``paired.json`` to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from lstnet_experiments.reproduction.report import ResultsError, read_seed_results
from lstnet_tf.config import settings_that_differ, with_defaults
from lstnet_tf.console import UserFacingError, run_command
from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS, SOURCE_AND_TARGET


def compare_direction(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Both accuracies on the same images and the McNemar test of B against A."""
    from lstnet_tf.evaluate import mcnemar  # imports TensorFlow: not before its logs are hidden

    test = mcnemar(correct_a, correct_b)
    return {"a": float(np.mean(correct_a)), "b": float(np.mean(correct_b)),
            "only_a": test["a_only"], "only_b": test["b_only"], "p_value": test["p_value"],
            "images": int(len(correct_a))}


def pooled(per_seed: list[dict]) -> dict:
    """Seeds of one direction together: the mean accuracy gain of B, on how many seeds B is
    ahead, and an exact binomial test on the discordant images of all seeds (under "no
    difference", each is B's with probability 1/2 in every seed, so their sum is binomial)."""
    only_a = sum(row["only_a"] for row in per_seed)
    only_b = sum(row["only_b"] for row in per_seed)
    discordant = only_a + only_b
    return {"gain": float(np.mean([row["b"] - row["a"] for row in per_seed])),
            "seeds_b_ahead": sum(row["b"] > row["a"] for row in per_seed),
            "seeds": len(per_seed), "only_a": only_a, "only_b": only_b,
            "p_value": 1.0 if discordant == 0 else
            float(stats.binomtest(only_b, discordant, 0.5).pvalue)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="results directory A (the reference)")
    parser.add_argument("b", type=Path, help="results directory B (compared with A)")
    parser.add_argument("--out", type=Path, required=True, help="where paired.md/.json go")
    parser.add_argument("--judges", type=Path, default=None,
                        help="a results directory whose models/seed<N>/ hold the judging "
                             "classifiers (default: A's, else B's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                        help="compare only these seeds (default: every seed both hold)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory holding mnist/ and usps/ (as for reproduce.py)")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    args.command = "python -m lstnet_experiments.studies.paired_study " + " ".join(
        str(a) for a in (sys.argv[1:] if argv is None else argv))
    # Everything that can be wrong is found before the models load.
    try:
        args.results = {"a": read_seed_results(args.a), "b": read_seed_results(args.b)}
    except ResultsError as error:
        parser.error(str(error))
    for key, results in args.results.items():
        if not results:
            parser.error(f"no seed<N>.json in {getattr(args, key)} (reproduce.py --all writes "
                         "them)")
    common = set(args.results["a"]) & set(args.results["b"])
    wanted = common if args.seeds is None else set(args.seeds)
    if not wanted or not wanted <= common:
        parser.error(f"{args.a} (seeds {sorted(args.results['a'])}) and {args.b} (seeds "
                     f"{sorted(args.results['b'])}) do not both hold seeds {sorted(wanted)}")
    args.seeds = sorted(wanted)
    configs = [with_defaults(next(iter(r.values()))["provenance"]["config"])
               for r in args.results.values()]
    if configs[0]["data"] != configs[1]["data"]:
        parser.error(f"{args.a} and {args.b} used different validation splits (data settings "
                     f"{configs[0]['data']} vs {configs[1]['data']}): images cannot be paired")
    args.differs = settings_that_differ(*configs)
    args.data_config = configs[0]["data"]
    for seed in args.seeds:
        for direction in DIRECTIONS:
            for directory in (args.a, args.b):
                path = translator_file(directory, seed, direction)
                if not path.is_file():
                    parser.error(f"{path} is missing: compare directories that reproduce.py "
                                 "--all wrote with their models/")
        try:
            judge_files(judge_dirs(args), seed)
        except UserFacingError as error:
            parser.error(str(error))
    return args


def translator_file(directory: Path, seed: int, direction: str) -> Path:
    return directory / "models" / f"seed{seed}" / f"{direction}.keras"


def judge_dirs(args) -> tuple[Path, ...]:
    return (args.judges,) if args.judges else (args.a, args.b)


def judge_files(directories: tuple[Path, ...], seed: int) -> dict[str, Path]:
    """Per domain, the seed's classifier shipped in the first of ``directories`` that has it."""
    files = {}
    for domain in ("mnist", "usps"):
        candidates = [d / "models" / f"seed{seed}" / f"{domain}_classifier.keras"
                      for d in directories]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise UserFacingError(
                f"no {domain} classifier for seed {seed} ({' or '.join(map(str, candidates))}): "
                "pass --judges DIR, a results directory of the same seed and classifier "
                "settings that has them (results/cpu ships no MNIST classifier), e.g. one "
                f"written by `python reproduce.py --all --seeds {seed} --out DIR`")
        files[domain] = found[0]
    return files


def markdown(report: dict) -> str:
    a, b = f"`{report['a']}`", f"`{report['b']}`"
    lines = [
        f"# B = {b} against A = {a}, image by image on the validation split", "",
        f"Command: `{report['command']}` at git `{report['git_commit']}`. {b} differs from {a} "
        f"in: {', '.join(f'`{s}`' for s in report['differs']) or 'nothing'}. Each seed's two "
        "translators (the evaluated variant each configuration shipped) are scored by one "
        "judge, that seed's classifiers (trained with augmentation): "
        + "; ".join(f"seed {s}: " + ", ".join(f"`{p}`" for p in files.values())
                    for s, files in report["judges"].items())
        + ". Validation images and labels only; the test sets are not read.", "",
        "| direction | seed | A | B | B − A | only A right | only B right | McNemar p | images "
        "| seed files' A / B |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for direction in DIRECTIONS:
        for seed, row in report["per_seed"][direction].items():
            lines.append(
                f"| {DIRECTION_LABELS[direction]} | {seed} | {row['a']:.4f} | {row['b']:.4f} | "
                f"{row['b'] - row['a']:+.4f} | {row['only_a']} | {row['only_b']} | "
                f"{row['p_value']:.2g} | {row['images']} | {row['recorded']['a']:.4f} / "
                f"{row['recorded']['b']:.4f} |")
    lines += ["", "All seeds together: the mean gain, the seeds on which B is ahead, and the exact "
              "test on every seed's discordant images pooled.", "",
              "| direction | mean B − A | B ahead | only A right | only B right | pooled p |",
              "| --- | --- | --- | --- | --- | --- |"]
    for direction, row in report["pooled"].items():
        lines.append(f"| {DIRECTION_LABELS[direction]} | {row['gain']:+.4f} | "
                     f"{row['seeds_b_ahead']}/{row['seeds']} | {row['only_a']} | "
                     f"{row['only_b']} | {row['p_value']:.2g} |")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from lstnet_tf.config import DataConfig
    from lstnet_tf.data import load_splits
    from lstnet_tf.evaluate import direction_correct
    from lstnet_tf.files import environment, write_atomically
    from lstnet_tf.shipped_models import load_classifier, load_translator

    validation = load_splits(DataConfig(**args.data_config), args.data_dir)["validation"]
    report = {"a": str(args.a), "b": str(args.b), "command": args.command,
              "git_commit": environment()["git_commit"], "differs": args.differs,
              "judges": {}, "per_seed": {d: {} for d in DIRECTIONS}}
    for seed in args.seeds:
        files = judge_files(judge_dirs(args), seed)
        report["judges"][seed] = {domain: str(path) for domain, path in files.items()}
        judge = {target: load_classifier(files[target], direction)
                 for direction, (_, target) in SOURCE_AND_TARGET.items()}
        correct = {}
        for key in ("a", "b"):
            translators = {}
            for direction in DIRECTIONS:
                path = translator_file(getattr(args, key), seed, direction)
                model = load_translator(path, direction)
                translators[direction] = lambda x, model=model: model(x, training=False)
            correct[key] = direction_correct(translators, judge, validation)
        for direction in DIRECTIONS:
            row = compare_direction(correct["a"][direction], correct["b"][direction])
            recorded = {key: args.results[key][seed] for key in ("a", "b")}
            # the seed files' own numbers, each judged by its own run's classifiers
            row["recorded"] = {key: result["validation"]["variants"][result["evaluated"]][
                direction] for key, result in recorded.items()}
            report["per_seed"][direction][seed] = row
            print(f"seed {seed} {DIRECTION_LABELS[direction]}: A {row['a']:.4f}, B {row['b']:.4f}"
                  f", McNemar p {row['p_value']:.2g}", flush=True)
    report["pooled"] = {d: pooled(list(rows.values())) for d, rows in report["per_seed"].items()}
    write_atomically(args.out / "paired.json", json.dumps(report, indent=2) + "\n")
    write_atomically(args.out / "paired.md", markdown(report))
    print(markdown(report))
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
