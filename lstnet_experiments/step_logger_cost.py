"""What the per-step loss log costs: training steps with and without ``StepLogger``, interleaved.

    python -m lstnet_experiments.step_logger_cost --preset cpu --rounds 12 --steps 12 \\
        --out results/benchmarks/step_logger.md

One process, one model of the preset's shape (width, batch size, optimizers), trained in
blocks of ``--steps`` steps, each block one ``fit()`` call with or without the logger. The
variants alternate within every round (A B, then B A, ...), so that a slow phase of a shared
machine falls on all of them alike; each block's first step (fit's start-up) is not timed.
Reported: each variant's median step time, and per round the ratio of a logged block's median
to the unlogged one's; the cost is the median of those ratios, with their spread. The
logger's own time inside ``on_train_batch_end`` is timed too (it misses any effect on the
next step, which the A/B comparison does not).
"""

from __future__ import annotations

import argparse
import json
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

from lstnet_tf.files import write_atomically  # noqa: E402

# variant -> StepLogger keyword arguments; None: no logger.
VARIANTS = {"no logger": None, "logger, every step": {}}


class BlockClock(keras.callbacks.Callback):
    """The end of every step of one fit() call; listed last, so it counts every callback."""

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def step_seconds(self) -> list[float]:
        """Each step's time but the first (fit's start-up): end to end."""
        return list(np.diff(self.ends))


class Timed(keras.callbacks.Callback):
    """Runs ``inner`` and times its ``on_train_batch_end``."""

    def __init__(self, inner: keras.callbacks.Callback):
        super().__init__()
        self.inner, self.seconds = inner, []

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def on_train_begin(self, logs=None):
        self.inner.on_train_begin(logs)

    def on_train_batch_end(self, batch, logs=None):
        start = time.perf_counter()
        self.inner.on_train_batch_end(batch, logs)
        self.seconds.append(time.perf_counter() - start)

    def on_train_end(self, logs=None):
        self.inner.on_train_end(logs)


def order(variants: list[str], round_index: int) -> list[str]:
    """The variants in their order in one round: as listed in even rounds, reversed in odd."""
    return list(variants) if round_index % 2 == 0 else list(reversed(variants))


def summarize(blocks: list[dict], baseline: str) -> dict:
    """Per variant: the median step time over all its steps, and the median and spread of its
    per-round ratio to ``baseline`` (each block's median step time, round by round)."""
    variants = list(dict.fromkeys(b["variant"] for b in blocks))
    rounds = sorted({b["round"] for b in blocks})
    median = {(b["round"], b["variant"]): statistics.median(b["step_seconds"]) for b in blocks}
    summary = {}
    for variant in variants:
        steps = [s for b in blocks if b["variant"] == variant for s in b["step_seconds"]]
        ratios = [median[r, variant] / median[r, baseline] for r in rounds
                  if (r, variant) in median and (r, baseline) in median]
        inside = [s for b in blocks if b["variant"] == variant for s in b.get("callback_seconds", [])]
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


def measure(config, precision: str, rounds: int, steps: int, warmup: int, images,
            work_dir: Path) -> list[dict]:
    """The interleaved blocks: ``warmup`` untimed steps per variant, then ``rounds`` rounds of
    one ``steps``-step block per variant."""
    from lstnet_tf.callbacks import StepLogger
    from lstnet_tf.checkpoints import CheckpointStore
    from lstnet_tf.pipeline import paired_dataset
    from lstnet_tf.training import build_model

    keras.utils.set_random_seed(0)
    model = build_model(config, precision)
    dataset = paired_dataset(*images, batch_size=config.train.batch_size, seed=0,
                             augment=config.train.augment)
    store = CheckpointStore(work_dir / "checkpoints")
    loggers = {name: None if kwargs is None else Timed(StepLogger(
        work_dir / f"losses_{i}.csv", work_dir / f"tensorboard_{i}", store, 0, **kwargs))
               for i, (name, kwargs) in enumerate(VARIANTS.items())}

    def block(name: str, n: int) -> BlockClock:
        clock, logger = BlockClock(), loggers[name]
        model.fit(dataset, steps_per_epoch=n, epochs=1, verbose=0, shuffle=False,
                  callbacks=([] if logger is None else [logger]) + [clock])
        return clock

    for name in VARIANTS:
        block(name, warmup + 1)
    blocks = []
    for r in range(rounds):
        for name in order(list(VARIANTS), r):
            logger = loggers[name]
            already = 0 if logger is None else len(logger.seconds)
            clock = block(name, steps + 1)
            blocks.append({"round": r, "variant": name, "step_seconds": clock.step_seconds(),
                           "callback_seconds": [] if logger is None else
                           logger.seconds[already + 1:]})
            print(f"round {r} {name}: median {statistics.median(blocks[-1]['step_seconds']):.4f}"
                  " s/step", flush=True)
    return blocks


