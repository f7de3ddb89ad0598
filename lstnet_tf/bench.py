"""Training-speed benchmark: seconds per iteration, FLOPs, achieved GFLOP/s, input pipeline.

    python -m lstnet_tf.bench                          # the full grid into results/benchmarks.*
    python -m lstnet_tf.bench --widths 0.25 --precisions float32 --steps 10

One iteration = one ``train_step``: a discriminator update and an encoder/generator update
on a batch of 64 MNIST + 64 USPS images (both phases). Run it with nothing else running.

FLOP count (multiply-add = 2 FLOPs; BatchNorm, activations and pooling are elementwise and
left out, <2% here). Per image, a Conv2D costs 2*Ho*Wo*k*k*Cin*Cout, a Conv2DTranspose
2*Hi*Wi*k*k*Cin*Cout, a Dense 2*in*out; F(net) is their sum over a network. A backward pass
costs 2x its forward (gradients for inputs and for weights), 1x where only input gradients are
needed. Per image pair, with reuse_forward (one translation pass serves both phases):

    translations  fwd_EG = 2 F(E1) + 2 F(E2) + 3 F(G1) + 3 F(G2)
                  (E1 x1, E2 x2, four decodings, re-encoding of both translations, two cycles)
    D phase       3 * 2 * (F(D1) + F(D2) + F(Dl))      (real + translated, fwd + bwd)
    G phase       2 * (F(D1) + F(D2) + 2 F(Dl))       (D fwd + input-gradient bwd)
                  + 2 * fwd_EG                          (bwd through the translations)

Without reuse the D phase runs its own E1, E2, G1(z2), G2(z1) forward pass on top.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

from lstnet_tf.config import ModelConfig, TrainConfig, ExperimentConfig
from lstnet_tf.report import environment, write_atomically

ROOT = Path(__file__).resolve().parent.parent
# Per core and cycle: 2 AVX-512 FMA units x 16 float32 lanes x 2 FLOPs; AVX512-BF16's
# VDPBF16PS does twice the float32 multiply-adds per instruction.
FLOPS_PER_CYCLE = {"float32": 64, "mixed_bfloat16": 128}


def forward_flops(model) -> int:
    """Multiply-add FLOPs of one image through ``model`` (Conv, ConvTranspose, Dense)."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            k = layer.kernel_size
            total += 2 * h * w * k[0] * k[1] * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            k = layer.kernel_size
            total += 2 * h * w * k[0] * k[1] * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def iteration_flops(networks, batch_size: int, reuse_forward: bool) -> dict:
    """FLOPs of one training iteration, by phase (see the module docstring)."""
    (e1, e2), (g1, g2) = networks.encoders, networks.generators
    (d1, d2), dl = networks.image_discriminators, networks.latent_discriminator
    f = {name: forward_flops(m) for name, m in
         {"E1": e1, "E2": e2, "G1": g1, "G2": g2, "D1": d1, "D2": d2, "Dl": dl}.items()}
    fwd_eg = 2 * f["E1"] + 2 * f["E2"] + 3 * f["G1"] + 3 * f["G2"]
    per_pair = {
        "translations_forward": fwd_eg,
        "discriminator_phase": 6 * (f["D1"] + f["D2"] + f["Dl"]),
        "generator_phase": 2 * (f["D1"] + f["D2"] + 2 * f["Dl"]) + 2 * fwd_eg,
    }
    if not reuse_forward:
        per_pair["discriminator_phase_forward"] = f["E1"] + f["E2"] + f["G1"] + f["G2"]
    phases = {k: v * batch_size for k, v in per_pair.items()}
    return {"per_network_forward_per_image": f, "phases": phases, "total": sum(phases.values())}


def cpu_peak_gflops(precision: str) -> tuple[float, str]:
    mhz = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    except OSError:
        pass
    cores = os.cpu_count() or 1
    if mhz is None:
        return float("nan"), "clock unknown"
    per_cycle = FLOPS_PER_CYCLE.get(precision, 64)
    return (cores * mhz * 1e6 * per_cycle / 1e9,
            f"{cores} cores x {mhz / 1000:.2f} GHz x {per_cycle} FLOP/cycle")


