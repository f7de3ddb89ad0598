"""FLOPs of one LSTNet training iteration, counted from the layer shapes, and their check
against what oneDNN executes.

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

Without reuse the D phase runs its own translation pass (all of fwd_EG) on top.

``count_check`` runs one iteration under ``ONEDNN_VERBOSE=1`` and compares.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import keras

ROOT = Path(__file__).resolve().parents[2]


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
        # The whole translation pass: BatchNorm's moving-average updates are stateful, so
        # graph pruning keeps even the outputs the discriminators do not read.
        per_pair["discriminator_phase_forward"] = fwd_eg
    phases = {k: v * batch_size for k, v in per_pair.items()}
    return {"per_network_forward_per_image": f, "phases": phases, "total": sum(phases.values())}


def _onednn_executions(log: str):
    """(primitive kind, propagation kind, shape, milliseconds) of each ONEDNN_VERBOSE=1 "exec"."""
    for line in log.splitlines():
        fields = line.split(",")
        if line.startswith("onednn_verbose") and "exec" in fields[:4]:
            at = fields.index("exec")
            yield fields[at + 2], fields[at + 4], fields[-2], float(fields[-1])


def onednn_executed_flops(log: str) -> int:
    """FLOPs of the convolutions and matrix products in a ONEDNN_VERBOSE=1 log: what oneDNN
    really ran, to check the count from layer shapes against."""
    total = 0
    for kind, _, shape, _ in _onednn_executions(log):
        if kind == "gemm_api":  # "MxK:KxN"
            (m, k), (_, n) = (map(int, part.split("x")) for part in shape.split(":"))
            total += 2 * m * k * n
        elif kind in ("convolution", "deconvolution", "inner_product"):
            d = {key: int(value) for key, value in re.findall(r"([a-z]+)(\d+)", shape)}
            spatial = (d.get("oh", 1) * d.get("ow", 1) * d.get("kh", 1) * d.get("kw", 1)
                       if kind != "inner_product" else d.get("ih", 1) * d.get("iw", 1))
            total += 2 * d["mb"] * d["ic"] // d.get("g", 1) * d["oc"] * spatial
    return total


def onednn_seconds_by_primitive(log: str) -> dict[str, float]:
    """Where oneDNN's time went: convolutions by propagation kind, everything else together."""
    seconds: dict[str, float] = {}
    for kind, propagation, _, milliseconds in _onednn_executions(log):
        key = f"convolution {propagation}" if kind == "convolution" else "other"
        seconds[key] = seconds.get(key, 0.0) + milliseconds / 1000
    return seconds


def count_check(width: float, batch_size: int, reuse_forward: bool,
                precision: str = "float32") -> dict:
    """Runs one iteration in a subprocess with ONEDNN_VERBOSE=1 and compares the FLOPs oneDNN
    executed with ``iteration_flops``; also splits oneDNN's logged time by primitive."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "check.md"
        run = subprocess.run(
            [sys.executable, "-m", "lstnet_experiments.speed.bench", "--widths", str(width), "--precisions",
             precision, "--reuse", "on" if reuse_forward else "off", "--steps", "1",
             "--repeats", "1", "--warmup", "0", "--batch-size", str(batch_size), "--synthetic",
             "--no-peak", "--out", str(out)],
            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "ONEDNN_VERBOSE": "1"})
        if run.returncode != 0:
            raise RuntimeError(f"the FLOP-count check run failed:\n{run.stderr[-2000:]}")
        counted = json.loads(out.with_suffix(".json").read_text())["rows"][0]["flops"]["total"]
    executed = onednn_executed_flops(run.stdout)
    return {"width": width, "precision": precision, "batch_size": batch_size,
            "reuse_forward": reuse_forward, "counted_gflop": counted / 1e9,
            "onednn_executed_gflop": executed / 1e9, "ratio": executed / counted,
            "onednn_seconds_by_primitive": onednn_seconds_by_primitive(run.stdout)}
