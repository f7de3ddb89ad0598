"""Training-speed benchmark: seconds per iteration, FLOPs, achieved GFLOP/s, input pipeline.

    python -m lstnet_experiments.speed.bench                          # the full grid into results/benchmarks.*
    python -m lstnet_experiments.speed.bench --widths 0.25 --precisions float32 --steps 10 --xla both

One iteration = one ``train_step``: a discriminator update and an encoder/generator update
on a batch of 64 MNIST + 64 USPS images (both phases). Run it with nothing else running.

The FLOP count and its oneDNN check are in ``flops.py``, the measured CPU peak in
``cpu_peak.py``.

"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from lstnet_tf.console import hide_tensorflow_logs

if __name__ == "__main__":  # before TensorFlow is imported, so that its start-up lines are hidden
    hide_tensorflow_logs("--verbose" in sys.argv)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstnet_experiments.speed.cpu_peak import measure_cpu_peak
from lstnet_experiments.speed.flops import count_check, iteration_flops
from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
from lstnet_tf.domains import MNIST, USPS
from lstnet_tf.files import environment, write_atomically
from lstnet_tf.precision import BF16_CPU_FLAGS, PEAK_KIND

MNIST_SHAPE = (MNIST.image_size, MNIST.image_size, 1)
USPS_SHAPE = (USPS.image_size, USPS.image_size, 1)

ROOT = Path(__file__).resolve().parents[2]
VARIANT_FIELDS = ("width", "precision", "reuse_forward", "jit_compile")
# (what, field, value, baseline value, what follows if it is slower everywhere): the variants
# findings() compares with their baseline.
COMPARISONS = (
    ("mixed_bfloat16", "precision", "mixed_bfloat16", "float32",
     "so precision auto would choose float32 on this CPU (it measures this at the start of a "
     "run)"),
    ("XLA (jit_compile)", "jit_compile", True, False,
     "so train.jit_compile stays off"),
)
NO_PEAK = {"clock_ghz": None, "gflops": {}, "derivation": "not measured (--no-peak)"}


class StepClock(keras.callbacks.Callback):
    """Records the wall-clock time at the start of training and at the end of every step."""

    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def time_training(width: float, precision: str, reuse_forward: bool, steps: int, repeats: int,
                  warmup: int, batch_size: int, data_dir=None, synthetic: bool = False,
                  jit_compile: bool = False) -> dict:
    """Median seconds per train_step over ``repeats`` windows of ``steps`` steps each."""
    from lstnet_tf.data import load_mnist, load_usps
    from lstnet_tf.pipeline import paired_dataset
    from lstnet_tf.lstnet import LSTNet
    from lstnet_tf.reference import ReferenceLSTNet
    from lstnet_tf.training import build_model

    if synthetic:
        rng = np.random.default_rng(0)
        x1 = rng.uniform(-1, 1, (4 * batch_size, *MNIST_SHAPE)).astype("float32")
        x2 = rng.uniform(-1, 1, (2 * batch_size, *USPS_SHAPE)).astype("float32")
    else:
        x1, x2 = load_mnist("train", data_dir)[0], load_usps("train", data_dir)[0]
    config = ExperimentConfig(model=ModelConfig(width=width),
                              train=TrainConfig(precision=precision, batch_size=batch_size,
                                                jit_compile=jit_compile))
    keras.utils.set_random_seed(0)
    # Without reuse: the straightforward loop, each phase with its own translation pass.
    model = build_model(config, model_class=LSTNet if reuse_forward else ReferenceLSTNet)
    dataset = paired_dataset(x1, x2, batch_size=batch_size, seed=0)
    # One fit() call, timed per step by a callback, so that fit's own start-up cost (iterator,
    # callbacks) is not charged to the steps; windows are consecutive runs of ``steps`` steps.
    clock = StepClock()
    model.fit(dataset, steps_per_epoch=warmup + steps * repeats, epochs=1, verbose=0,
              shuffle=False, callbacks=[clock])
    durations = np.diff(clock.times)[warmup:]
    windows = [float(np.mean(durations[i * steps:(i + 1) * steps])) for i in range(repeats)]

    iterator = iter(dataset)
    next(iterator)
    pipeline = []
    for _ in range(repeats):  # 4x the batches, so the prefetch buffer does not hide the cost
        start = time.perf_counter()
        for _ in range(4 * steps):
            next(iterator)
        pipeline.append((time.perf_counter() - start) / (4 * steps))
    flops = iteration_flops(model.networks, batch_size, reuse_forward)
    seconds = statistics.median(windows)
    del model
    keras.backend.clear_session()
    return {
        "width": width, "precision": precision, "reuse_forward": reuse_forward,
        "jit_compile": jit_compile, "batch_size": batch_size, "steps_per_window": steps,
        "repeats": repeats, "seconds_per_iteration_median": seconds,
        "seconds_per_iteration_windows": windows,
        "image_pairs_per_second": batch_size / seconds,
        "gflop_per_iteration": flops["total"] / 1e9,
        "achieved_gflops": flops["total"] / 1e9 / seconds,
        "input_pipeline_seconds_per_batch_median": statistics.median(pipeline),
        "flops": flops,
    }


def with_peak_fraction(row: dict, peak: dict) -> dict:
    """Adds the fraction of the peak of the arithmetic the row's convolutions run in."""
    peak_gflops = peak["gflops"].get(PEAK_KIND[row["precision"]])
    fraction = None if not peak_gflops else row["achieved_gflops"] / peak_gflops
    return {**row, "peak_gflops": peak_gflops, "fraction_of_peak": fraction}


