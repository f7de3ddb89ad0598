"""The speed benchmark: FLOP counts from layer shapes, and the command writes its files."""

from __future__ import annotations

import json

import pytest

from lstnet_experiments.speed import bench, cpu_peak, flops
from lstnet_tf.config import ModelConfig
from lstnet_tf.models import build_latent_discriminator, build_lstnet_networks


def test_forward_flops_of_the_latent_discriminator_by_hand():
    """D_l at width 1: conv 7x7x(128->256) k3, conv 7x7x(256->512) k3 after a stride-1 pool,
    conv 4x4x(512->256) k3 after a stride-2 pool, dense 4*4*256 -> 1; 2 FLOPs per multiply-add."""
    expected = (2 * 7 * 7 * 9 * 128 * 256 + 2 * 7 * 7 * 9 * 256 * 512
                + 2 * 4 * 4 * 9 * 512 * 256 + 2 * 4 * 4 * 256)
    assert flops.forward_flops(build_latent_discriminator(ModelConfig())) == expected


def test_transposed_convolution_flops_count_input_pixels():
    """G_s layer 1 at width 1: ConvT 7x7x(128->128) k3: 2*7*7*9*128*128 per image."""
    networks = build_lstnet_networks(ModelConfig(width=1.0))
    shared_gen_layer1 = 2 * 7 * 7 * 9 * 128 * 128
    shared_gen_layer2 = 2 * 7 * 7 * 9 * 128 * 256
    assert flops.forward_flops(networks.shared_generator) == shared_gen_layer1 + shared_gen_layer2


def test_reusing_the_forward_pass_saves_exactly_one_translation_forward():
    networks = build_lstnet_networks(ModelConfig(width=0.25))
    reuse = flops.iteration_flops(networks, 64, reuse_forward=True)
    recompute = flops.iteration_flops(networks, 64, reuse_forward=False)
    assert recompute["total"] - reuse["total"] == reuse["phases"]["translations_forward"]


@pytest.fixture(scope="module")
def measured_peak() -> dict:
    """This CPU's peak, measured once for the module (one round: only its form is checked)."""
    return cpu_peak.measure_cpu_peak(repeats=1)