class StepClock(keras.callbacks.Callback):
    """Records the wall-clock time at the start of training and at the end of every step."""

    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def time_training(width: float, precision: str, reuse_forward: bool, steps: int, repeats: int,
                  warmup: int, batch_size: int, data_dir=None, synthetic: bool = False) -> dict:
    """Median seconds per train_step over ``repeats`` windows of ``steps`` steps each."""
    from lstnet_tf.data import load_mnist, load_usps, paired_dataset
    from lstnet_tf.training import build_lstnet

    if synthetic:
        rng = np.random.default_rng(0)
        x1 = rng.uniform(-1, 1, (4 * batch_size, 28, 28, 1)).astype("float32")
        x2 = rng.uniform(-1, 1, (2 * batch_size, 16, 16, 1)).astype("float32")
    else:
        x1, x2 = load_mnist("train", data_dir)[0], load_usps("train", data_dir)[0]
    config = ExperimentConfig(model=ModelConfig(width=width),
                              train=TrainConfig(precision=precision, reuse_forward=reuse_forward,
                                                batch_size=batch_size))
    keras.utils.set_random_seed(0)
    model = build_lstnet(config)
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
    peak, peak_how = cpu_peak_gflops(precision)
    del model
    keras.backend.clear_session()
    return {
        "width": width, "precision": precision, "reuse_forward": reuse_forward,
        "batch_size": batch_size, "steps_per_window": steps, "repeats": repeats,
        "seconds_per_iteration_median": seconds, "seconds_per_iteration_windows": windows,
        "image_pairs_per_second": batch_size / seconds,
        "gflop_per_iteration": flops["total"] / 1e9,
        "achieved_gflops": flops["total"] / 1e9 / seconds,
        "peak_gflops": peak, "peak_derivation": peak_how,
        "fraction_of_peak": flops["total"] / 1e9 / seconds / peak,
        "input_pipeline_seconds_per_batch_median": statistics.median(pipeline),
        "flops": flops,
    }


def markdown(rows: list[dict], env: dict, command: str, notes: str) -> str:
    lines = [
        "# Training speed benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {env['cpu']}, GPUs: {env['gpus']}; TensorFlow {env['tensorflow']}, "
        f"Keras {env['keras']}, git {env['git_commit']}.",
        "",
        "One iteration = discriminator update + encoder/generator update on 64 + 64 images. "
        "Median over the timing windows; FLOPs counted from the layer shapes (see "
        "`lstnet_tf/bench.py` for the formula); peak = cores x clock x FLOP/cycle "
        "(AVX-512: 2 FMA units x 16 float32 lanes x 2; AVX512-BF16 doubles it).",
        "",
        "| width | precision | reuse forward | s / iteration | image pairs / s | GFLOP / iter | "
        "GFLOP/s | % of peak | input pipeline s / batch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['width']} | {r['precision']} | {r['reuse_forward']} | "
            f"{r['seconds_per_iteration_median']:.3f} | {r['image_pairs_per_second']:.1f} | "
            f"{r['gflop_per_iteration']:.1f} | {r['achieved_gflops']:.1f} | "
            f"{100 * r['fraction_of_peak']:.1f} | {r['input_pipeline_seconds_per_batch_median']:.4f} |")
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--reuse", choices=["on", "off", "both"], default="both",
                        help="reuse the translation forward pass across the two phases")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per window")
    parser.add_argument("--repeats", type=int, default=3, help="timing windows (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--synthetic", action="store_true",
                        help="random images instead of MNIST/USPS (no data needed)")
    parser.add_argument("--notes", default="", help="text appended under the table")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.md",
                        help="markdown file; the JSON goes beside it")
    args = parser.parse_args(argv)
    if min(args.steps, args.repeats, args.batch_size) < 1 or args.warmup < 0:
        parser.error("--steps, --repeats and --batch-size must be >= 1, --warmup >= 0")
    if min(args.widths) <= 0:
        parser.error("--widths must be > 0")
    if args.out.suffix != ".md":
        parser.error("--out must name a .md file")

    reuse = {"on": [True], "off": [False], "both": [True, False]}[args.reuse]
    rows = []
    for width in args.widths:
        for precision in args.precisions:
            for reuse_forward in reuse:
                row = time_training(width, precision, reuse_forward, args.steps, args.repeats,
                                    args.warmup, args.batch_size, args.data_dir, args.synthetic)
                rows.append(row)
                print(f"width {width} {precision} reuse={reuse_forward}: "
                      f"{row['seconds_per_iteration_median']:.3f} s/iteration, "
                      f"{row['achieved_gflops']:.1f} GFLOP/s, input pipeline "
                      f"{row['input_pipeline_seconds_per_batch_median']:.4f} s/batch", flush=True)
    env = environment()
    command = "python -m lstnet_tf.bench " + " ".join(sys.argv[1:] if argv is None else argv)
    write_atomically(args.out, markdown(rows, env, command.strip(), args.notes))
    write_atomically(args.out.with_suffix(".json"),
                     json.dumps({"command": command, "environment": env, "rows": rows}, indent=2))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