def _check_line(check: dict) -> str:
    line = (f"- width {check['width']}, {check.get('precision', 'float32')}: counted "
            f"{check['counted_gflop']:.1f} GFLOP, oneDNN executed "
            f"{check['onednn_executed_gflop']:.1f} GFLOP (ratio {check['ratio']:.4f})")
    seconds = check.get("onednn_seconds_by_primitive")
    if seconds:
        total = sum(seconds.values())
        shares = ", ".join(f"{name} {100 * value / total:.0f}%" for name, value in
                           sorted(seconds.items(), key=lambda item: -item[1]))
        line += f"; {total:.1f} s logged: {shares}"
    return line


def _straightforward(rows: list[dict], width: float) -> dict | None:
    """The baseline row: float32, no forward reuse, no XLA."""
    return next((r for r in rows if r["width"] == width and r["precision"] == "float32"
                 and not r["reuse_forward"] and not r["jit_compile"]), None)


def findings(rows: list[dict]) -> list[str]:
    """Sentences derived from the rows: each width's speed-up over the straightforward float32
    step, and whether mixed_bfloat16 and XLA pay off against the same configuration without."""
    lines, fastest = [], set()
    for width in dict.fromkeys(r["width"] for r in rows):
        best = min((r for r in rows if r["width"] == width),
                   key=lambda r: r["seconds_per_iteration_median"])
        fastest.add(_variant(best))
        base = _straightforward(rows, width)
        if base is not None:
            lines.append(
                f"- Width {width}: the fastest variant ({_variant(best)}) takes "
                f"{best['seconds_per_iteration_median']:.2f} s per iteration, "
                f"{base['seconds_per_iteration_median'] / best['seconds_per_iteration_median']:.2f}x "
                f"faster than the straightforward float32 step "
                f"({base['seconds_per_iteration_median']:.2f} s).")
    if len(fastest) == 1 and len({r["width"] for r in rows}) > 1:
        setting = fastest.pop()
        xla = "on" if TrainConfig().jit_compile else "off"
        lines.append(f"- The fastest setting is the same at every width: {setting} "
                     f"(training reuses the forward pass; XLA is {xla} by default).")
    for label, field, value, baseline, if_slower in COMPARISONS:
        pairs = [(r, o) for r in rows if r[field] == value for o in rows
                 if o[field] == baseline and all(r[f] == o[f] for f in VARIANT_FIELDS if f != field)]
        if not pairs:
            continue
        ratios = [r["seconds_per_iteration_median"] / o["seconds_per_iteration_median"]
                  for r, o in pairs]
        verdict = ("slower than" if min(ratios) > 1 else
                   "faster than" if max(ratios) < 1 else "sometimes faster, sometimes slower than")
        lines.append(f"- {label} is {verdict} the same configuration without it in the "
                     f"{len(pairs)} pair(s) measured (time ratio {min(ratios):.2f} to "
                     f"{max(ratios):.2f})" + (f", {if_slower}." if min(ratios) > 1 else "."))
    return lines


def _variant(row: dict) -> str:
    parts = [row["precision"], "reuse forward" if row["reuse_forward"] else "no reuse"]
    if row["jit_compile"]:
        parts.append("XLA")
    return ", ".join(parts)


