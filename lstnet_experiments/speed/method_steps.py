"""Seconds per training step of each method at a preset's shape, on this machine: what a seed
of each costs before it is run (a domain-adaptation method trains twice per seed).

    python -m lstnet_experiments.speed.method_steps --preset cpu --methods lstnet cogan deepjdot

Each method's step is timed as ``auto`` times the precision (``training.measure_seconds_per_step``:
a throw-away model on random images, the median of the timed steps after the warm-up), in each
precision asked for, one method after the other in one process. Writes
``results/benchmarks/method_steps_<machine>.md`` (or --out) with the command, machine, library
versions and commit.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv=None):
    from lstnet_tf.method_specs import METHODS

    parser = argparse.ArgumentParser(prog="python -m lstnet_experiments.speed.method_steps",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=["lstnet", "cogan", "deepjdot"])
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.command = "python -m lstnet_experiments.speed.method_steps " + " ".join(
        sys.argv[1:] if argv is None else argv)
    return args


def run(args) -> int:
    from lstnet_experiments.speed.bench import machine_slug
    from lstnet_tf.config import load_config
    from lstnet_tf.files import environment, write_atomically
    from lstnet_tf.method_specs import METHODS
    from lstnet_tf.training import measure_seconds_per_step

    env = environment()
    rows = []
    for method in args.methods:
        config = load_config(args.preset, {"method": method})
        if METHODS[method].output == "classifier":
            config = dataclasses.replace(config, train=dataclasses.replace(
                config.train, labelled_domain="mnist"))
        for precision in args.precisions:
            start = time.time()
            seconds = measure_seconds_per_step(config, precision, args.steps, args.warmup)
            trainings = 2 if METHODS[method].output == "classifier" else 1
            rows.append((method, precision, seconds, trainings * config.train.steps * seconds / 60))
            print(f"{method} {precision}: {seconds:.3f} s/step ({time.time() - start:.0f} s)",
                  flush=True)
    machine = env["cpu"]
    lines = [
        f"# Seconds per training step by method (preset `{args.preset}`)", "",
        f"Command: `{args.command}`  ",
        f"Machine: {machine}, flags {', '.join(env.get('cpu_flags', []))}; TensorFlow "
        f"{env.get('tensorflow')}, Keras {env.get('keras')}; git `{env.get('git_commit')}`; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}. The cores were otherwise idle only if the "
        "command was run so.", "",
        "Median of the timed steps of a throw-away model on random images "
        "(`training.measure_seconds_per_step`, as `auto` times them). Training minutes: the "
        "preset's steps x the step, times two for a domain-adaptation method (one training "
        "per Table 2 row); classifiers and evaluation come on top.", "",
        "| method | precision | s/step | training min per seed |", "| --- | --- | --- | --- |",
        *(f"| `{m}` | {p} | {s:.3f} | {minutes:.0f} |" for m, p, s, minutes in rows), ""]
    out = args.out or ROOT / "results" / "benchmarks" / (
        f"method_steps_{machine_slug(env)}{'-amx' if 'amx_bf16' in env['cpu_flags'] else ''}.md")
    write_atomically(out, "\n".join(lines))
    print("wrote", out)
    return 0


def main(argv=None) -> int:
    from lstnet_tf.console import run_command

    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
