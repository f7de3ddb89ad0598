"""The speed benchmark: FLOP counts from layer shapes, and the command writes its files."""

from __future__ import annotations

import json

from lstnet_tf import bench
from lstnet_tf.config import ModelConfig
from lstnet_tf.models import build_latent_discriminator, build_lstnet_networks


def test_forward_flops_of_the_latent_discriminator_by_hand():
    """D_l at width 1: conv 7x7x(128->256) k3, conv 7x7x(256->512) k3 after a stride-1 pool,
    conv 4x4x(512->256) k3 after a stride-2 pool, dense 4*4*256 -> 1; 2 FLOPs per multiply-add."""
    expected = (2 * 7 * 7 * 9 * 128 * 256 + 2 * 7 * 7 * 9 * 256 * 512
                + 2 * 4 * 4 * 9 * 512 * 256 + 2 * 4 * 4 * 256)
    assert bench.forward_flops(build_latent_discriminator(ModelConfig())) == expected


def test_transposed_convolution_flops_count_input_pixels():
    """G_s layer 1 at width 1: ConvT 7x7x(128->128) k3: 2*7*7*9*128*128 per image."""
    networks = build_lstnet_networks(ModelConfig(width=1.0))
    shared_gen_layer1 = 2 * 7 * 7 * 9 * 128 * 128
    shared_gen_layer2 = 2 * 7 * 7 * 9 * 128 * 256
    assert bench.forward_flops(networks.shared_generator) == shared_gen_layer1 + shared_gen_layer2


def test_reusing_the_forward_pass_saves_exactly_one_translation_forward():
    networks = build_lstnet_networks(ModelConfig(width=0.25))
    reuse = bench.iteration_flops(networks, 64, reuse_forward=True)
    recompute = bench.iteration_flops(networks, 64, reuse_forward=False)
    f = reuse["per_network_forward_per_image"]
    assert recompute["total"] - reuse["total"] == 64 * (f["E1"] + f["E2"] + f["G1"] + f["G2"])


def test_benchmark_command_writes_markdown_and_json(tmp_path):
    out = tmp_path / "bench.md"
    assert bench.main(["--widths", "0.0625", "--precisions", "float32", "--reuse", "on",
                       "--steps", "1", "--repeats", "1", "--warmup", "1", "--batch-size", "4",
                       "--synthetic", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| 0.0625 | float32 | True |" in text and "% of peak" in text
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert len(rows) == 1 and rows[0]["seconds_per_iteration_median"] > 0
    assert rows[0]["gflop_per_iteration"] > 0 and rows[0]["peak_gflops"] > 0