def markdown(rows: list[dict], peak: dict, checks: list[dict], env: dict, command: str,
             notes: str, rendered_by: str | None = None) -> str:
    lines = [
        "# Training speed benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {env['cpu']} (flags of note: "
        f"{', '.join(env['cpu_flags']) if 'cpu_flags' in env else 'not recorded'}), "
        f"GPUs: {env['gpus']}; TensorFlow {env['tensorflow']}, "
        f"Keras {env['keras']}, git {env['git_commit']}.",
    ]
    if rendered_by:
        lines.append(f"This page was rendered from the run's JSON by {rendered_by}.")
    lines += [
        "",
        "One iteration = discriminator update + encoder/generator update on 64 + 64 images. "
        "Median over the timing windows; FLOPs counted from the layer shapes (see "
        "`lstnet_experiments/speed/flops.py` for the formula). XLA = `train.jit_compile`.",
        "",
        _peak_line(peak),
        "",
        "| width | precision | reuse forward | XLA | s / iteration | image pairs / s | "
        "GFLOP / iter | GFLOP/s | % of peak | input pipeline s / batch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        # XLA's own kernels do not run what the count describes (see the note below).
        if r["jit_compile"] or r["fraction_of_peak"] is None:
            fraction = "-"
        else:
            fraction = f"{100 * r['fraction_of_peak']:.1f}"
        achieved = "-" if r["jit_compile"] else f"{r['achieved_gflops']:.1f}"
        lines.append(
            f"| {r['width']} | {r['precision']} | {r['reuse_forward']} | {r['jit_compile']} | "
            f"{r['seconds_per_iteration_median']:.3f} | {r['image_pairs_per_second']:.1f} | "
            f"{r['gflop_per_iteration']:.1f} | {achieved} | {fraction} | "
            f"{r['input_pipeline_seconds_per_batch_median']:.4f} |")
    if any(r["jit_compile"] for r in rows):
        lines += ["", "XLA rows have no GFLOP/s or % of peak: XLA compiles its own kernels "
                  "instead of oneDNN's, may merge the repeated translation pass of a no-reuse "
                  "step, and may compute bfloat16 convolutions in float32, so the count from "
                  "layer shapes (checked against oneDNN below) need not be what it executes."]
    if checks:
        lines += ["", "FLOP count check (one iteration, reuse forward, with ONEDNN_VERBOSE=1: "
                  "the FLOPs of every convolution and matrix product oneDNN executed, from the "
                  "shapes it logs), and where oneDNN's logged time went:", ""]
        lines += [_check_line(c) for c in checks]
    found = findings(rows)
    if found:
        lines += ["", "Findings (computed from the table):", "", *found]
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def _peak_line(peak: dict) -> str:
    measured = ", ".join(f"{kind} {value:.0f} GFLOP/s"
                         for kind, value in peak["gflops"].items() if value)
    if not measured:
        return f"Peak: {peak['derivation']}."
    return (f"Peak: {peak['derivation']}. {measured}. mixed_bfloat16 rows are compared with "
            "the bfloat16 peak, the arithmetic their convolutions run in.")


BENCHMARKS = ROOT / "results" / "benchmarks"


def machine_identity(env: dict) -> tuple[str, frozenset | None]:
    """What makes two machines the same for a timing: the CPU model and the CPU flags that
    decide the precision (``precision.BF16_CPU_FLAGS``); None for flags a page did not record."""
    flags = env.get("cpu_flags")
    return (env["cpu"].split(" x ")[0],
            None if flags is None else frozenset(f for f in flags if f in BF16_CPU_FLAGS))


def machine_slug(env: dict) -> str:
    """A file name for the machine a run was measured on: CPU model and bf16 support."""
    model, flags = machine_identity(env)
    bf16 = "-bf16" if flags else ""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"\(r\)|\(tm\)", "", model.lower())).strip("-") + bf16


def render_index(directory: Path = BENCHMARKS, page: Path | None = None) -> Path:
    """``results/benchmarks.md``: one section per measured machine, each from its JSON, so a
    run on a new machine adds a section instead of replacing the others' findings."""
    page = page or directory.parent / "benchmarks.md"
    sections = ["# Training-speed benchmarks, one section per machine", "",
                "Each section is rendered from `results/benchmarks/<machine>.json`; see the "
                "docs/speed.md for the reading.", ""]
    for path in sorted(directory.glob("*.json")):
        run = json.loads(path.read_text())
        text = markdown(run["rows"], run["peak"], run.get("count_checks", []), run["environment"],
                        run["command"].strip(), run.get("notes", ""))
        sections += [f"## {path.stem}", "", text.split("\n", 1)[1].lstrip(), ""]
    write_atomically(page, "\n".join(sections))
    return page


