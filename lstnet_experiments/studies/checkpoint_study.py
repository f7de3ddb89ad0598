"""Every evaluation variant of one saved checkpoint on the validation split, beside the final
validation numbers of the same seed in another results directory.

    python -m lstnet_experiments.studies.checkpoint_study --preset cpu --work-dir runs/cpu --seed 0 \
        --step 3500 --beside results/cpu_3500_float32 --out results/cpu_study/checkpoint_3500

Used for the precision check at full length: the cpu preset holds its learning rates for the
first 3500 of its 7000 steps, so its step-3500 checkpoint (in the precision ``auto`` chose) is
the 3500-step float32 preset's final state up to the arithmetic: same seed, initial weights,
batches and learning rates. Reads the validation split only. Writes ``checkpoint_seed<N>.json``
and a ``checkpoints.md`` over every such file in --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from lstnet_tf.config import ConfigError, available_presets, load_config
from lstnet_tf.console import run_command
from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=available_presets(), default="cpu")
    parser.add_argument("--work-dir", type=Path, required=True,
                        help="the runs directory (seed<N>/checkpoints, classifiers/)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--step", type=int, required=True, help="the checkpoint's step")
    parser.add_argument("--beside", type=Path, required=True,
                        help="a results directory whose seed<N>.json to set beside it")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args.config = load_config(args.preset)
    except ConfigError as error:
        parser.error(str(error))
    # Everything that can be wrong is found before minutes of scoring.
    from lstnet_tf.checkpoints import CheckpointStore
    from lstnet_tf.run_record import PRECISION_FILE

    run_dir = args.work_dir / f"seed{args.seed}"
    store = CheckpointStore(run_dir / "checkpoints")
    if not store.has(args.step):
        parser.error(f"no checkpoint of step {args.step} in {store.directory} (kept: "
                     f"{sorted(p.name for p in store.directory.glob('step-*'))})")
    if not (run_dir / PRECISION_FILE).is_file():
        parser.error(f"{run_dir} has no {PRECISION_FILE}: not a run directory of train_model")
    beside = args.beside / f"seed{args.seed}.json"
    try:
        args.beside_result = json.loads(beside.read_text())
        args.beside_result["validation"]["variants"]
    except (OSError, ValueError, KeyError, TypeError):
        parser.error(f"{beside} is not a seed file with validation variants "
                     "(reproduce.py --all writes them)")
    for path in sorted(args.out.glob("checkpoint_seed*.json")):
        other = json.loads(path.read_text())
        if (other["step"], other["work_dir"], other["beside"]) != (
                args.step, str(args.work_dir), str(args.beside)):
            parser.error(f"{path} compares step {other['step']} of {other['work_dir']} with "
                         f"{other['beside']}: write this comparison to another --out")
    return args


def markdown(rows: list[dict]) -> str:
    first = rows[0]
    lines = [
        "# A checkpoint's evaluation variants beside another run's final ones (validation)", "",
        f"Checkpoints of `{first['work_dir']}` at step {first['step']} (precision "
        f"{', '.join(sorted({r['precision'] for r in rows}))}) beside the final checkpoints in "
        f"`{first['beside']}` (precision {', '.join(sorted({r['beside_precision'] for r in rows}))}), "
        "same seeds. Full validation split; the test sets are not read.", "",
        "Commands: " + "; ".join(f"`{r['command']}` at git `{r['git_commit']}`" for r in rows), "",
        "| variant | direction | per seed (checkpoint / beside) | mean difference |",
        "| --- | --- | --- | --- |",
    ]
    for variant in first["variants"]:
        for direction in DIRECTIONS:
            pairs = [(r["seed"], r["variants"][variant][direction],
                      r["beside_variants"][variant][direction]) for r in rows]
            per_seed = ", ".join(f"{s}: {a:.4f} / {b:.4f}" for s, a, b in pairs)
            mean = statistics.fmean(a - b for _, a, b in pairs)
            lines.append(f"| {variant} | {DIRECTION_LABELS[direction]} | {per_seed} | {mean:+.4f} |")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from lstnet_experiments.reproduction.runner import Runner
    from lstnet_tf.files import environment, write_atomically
    from lstnet_tf.checkpoints import CheckpointStore
    from lstnet_tf.run_record import recorded_precision
    from lstnet_tf.training import build_model

    runner = Runner(args.config, args.work_dir, args.data_dir, download=False)
    run_dir = args.work_dir / f"seed{args.seed}"
    classifiers, _ = runner.classifiers(args.seed)
    choice = recorded_precision(run_dir)  # the checkpoint's: parse_args checked it is there
    model = build_model(args.config, choice.precision)
    CheckpointStore(run_dir / "checkpoints").restore(model, args.step)
    print(f"Seed {args.seed}, step {args.step}, precision {choice.precision}:", flush=True)
    beside = args.beside_result
    row = {"seed": args.seed, "step": args.step, "precision": choice.precision,
           "work_dir": str(args.work_dir), "beside": str(args.beside),
           "beside_precision": beside.get("precision", {}).get("precision", "float32"),
           "variants": runner.validation_study(model, classifiers),
           "beside_variants": beside["validation"]["variants"],
           "command": "python -m lstnet_experiments.studies.checkpoint_study " + " ".join(args.argv),
           "git_commit": environment()["git_commit"]}
    this = args.out / f"checkpoint_seed{args.seed}.json"
    rows = [json.loads(p.read_text()) for p in sorted(args.out.glob("checkpoint_seed*.json"))
            if p != this] + [row]
    text = markdown(sorted(rows, key=lambda r: r["seed"]))
    write_atomically(this, json.dumps(row, indent=2))
    write_atomically(args.out / "checkpoints.md", text)
    print(text)
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