def test_benchmark_command_writes_markdown_and_json(tmp_path, monkeypatch, measured_peak):
    """The command times a step and puts it against the CPU's peak: the peak measured once
    for this module stands in for the command's own measurement (best of 5 rounds)."""
    measured = []
    monkeypatch.setattr(bench, "measure_cpu_peak",
                        lambda *args, **kwargs: measured.append(args) or measured_peak)
    out = tmp_path / "bench.md"
    assert bench.main(["--widths", "0.0625", "--precisions", "float32", "--reuse", "on",
                       "--steps", "1", "--repeats", "1", "--warmup", "1", "--batch-size", "4",
                       "--synthetic", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| 0.0625 | float32 | True | False |" in text and "% of peak" in text
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert len(rows) == 1 and rows[0]["seconds_per_iteration_median"] > 0
    assert rows[0]["gflop_per_iteration"] > 0 and rows[0]["peak_gflops"] > 0
    assert measured == [()]  # the peak was asked for once, with the command's default rounds
    assert rows[0]["peak_gflops"] == measured_peak["gflops"]["float32"]

    out.unlink()
    assert bench.main(["--render", str(out.with_suffix(".json"))]) == 0
    rendered = out.read_text()
    assert "rendered from the run's JSON by git" in rendered
    assert "| 0.0625 | float32 | True | False |" in rendered


def test_render_rejects_a_file_that_is_not_a_benchmark_json(tmp_path, capsys):
    bad = tmp_path / "other.json"
    bad.write_text('{"rows": []}')
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--render", str(bad)])
    assert exit_info.value.code == 2 and "not a benchmark JSON" in capsys.readouterr().err
    assert not bad.with_suffix(".md").exists()


@pytest.mark.parametrize("reuse_forward", [True, False])
def test_flop_count_matches_what_onednn_executes(reuse_forward):
    """The count from layer shapes against oneDNN's own log of one real iteration. Slightly
    below 1 is expected: nothing needs the input gradient of the first layers."""
    check = flops.count_check(0.0625, 4, reuse_forward)
    assert 0.98 < check["ratio"] <= 1.0, check
    convolutions = {"convolution forward_training", "convolution backward_data",
                    "convolution backward_weights"}
    kinds = set(check["onednn_seconds_by_primitive"])
    assert kinds and kinds <= convolutions | {"other"}, kinds
    # Where oneDNN runs the convolutions as convolution primitives (the AVX-512 CPUs measured),
    # all three propagation kinds show; on an AVX2-only AMD EPYC they ran as matrix products.
    if kinds & convolutions:
        assert kinds >= convolutions, kinds


def test_onednn_log_parsing_by_hand():
    log = "\n".join([
        "onednn_verbose,v1,info,oneDNN v3.7.3 (commit N/A)",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,"
        "forward_training,src:f32 dst:f32,,alg:convolution_direct,"
        "mb2_ic3oc4_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1,0.1",
        "onednn_verbose,v1,primitive,exec,cpu,gemm_api,,undef,src_f32 dst_f32,,,5x6:6x7,0.01",
        "onednn_verbose,v1,primitive,exec,cpu,inner_product,x64:gemm:jit,forward_training,"
        "src:f32,,,mb2ic10oc1,0.01",
        "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32,,,2x3,0.01",
        "onednn_verbose,v1,primitive,create:cache_miss,cpu,convolution,x,forward_training,"
        "src:f32,,,mb2_ic3oc4_ih8oh8kh3_iw8ow8kw3,0.1",
    ])
    assert flops.onednn_executed_flops(log) == (2 * 2 * 3 * 4 * 8 * 8 * 3 * 3 + 2 * 5 * 6 * 7
                                                + 2 * 2 * 10 * 1)
    assert flops.onednn_seconds_by_primitive(log) == pytest.approx(
        {"convolution forward_training": 0.0001, "other": 0.00003})


def test_cpu_peak_is_measured_with_the_compiler_and_estimated_without(monkeypatch,
                                                                      measured_peak):
    measured = measured_peak
    assert measured["clock_ghz"] > 0.5 and measured["gflops"]["float32"] > 1
    assert "measured by lstnet_experiments/speed/cpu_peak.c" in measured["derivation"]
    assert measured["gflops"]["float32"] == max(measured["rounds"]["float32_gflops"])
    monkeypatch.setattr(cpu_peak.shutil, "which", lambda name: None)
    estimated = cpu_peak.measure_cpu_peak(repeats=1)
    assert "not measured" in estimated["derivation"]


def _row(width, precision, reuse, xla, seconds):
    return {"width": width, "precision": precision, "reuse_forward": reuse, "jit_compile": xla,
            "seconds_per_iteration_median": seconds}


def test_findings_compare_variants_with_their_baselines():
    rows = [_row(1.0, "float32", False, False, 10.0), _row(1.0, "float32", True, False, 8.0),
            _row(1.0, "mixed_bfloat16", True, False, 12.0),
            _row(1.0, "float32", True, True, 6.0), _row(1.0, "float32", False, True, 11.0)]
    text = "\n".join(bench.findings(rows))
    assert "fastest variant (float32, reuse forward, XLA) takes 6.00 s" in text
    assert "1.67x faster than the straightforward float32 step (10.00 s)" in text
    assert "mixed_bfloat16 is slower than the same configuration without it in the 1 pair(s) " \
           "measured (time ratio 1.50 to 1.50), so precision auto would choose float32" in text
    assert "XLA (jit_compile) is sometimes faster, sometimes slower than the same " \
           "configuration without it in the 2 pair(s) measured (time ratio 0.75 to 1.10)" in text


def test_xla_rows_get_no_flop_rate_since_the_count_does_not_describe_them():
    peak = {"derivation": "d", "gflops": {"float32": 100.0}}
    rows = [bench.with_peak_fraction({**_row(1.0, "float32", True, xla, 2.0),
                                      "image_pairs_per_second": 32.0, "gflop_per_iteration": 100.0,
                                      "achieved_gflops": 50.0,
                                      "input_pipeline_seconds_per_batch_median": 0.001}, peak)
            for xla in (False, True)]
    env = {"cpu": "c", "gpus": "none", "tensorflow": "t", "keras": "k", "git_commit": "g"}
    text = bench.markdown(rows, peak, [], env, "cmd", "")
    assert "| 1.0 | float32 | True | False | 2.000 | 32.0 | 100.0 | 50.0 | 50.0 | 0.0010 |" in text
    assert "| 1.0 | float32 | True | True | 2.000 | 32.0 | 100.0 | - | - | 0.0010 |" in text
    assert "XLA rows have no GFLOP/s" in text


def test_the_peak_line_names_only_what_was_measured():
    assert bench._peak_line(bench.NO_PEAK) == "Peak: not measured (--no-peak)."
    measured = bench._peak_line({"derivation": "d", "gflops": {"float32": 100.0,
                                                               "bfloat16": 200.0}})
    assert measured.startswith("Peak: d. float32 100 GFLOP/s, bfloat16 200 GFLOP/s. ")
    assert "compared with the bfloat16 peak" in measured


def test_findings_say_when_the_fastest_setting_is_the_same_at_every_width():
    rows = [_row(w, "float32", reuse, False, w * (1 if reuse else 2))
            for w in (1.0, 0.5) for reuse in (True, False)]
    assert ("- The fastest setting is the same at every width: float32, reuse forward "
            "(training reuses the forward pass; XLA is off by default).") in \
        "\n".join(bench.findings(rows))
