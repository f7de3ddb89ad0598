"""How much of the gap is width: one seed per width, scored on validation under both judges
at the same step counts.

    python -m lstnet_experiments.studies.width_curve --widths 0.25 0.5 1.0 --data-dir DATA

Each width trains the base preset (default ``cpu``) with ``--steps`` (default 3000) and a
checkpoint every ``--every`` steps (default 1500; the learning rates follow the preset's
schedule over the whole run), through the project's runner (``Runner.train``: checkpoints in
``--work-dir``, so an interrupted width resumes where it stopped, in this session or the next
on the same machine). At every checkpoint the preset's evaluation variant is scored on the full
validation split under Table 2's judge (plain) and the second judge (augmented); the test sets
are never read. Each point is written to ``--out``/``curve.json`` as it arrives, and
``curve.md`` and ``curve.png`` are rebuilt from it. Checkpoints are not results: do not commit
the work directory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lstnet_tf.config import ConfigError, available_presets, load_config
from lstnet_tf.console import run_command
from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lstnet_experiments.studies.width_curve",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--preset", choices=available_presets(), default="cpu")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=1500, help="checkpoint and scoring interval")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results") / "width_curve")
    parser.add_argument("--work-dir", type=Path, default=Path("runs") / "width_curve")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    if min(args.widths) <= 0:
        parser.error(f"--widths must be > 0, got {args.widths}")
    args.configs = {}
    for width in args.widths:
        try:
            args.configs[width] = load_config(args.preset, {
                "model": {"width": width},
                "train": {"steps": args.steps, "checkpoint_every": args.every}})
        except ConfigError as error:
            parser.error(str(error).replace("train.checkpoint_every", "--every")
                         .replace("train.steps", "--steps"))
    args.command = "python -m lstnet_experiments.studies.width_curve " + " ".join(
        sys.argv[1:] if argv is None else argv)
    return args


def markdown(points: list[dict]) -> str:
    lines = ["# Validation accuracy against steps, per width (one seed)", "",
             "Scored on the full validation split, the preset's evaluation variant; the test sets "
             "are not read. Commands and machines: `curve.json`.", "",
             "| width | step | " + " | ".join(f"{DIRECTION_LABELS[d]} ({j})" for j in
                                             ("plain", "augmented") for d in DIRECTIONS)
             + " | s/step | CPU |",
             "| " + " | ".join(["---"] * 8) + " |"]
    for p in sorted(points, key=lambda p: (p["width"], p["step"])):
        lines.append(f"| {p['width']:g} | {p['step']} | " + " | ".join(
            f"{p[j][d]:.4f}" for j in ("plain", "augmented") for d in DIRECTIONS)
            + f" | {p['seconds_per_step']:.2f} | {p['cpu']} |")
    return "\n".join(lines) + "\n"


def write(out: Path, points: list[dict]) -> None:
    from lstnet_experiments.reproduction import plots
    from lstnet_tf.files import write_atomically

    write_atomically(out / "curve.json", json.dumps(points, indent=2) + "\n")
    write_atomically(out / "curve.md", markdown(points))
    plots.width_curve(points, out / "curve.png")


def run(args) -> int:
    import keras

    from lstnet_experiments.reproduction.runner import Runner
    from lstnet_experiments.studies.tune import validation_scores
    from lstnet_tf.run_record import recorded_precision

    out = args.out
    path = out / "curve.json"
    points = json.loads(path.read_text()) if path.is_file() else []
    splits = None
    for width, config in args.configs.items():
        runner = Runner(config, args.work_dir / f"width{width:g}", args.data_dir,
                        False if args.no_download else None, verbose=2, command=args.command,
                        classifier_dir=args.work_dir / "classifiers", splits=splits)
        splits = runner.splits
        run_dir = runner.run_dir(args.seed)
        judges = {"plain": runner.classifiers(0, augment=False)[0],
                  "augmented": runner.classifiers(args.seed, augment=True)[0]}
        clock = {"start": time.time(), "step": None}

        class Score(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                step = self.model.step
                if step % args.every:
                    return
                seconds = (time.time() - clock["start"]) / max(1, step - clock["step"])
                values = validation_scores(runner, self.model, judges)
                env = runner.environment
                points[:] = [p for p in points if (p["width"], p["step"]) != (width, step)]
                points.append({"width": width, "step": step, "plain": values["plain"],
                               "augmented": values["augmented"], "seconds_per_step": seconds,
                               "precision": recorded_precision(run_dir).precision,
                               "seed": args.seed, "command": args.command,
                               "git_commit": env["git_commit"], "cpu": env["cpu"]})
                write(out, points)
                print(f"  width {width:g}, step {step}: plain " + ", ".join(
                    f"{d} {v:.4f}" for d, v in values["plain"].items()), flush=True)
                clock.update(start=time.time(), step=step)

        class Start(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                clock.update(start=time.time(), step=self.model.step)

        runner.train(args.seed, judges["plain"], callbacks=(Start(), Score()))
    print(f"wrote {out / 'curve.md'}")
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
