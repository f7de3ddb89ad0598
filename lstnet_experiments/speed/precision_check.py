"""Does a reduced compute precision hurt learning? Short LSTNet runs from one seed, compared.

    python -m lstnet_experiments.speed.precision_check --preset cpu --steps 600 --seed 0
    python -m lstnet_experiments.speed.precision_check --preset smoke --precisions float32 mixed_bfloat16

Every precision trains from the same seed, so with the same initial weights (drawn in
float32 before any cast) and the same batches; only the arithmetic differs. Everything runs
through the experiment runner and reads the validation split only (never the test sets).
Written to --out: ``precision_check.md`` / ``.json`` (seconds per step, final accuracies on
the full validation split with the preset's evaluation variant, mean losses over the last
quarter of the run), the per-step loss CSVs, and ``loss_curves.png`` / ``accuracy_monitor.png``
overlaying the runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lstnet_tf.config import ConfigError, available_presets, load_config
from lstnet_tf.console import run_command
from lstnet_tf.precision import PRECISIONS

ROOT = Path(__file__).resolve().parents[2]
COMPARED_LOSSES = ("d_total", "g_total", "g_adv_latent", "cycle_1", "cycle_2", "cycle_3",
                   "cycle_4")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=available_presets(), default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=[p for p in PRECISIONS if p != "auto"])
    parser.add_argument("--steps", type=int, default=600, help="LSTNet steps per run")
    parser.add_argument("--monitor-every", type=int, default=100,
                        help="steps between checkpoints / validation-subset accuracy points "
                             "(must divide --steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "precision_check")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "precision_check",
                        help="checkpoints, logs and cached classifiers")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if len(set(args.precisions)) < 2:
        parser.error("--precisions needs at least two different precisions to compare")
    if args.seed < 0 or args.steps < 1 or args.monitor_every < 1:
        parser.error("--seed must be >= 0, --steps and --monitor-every >= 1")
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a directory")
    if args.steps % args.monitor_every:
        parser.error(f"--steps ({args.steps}) must be a multiple of --monitor-every "
                     f"({args.monitor_every})")
    args.configs = {}
    for precision in args.precisions:
        overrides = {"train": {"steps": args.steps, "precision": precision,
                               "checkpoint_every": args.monitor_every}}
        try:
            args.configs[precision] = load_config(args.preset, overrides)
        except ConfigError as error:
            parser.error(str(error))
    return args


def _tail_means(losses_csv: Path, fraction: float = 0.25) -> dict[str, float]:
    """Mean of each compared loss over the last ``fraction`` of the logged steps."""
    from lstnet_experiments.reproduction.plots import read_csv

    columns = read_csv(losses_csv)
    n = max(1, int(len(columns["step"]) * fraction))
    return {name: float(columns[name][-n:].mean()) for name in COMPARED_LOSSES}


def markdown(rows: list[dict], provenance: dict) -> str:
    losses = " | ".join(COMPARED_LOSSES)
    lines = [
        "# Precision check: does reduced precision hurt LSTNet's learning?",
        "",
        f"Command: `{provenance['command']}`  ",
        f"Preset `{provenance['preset']}` with {provenance['steps']} steps, seed "
        f"{provenance['seed']}; every run starts from the same weights and sees the same "
        "batches. Machine: {cpu}, GPUs: {gpus}; TensorFlow {tensorflow}, Keras {keras}, "
        "git {git_commit}.".format(**provenance["environment"]),
        "",
        "Accuracy: Table 2 protocol on the full validation split after the last step (the "
        "test sets are not read). Losses: mean "
        "over the last quarter of the steps. s / step: training wall time (with checkpoints "
        "and monitoring) divided by the steps trained.",
        "",
        f"| precision | s / step | USPS→MNIST | MNIST→USPS | {losses} |",
        "| --- | --- | --- | --- |" + " --- |" * len(COMPARED_LOSSES),
    ]
    for r in rows:
        seconds = "-" if r["seconds_per_step"] is None else f"{r['seconds_per_step']:.3f}"
        tail = " | ".join(f"{r['loss_tail_means'][k]:.4f}" for k in COMPARED_LOSSES)
        lines.append(f"| {r['precision']} | {seconds} | {r['accuracy']['usps_to_mnist']:.4f} | "
                     f"{r['accuracy']['mnist_to_usps']:.4f} | {tail} |")
    lines += ["", "Figures: `loss_curves.png` (per-step losses, moving average), "
              "`accuracy_monitor.png` (validation-subset accuracy at each checkpoint)."]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from lstnet_experiments.reproduction import plots
    from lstnet_experiments.reproduction.runner import Runner
    from lstnet_tf.evaluate import accuracies, direction_correct
    from lstnet_tf.files import environment, write_atomically

    download = False if args.no_download else None
    first = next(iter(args.configs.values()))
    classifiers, _ = Runner(first, args.work_dir, args.data_dir, download).classifiers(args.seed)
    rows, loss_csvs, monitor_csvs = [], {}, {}
    for precision, config in args.configs.items():
        runner = Runner(config, args.work_dir / precision, args.data_dir, download)
        run_dir = runner.work / f"seed{args.seed}"
        already = (run_dir / "checkpoints" / "latest").is_file()
        print(f"\n== {precision}: {config.train.steps} steps, width {config.model.width} ==",
              flush=True)
        start = time.time()
        model = runner.train(args.seed, classifiers)
        seconds = None if already else (time.time() - start) / config.train.steps
        loss_csvs[precision] = args.out / f"losses_{precision}.csv"
        monitor_csvs[precision] = args.out / f"monitor_{precision}.csv"
        write_atomically(loss_csvs[precision], (run_dir / "losses.csv").read_bytes())
        write_atomically(monitor_csvs[precision], (run_dir / "monitor.csv").read_bytes())
        translators = runner.translators(model, config.eval.weights, config.eval.batch_norm)
        rows.append({"precision": precision, "seconds_per_step": seconds,
                     "accuracy": accuracies(direction_correct(
                         translators, classifiers, runner.splits["validation"])),
                     "evaluated": f"{config.eval.weights}/{config.eval.batch_norm}",
                     "loss_tail_means": _tail_means(loss_csvs[precision])})
        print(f"{precision}: {rows[-1]}", flush=True)

    provenance = {
        "command": "python -m lstnet_experiments.speed.precision_check " + " ".join(args.argv),
        "preset": args.preset, "steps": args.steps, "seed": args.seed,
        "environment": environment(), "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    title = f"{args.preset} preset, {args.steps} steps, seed {args.seed}"
    plots.loss_comparison(loss_csvs, COMPARED_LOSSES, args.out / "loss_curves.png",
                          f"LSTNet losses by precision ({title})")
    plots.accuracy_curves(monitor_csvs, args.out / "accuracy_monitor.png",
                          f"Translated validation-subset accuracy by precision ({title})")
    write_atomically(args.out / "precision_check.json",
                     json.dumps({"rows": rows, "provenance": provenance}, indent=2))
    write_atomically(args.out / "precision_check.md", markdown(rows, provenance))
    print(f"\n{markdown(rows, provenance)}wrote {args.out}")
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
