"""What the per-step loss log costs: training steps with and without ``StepLogger``, interleaved.

    python -m lstnet_experiments.speed.step_logger_cost --preset cpu --precision mixed_bfloat16 \\
        --design steps --rounds 100 --warmup 5 --out /tmp/steps.md   # and /tmp/steps.json

(results/benchmarks/step_logger.md reads the committed runs, results/benchmarks/step_logger/.)

One process, one model of the preset's shape (width, batch size, optimizers), trained in
blocks of ``--steps`` steps, each block one ``fit()`` call with or without the logger. The
variants alternate within every round (A B, then B A, ...), so that a slow phase of a shared
machine falls on all of them alike; each block's first step (fit's start-up) is not timed.
Reported: each variant's median step time, and per round the ratio of a logged block's median
to the unlogged one's; the cost is the median of those ratios, with their spread. The
logger's own time inside ``on_train_batch_end`` is timed too (it misses any effect on the
next step, which the A/B comparison does not).

``--design steps`` pairs closer, for a machine whose load changes from second to second: one
``fit()`` call, the logger at the end of every third step, each logged step compared with the
unlogged step two later, and the step just after it shown apart (any cost that spills over).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lstnet_tf.console import hide_tensorflow_logs

if __name__ == "__main__":  # before TensorFlow is imported, so that its start-up lines are hidden
    hide_tensorflow_logs("--verbose" in sys.argv)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstnet_tf.domains import MNIST, USPS  # noqa: E402
from lstnet_tf.files import write_atomically  # noqa: E402

BASELINE, LOGGED = "no logger", "logger, every step"
AFTER_LOGGED = "the step after a logged one, not logged"


class BlockClock(keras.callbacks.Callback):
    """The end of every step of one fit() call, in wall-clock time and in the process's CPU
    time (all its threads); listed last, so it counts every callback."""

    def on_train_begin(self, logs=None):
        self.ends, self.cpu_ends = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())

    def step_seconds(self, cpu: bool = False) -> list[float]:
        """Each step's time but the first (fit's start-up): end to end."""
        return [float(x) for x in np.diff(self.cpu_ends if cpu else self.ends)]


class Timed(keras.callbacks.Callback):
    """Runs ``inner`` (at the end of the steps ``runs_at(batch)`` says) and times its
    ``on_train_batch_end``."""

    def __init__(self, inner: keras.callbacks.Callback, runs_at=lambda batch: True):
        super().__init__()
        self.inner, self.runs_at = inner, runs_at
        self.seconds, self.cpu_seconds = [], []  # wall clock; CPU time of the calling thread

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def on_train_begin(self, logs=None):
        self.inner.on_train_begin(logs)

    def on_train_batch_end(self, batch, logs=None):
        if not self.runs_at(batch):
            return
        start, cpu_start = time.perf_counter(), time.thread_time()
        self.inner.on_train_batch_end(batch, logs)
        self.seconds.append(time.perf_counter() - start)
        self.cpu_seconds.append(time.thread_time() - cpu_start)

    def on_train_end(self, logs=None):
        self.inner.on_train_end(logs)


def order(variants: list[str], round_index: int) -> list[str]:
    """The variants in their order in one round: as listed in even rounds, reversed in odd."""
    return list(variants) if round_index % 2 == 0 else list(reversed(variants))


def summarize(blocks: list[dict], baseline: str, clock: str = "") -> dict:
    """Per variant: the median step time over all its steps, and the median and spread of its
    per-round ratio to ``baseline`` (each block's median step time, round by round); in wall
    time (``clock`` "") or CPU time ("cpu_": the blocks' ``step_cpu_seconds``)."""
    key, inside_key = f"step_{clock}seconds", f"callback_{clock}seconds"
    variants = list(dict.fromkeys(b["variant"] for b in blocks))
    rounds = sorted({b["round"] for b in blocks})
    median = {(b["round"], b["variant"]): statistics.median(b[key]) for b in blocks}
    summary = {}
    for variant in variants:
        steps = [s for b in blocks if b["variant"] == variant for s in b[key]]
        ratios = [median[r, variant] / median[r, baseline] for r in rounds
                  if (r, variant) in median and (r, baseline) in median]
        inside = [s for b in blocks if b["variant"] == variant for s in b.get(inside_key, [])]
        summary[variant] = {
            "steps": len(steps),
            "median_step_seconds": statistics.median(steps),
            "ratio_to_baseline_median": statistics.median(ratios),
            "ratio_to_baseline_min": min(ratios), "ratio_to_baseline_max": max(ratios),
            "ratio_to_baseline_quartiles": (list(np.percentile(ratios, [25, 75]))
                                            if len(ratios) > 1 else [ratios[0]] * 2),
            "callback_seconds_median": statistics.median(inside) if inside else None,
        }
    return summary


def _set_up(config, precision: str, images, work_dir: Path):
    """The model, its paired stream and a fresh StepLogger writing into ``work_dir``."""
    from lstnet_tf.callbacks import StepLogger
    from lstnet_tf.checkpoints import CheckpointStore
    from lstnet_tf.pipeline import paired_dataset
    from lstnet_tf.training import build_model

    keras.utils.set_random_seed(0)
    model = build_model(config, precision)
    dataset = paired_dataset(*images, batch_size=config.train.batch_size, seed=0,
                             augment=config.train.augment)
    logger = StepLogger(work_dir / "losses.csv", work_dir / "tensorboard",
                        CheckpointStore(work_dir / "checkpoints"), 0)
    return model, dataset, logger


def measure_blocks(config, precision: str, rounds: int, steps: int, warmup: int, images,
                   work_dir: Path) -> list[dict]:
    """The interleaved blocks: ``warmup`` untimed steps per variant, then ``rounds`` rounds of
    one ``steps``-step ``fit()`` call per variant."""
    model, dataset, step_logger = _set_up(config, precision, images, work_dir)
    loggers = {BASELINE: None, LOGGED: Timed(step_logger)}

    def block(name: str, n: int) -> BlockClock:
        clock, logger = BlockClock(), loggers[name]
        model.fit(dataset, steps_per_epoch=n, epochs=1, verbose=0, shuffle=False,
                  callbacks=([] if logger is None else [logger]) + [clock])
        return clock

    for name in loggers:
        block(name, warmup + 1)
    blocks = []
    for r in range(rounds):
        for name in order(list(loggers), r):
            logger = loggers[name]
            already = 0 if logger is None else len(logger.seconds)
            clock = block(name, steps + 1)
            blocks.append({"round": r, "variant": name, "step_seconds": clock.step_seconds(),
                           "step_cpu_seconds": clock.step_seconds(cpu=True),
                           "callback_seconds": [] if logger is None else
                           logger.seconds[already + 1:],
                           "callback_cpu_seconds": [] if logger is None else
                           logger.cpu_seconds[already + 1:]})
            print(f"round {r} {name}: median {statistics.median(blocks[-1]['step_seconds']):.4f}"
                  " s/step", flush=True)
    return blocks


def measure_steps(config, precision: str, rounds: int, warmup: int, images,
                  work_dir: Path) -> list[dict]:
    """Step by step in one ``fit()`` call: after ``warmup`` steps, ``rounds`` rounds of three
    steps, the logger running at the end of the first. A round's logged step is compared with
    its third (a step after an unlogged one); its second, just after the logger, shows any
    cost that falls on the next step."""
    model, dataset, step_logger = _set_up(config, precision, images, work_dir)
    # Also through the warm-up, so that its first call (tracing) is not timed.
    logger = Timed(step_logger, runs_at=lambda batch: batch < warmup
                   or (batch - warmup) % 3 == 0)
    clock = BlockClock()
    model.fit(dataset, steps_per_epoch=warmup + 3 * rounds, epochs=1, verbose=0,
              shuffle=False, callbacks=[logger, clock])
    # seconds[k]: from the end of step k to the end of step k + 1 (its callbacks included).
    seconds, cpu_seconds = clock.step_seconds(), clock.step_seconds(cpu=True)
    blocks = []
    for r in range(rounds):
        logged = warmup + 3 * r - 1
        for name, k in ((LOGGED, logged), (AFTER_LOGGED, logged + 1), (BASELINE, logged + 2)):
            inside = name == LOGGED
            blocks.append({"round": r, "variant": name, "step_seconds": [seconds[k]],
                           "step_cpu_seconds": [cpu_seconds[k]],
                           "callback_seconds": [logger.seconds[warmup + r]] if inside else [],
                           "callback_cpu_seconds":
                               [logger.cpu_seconds[warmup + r]] if inside else []})
    return blocks


DESIGNS = {
    "blocks": "{rounds} rounds; in each, one block of {steps} timed steps per variant (one "
              "`fit()` call; its first step is not timed), the order alternating from round to "
              "round. The ratio is a block's median step time over the same round's unlogged "
              "block's; its median over the rounds is the cost.",
    "steps": "One `fit()` call: {warmup} warm-up steps, then {rounds} rounds of three steps, "
             "the logger running at the end of the first. A step's time runs from the end of "
             "the one before to its own end, its callbacks included. The ratio is a round's "
             "logged step over its third (after an unlogged step); its median over the rounds "
             "is the cost. The second step shows any cost that falls on the next step.",
}


def markdown(run: dict) -> str:
    env, baseline = run["environment"], run["baseline"]
    lines = [
        "# What the per-step loss log costs", "",
        f"Command: `{run['command']}`  ",
        f"Machine: {env['cpu']} (flags of note: {', '.join(env['cpu_flags'])}); TensorFlow "
        f"{env['tensorflow']}, Keras {env['keras']}, git {env['git_commit']}.  ",
        f"Model: preset `{run['preset']}`, width {run['width']:g}, batch "
        f"{run['batch_size']} + {run['batch_size']}, precision {run['precision']} "
        f"({run['precision_reason']}).", "",
        DESIGNS[run.get("design", "blocks")].format(**run) + " Load average (1, 5, 15 min) "
        f"before and after: {run['load_average_1_5_15_min']['before']}, "
        f"{run['load_average_1_5_15_min']['after']} (this process itself adds up to 2).", "",
    ]
    for clock, what in (("wall", "Wall-clock time (what a run takes)"),
                        ("cpu", "CPU time: a step's, of the whole process (every thread); the "
                                "logger's, of the thread that calls it (what the work costs, "
                                "little changed by other processes' load)")):
        lines += [f"{what}:", "",
                  "| variant | steps timed | median s / step | ratio to no logger: median | "
                  "quartiles | min – max | median s inside the logger per step |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        summary = run["summary"][clock]
        for name, s in summary.items():
            inside = s["callback_seconds_median"]
            q1, q3 = s["ratio_to_baseline_quartiles"]
            lines.append(
                f"| {name} | {s['steps']} | {s['median_step_seconds']:.4f} | "
                f"{s['ratio_to_baseline_median']:.4f} | {q1:.4f} – {q3:.4f} | "
                f"{s['ratio_to_baseline_min']:.4f} – {s['ratio_to_baseline_max']:.4f} | "
                + ("-" if inside is None else f"{1000 * inside:.2f} ms ("
                   f"{100 * inside / summary[baseline]['median_step_seconds']:.2f}% of a step)")
                + " |")
        lines.append("")
    if run.get("notes"):
        lines += [run["notes"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstnet_experiments.speed.step_logger_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    parser.add_argument("--preset", default="cpu", help="the model's shape and optimizers")
    parser.add_argument("--precision", default=None,
                        choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                        help="default: the preset's; auto is decided as training decides it")
    parser.add_argument("--design", choices=["blocks", "steps"], default="blocks",
                        help="blocks: one fit() call per block of --steps steps, with or "
                             "without the logger; steps: one fit() call, the logger at every "
                             "third step (--steps unused)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per block")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant first")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--synthetic", action="store_true",
                        help="random images instead of MNIST/USPS (no data needed)")
    parser.add_argument("--notes", default="", help="text appended under the table")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file; the JSON goes beside it (default: print only)")
    args = parser.parse_args(argv)
    if min(args.rounds, args.steps) < 1 or args.warmup < (args.design == "steps"):
        parser.error("--rounds and --steps must be >= 1, --warmup >= 0 (>= 1 with --design "
                     "steps)")
    if args.out is not None and args.out.suffix != ".md":
        parser.error("--out must name a .md file")

    import functools

    from lstnet_tf.config import ConfigError, load_config
    from lstnet_tf.files import environment
    from lstnet_tf.precision import resolve_precision
    from lstnet_tf.training import measure_seconds_per_step

    try:
        config = load_config(args.preset, {"train": {"precision": args.precision}}
                             if args.precision else None)
    except ConfigError as error:
        parser.error(str(error))
    choice = resolve_precision(config.train.precision,
                               functools.partial(measure_seconds_per_step, config))
    print(f"precision {choice.precision} ({choice.reason})", flush=True)
    if args.synthetic:
        rng = np.random.default_rng(0)
        images = (rng.uniform(-1, 1, (512, MNIST.image_size, MNIST.image_size, 1)).astype("float32"),
                  rng.uniform(-1, 1, (256, USPS.image_size, USPS.image_size, 1)).astype("float32"))
    else:
        from lstnet_tf.data import load_mnist, load_usps

        images = (load_mnist("train", args.data_dir)[0], load_usps("train", args.data_dir)[0])
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as work_dir:
        if args.design == "blocks":
            blocks = measure_blocks(config, choice.precision, args.rounds, args.steps,
                                    args.warmup, images, Path(work_dir))
        else:
            blocks = measure_steps(config, choice.precision, args.rounds, args.warmup, images,
                                   Path(work_dir))
    command = ("python -m lstnet_experiments.speed.step_logger_cost "
               + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    run = {"command": command, "environment": environment(), "preset": config.preset,
           "width": config.model.width, "batch_size": config.train.batch_size,
           "precision": choice.precision, "precision_reason": choice.reason,
           "design": args.design, "rounds": args.rounds, "steps": args.steps,
           "warmup": args.warmup,
           "load_average_1_5_15_min": {"before": [round(x, 2) for x in load_before],
                                       "after": [round(x, 2) for x in os.getloadavg()]},
           "baseline": BASELINE, "blocks": blocks,
           "summary": {"wall": summarize(blocks, BASELINE), "cpu": summarize(blocks, BASELINE,
                                                                             "cpu_")},
           "notes": args.notes}
    text = markdown(run)
    print(text)
    if args.out is not None:
        write_atomically(args.out, text)
        write_atomically(args.out.with_suffix(".json"), json.dumps(run, indent=2) + "\n")
        print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