def markdown(run: dict) -> str:
    env, summary, baseline = run["environment"], run["summary"], run["baseline"]
    lines = [
        "# What the per-step loss log costs", "",
        f"Command: `{run['command']}`  ",
        f"Machine: {env['cpu']} (flags of note: {', '.join(env['cpu_flags'])}); TensorFlow "
        f"{env['tensorflow']}, Keras {env['keras']}, git {env['git_commit']}.  ",
        f"Model: preset `{run['preset']}`, width {run['width']:g}, batch "
        f"{run['batch_size']} + {run['batch_size']}, precision {run['precision']} "
        f"({run['precision_reason']}).", "",
        f"{run['rounds']} rounds; in each, one block of {run['steps']} timed steps per variant "
        "(one `fit()` call; its first step is not timed), the order alternating from round to "
        "round. The ratio is a block's median step time over the same round's unlogged "
        "block's; its median over the rounds is the cost.", "",
        "| variant | steps timed | median s / step | ratio to no logger: median | quartiles | "
        "min – max | median s inside the logger per step |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary.items():
        inside = s["callback_seconds_median"]
        q1, q3 = s["ratio_to_baseline_quartiles"]
        lines.append(
            f"| {name} | {s['steps']} | {s['median_step_seconds']:.4f} | "
            f"{s['ratio_to_baseline_median']:.4f} | {q1:.4f} – {q3:.4f} | "
            f"{s['ratio_to_baseline_min']:.4f} – {s['ratio_to_baseline_max']:.4f} | "
            + ("-" if inside is None else f"{1000 * inside:.2f} ms "
               f"({100 * inside / summary[baseline]['median_step_seconds']:.2f}% of a step)")
            + " |")
    if run.get("notes"):
        lines += ["", run["notes"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstnet_experiments.step_logger_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    parser.add_argument("--preset", default="cpu", help="the model's shape and optimizers")
    parser.add_argument("--precision", default=None,
                        choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                        help="default: the preset's; auto is decided as training decides it")
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
    if min(args.rounds, args.steps) < 1 or args.warmup < 0:
        parser.error("--rounds and --steps must be >= 1, --warmup >= 0")
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
        images = (rng.uniform(-1, 1, (512, 28, 28, 1)).astype("float32"),
                  rng.uniform(-1, 1, (256, 16, 16, 1)).astype("float32"))
    else:
        from lstnet_tf.data import load_mnist, load_usps

        images = (load_mnist("train", args.data_dir)[0], load_usps("train", args.data_dir)[0])
    with tempfile.TemporaryDirectory() as work_dir:
        blocks = measure(config, choice.precision, args.rounds, args.steps, args.warmup,
                         images, Path(work_dir))
    baseline = next(iter(VARIANTS))
    command = ("python -m lstnet_experiments.step_logger_cost "
               + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    run = {"command": command, "environment": environment(), "preset": config.preset,
           "width": config.model.width, "batch_size": config.train.batch_size,
           "precision": choice.precision, "precision_reason": choice.reason,
           "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
           "baseline": baseline, "summary": summarize(blocks, baseline), "blocks": blocks,
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