def _choices(value: str) -> list[bool]:
    return {"on": [True], "off": [False], "both": [True, False]}[value]


def render(json_path: Path, parser) -> int:
    """Rewrites the markdown beside ``json_path`` from the numbers in it."""
    try:
        run = json.loads(json_path.read_text())
        page = markdown(run["rows"], run["peak"], run.get("count_checks", []),
                        run["environment"], run["command"].strip(), run.get("notes", ""),
                        rendered_by=f"git {environment()['git_commit']}")
    except (OSError, ValueError, KeyError) as error:
        parser.error(f"--render {json_path}: not a benchmark JSON written by this command "
                     f"({error!r})")
    write_atomically(json_path.with_suffix(".md"), page)
    print(f"wrote {json_path.with_suffix('.md')}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--reuse", choices=["on", "off", "both"], default="both",
                        help="reuse the translation forward pass across the two phases")
    parser.add_argument("--xla", choices=["on", "off", "both"], default="off",
                        help="compile train_step with XLA (jit_compile)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per window")
    parser.add_argument("--repeats", type=int, default=3, help="timing windows (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--synthetic", action="store_true",
                        help="random images instead of MNIST/USPS (no data needed)")
    parser.add_argument("--check-count", action="store_true",
                        help="per width, also run one float32 iteration under ONEDNN_VERBOSE=1 "
                             "and compare the FLOPs oneDNN executed with the count")
    parser.add_argument("--no-peak", action="store_true", help="do not measure the CPU peak")
    parser.add_argument("--notes", default="", help="text appended under the table")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only re-render the markdown beside an earlier run's JSON (no "
                             "timing); the page says which commit rendered it")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file; the JSON goes beside it (default: "
                             "results/benchmarks/<machine>.md, and results/benchmarks.md is "
                             "re-rendered with every machine's section)")
    args = parser.parse_args(argv)
    if args.render is not None:
        return render(args.render, parser)
    if min(args.steps, args.repeats, args.batch_size) < 1 or args.warmup < 0:
        parser.error("--steps, --repeats and --batch-size must be >= 1, --warmup >= 0")
    if min(args.widths) <= 0:
        parser.error("--widths must be > 0")
    if args.out is not None and args.out.suffix != ".md":
        parser.error("--out must name a .md file")

    # Measured first, while nothing else of ours runs.
    peak = NO_PEAK if args.no_peak else measure_cpu_peak()
    print(f"CPU peak: {peak['derivation']}", flush=True)
    checks = []
    if args.check_count:
        for width in args.widths:
            for precision in args.precisions:
                checks.append(count_check(width, args.batch_size, True, precision))
                print(f"FLOP count check: {checks[-1]}", flush=True)
    rows = []
    for width in args.widths:
        for precision in args.precisions:
            for reuse_forward in _choices(args.reuse):
                for jit_compile in _choices(args.xla):
                    row = with_peak_fraction(time_training(
                        width, precision, reuse_forward, args.steps, args.repeats, args.warmup,
                        args.batch_size, args.data_dir, args.synthetic, jit_compile), peak)
                    rows.append(row)
                    print(f"width {width} {_variant(row)}: "
                          f"{row['seconds_per_iteration_median']:.3f} s/iteration, "
                          f"{row['achieved_gflops']:.1f} GFLOP/s, input pipeline "
                          f"{row['input_pipeline_seconds_per_batch_median']:.4f} s/batch",
                          flush=True)
    env = environment()
    command = "python -m lstnet_experiments.speed.bench " + " ".join(sys.argv[1:] if argv is None else argv)
    out = args.out or BENCHMARKS / f"{machine_slug(env)}.md"
    write_atomically(out, markdown(rows, peak, checks, env, command.strip(), args.notes))
    write_atomically(out.with_suffix(".json"),
                     json.dumps({"command": command, "environment": env, "peak": peak,
                                 "count_checks": checks, "notes": args.notes, "rows": rows},
                                indent=2))
    print(f"wrote {out} and {out.with_suffix('.json')}")
    if args.out is None:
        print(f"wrote {render_index()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
