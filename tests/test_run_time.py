"""The run-time estimate: classifiers + training + evaluation from the machine records,
matched on instruction sets and cores, with the fallback said."""

from __future__ import annotations

import json
import re

import pytest

from lstnet_experiments.reproduction import run_time
from lstnet_tf.config import load_config

THIS = {"cpu": "THIS CPU x 2 logical CPUs", "cpu_flags": ["avx2"]}
OTHER = {"cpu": "OTHER CPU x 2 logical CPUs", "cpu_flags": ["avx2", "avx512f", "avx512_bf16"]}


def _row(width, precision, seconds):
    return {"width": width, "precision": precision, "reuse_forward": True, "jit_compile": False,
            "seconds_per_iteration_median": seconds}


def _seed(seed, classifiers, evaluation, step, env, pairs=None):
    timing = {"seconds_per_step": step,
              "wall_seconds": {"classifiers": classifiers, "training": step * 7000,
                               "evaluation": evaluation}}
    if pairs is not None:
        timing["classifier_pairs_trained"] = pairs
    return {"seed": seed, "timing": timing, "provenance": {"environment": env}}


@pytest.fixture
def records(tmp_path):
    """This machine's benchmark page (float32 1.0 s/step at width 0.25), another machine's
    (float32 0.5 s, bfloat16 0.25 s), and two cpu seeds measured on the other machine."""
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "cpu").mkdir()
    for name, env, rows in (("this", THIS, [_row(0.25, "float32", 1.0)]),
                            ("other", OTHER, [_row(0.25, "float32", 0.5),
                                              _row(0.25, "mixed_bfloat16", 0.25)])):
        (tmp_path / "benchmarks" / f"{name}.json").write_text(
            json.dumps({"rows": rows, "environment": env}))
    # Seed 0 trained two classifier pairs (600 s), seed 1 one (320 s).
    for record in (_seed(0, 600.0, 100.0, 0.25, OTHER), _seed(1, 320.0, 110.0, 0.25, OTHER)):
        (tmp_path / "cpu" / f"seed{record['seed']}.json").write_text(json.dumps(record))
    return tmp_path


def _minutes(text: str, part: str) -> int:
    return int(re.search(part + r" ~(\d+)", text).group(1))


def test_the_total_is_classifiers_plus_training_plus_evaluation_by_hand(records):
    found = run_time.estimate(load_config("cpu"), seeds=1, pairs_to_train=2, precision="float32",
                              env=THIS, results=records)
    # Training: this machine's 1.0 s/step x 7000 steps.
    assert found.training == pytest.approx(7000.0)
    # A classifier pair: median(600 / 2, 320 / 1) = 310 s there, x 2 (this machine's float32
    # step is twice theirs at width 0.25), two pairs to train.
    assert found.classifiers == pytest.approx(2 * 310.0 * 2)
    # Evaluation: median(100 / 0.25, 110 / 0.25) = 420 of their steps, at this machine's 1.0 s.
    assert found.evaluation == pytest.approx(420.0)
    assert found.total == pytest.approx(found.classifiers + found.training + found.evaluation)
    text = found.text()
    assert f"~{found.total / 60:.0f} min" in text
    assert (_minutes(text, "classifiers"), _minutes(text, "training"),
            _minutes(text, "evaluation")) == (21, 117, 7)
    assert "this machine kind" in text and "another machine kind" in text and "scaled by 2.00" in text


def test_cached_classifiers_cost_nothing_and_seeds_multiply_training(records):
    one = run_time.estimate(load_config("cpu"), 1, 0, "float32", THIS, records)
    two = run_time.estimate(load_config("cpu"), 2, 0, "float32", THIS, records)
    assert one.classifiers == two.classifiers == 0.0
    assert two.training == 2 * one.training and two.evaluation == 2 * one.evaluation


def test_a_cpu_of_the_same_name_with_other_instruction_sets_is_another_machine_kind(records):
    """An AMX machine sold under the benchmarked CPU's name is not matched as that machine."""
    amx = {"cpu": "OTHER CPU x 2 logical CPUs",
           "cpu_flags": ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]}
    assert run_time.relation(OTHER, amx)[0] == 2
    assert run_time.relation(OTHER, dict(OTHER, cpu="OTHER CPU x 4 logical CPUs"))[0] == 2
    assert run_time.relation(OTHER, dict(OTHER))[0] == 0
    found = run_time.estimate(load_config("cpu"), 1, 0, "mixed_bfloat16", amx, records)
    assert "another machine kind" in found.text().split(";")[1]


def test_no_record_of_the_width_is_no_estimate(records):
    assert run_time.estimate(load_config("cpu", {"model": {"width": 0.125}}), 1, 0, "float32",
                             THIS, records) is None


def test_a_timed_step_here_calibrates_the_estimate_to_this_machine(records):
    """Seeds that timed their start (auto) at this width calibrate the estimate by this
    machine's own timing: training = timed step here x their real/timed ratio x steps;
    classifiers and evaluation scale by the two timings' ratio."""
    for seed, timed, real, classifiers, evaluation in ((0, 0.20, 0.22, 600.0, 88.0),
                                                       (1, 0.25, 0.30, 320.0, 90.0)):
        record = _seed(seed, classifiers, evaluation, real, OTHER)
        record["precision"] = {"precision": "mixed_bfloat16",
                               "seconds_per_step": {"mixed_bfloat16": timed}}
        record["provenance"]["config"] = {"model": {"width": 0.25}}
        (records / "cpu" / f"seed{seed}.json").write_text(json.dumps(record))
    found = run_time.estimate(load_config("cpu"), seeds=1, pairs_to_train=2,
                              precision="mixed_bfloat16", env=THIS, results=records,
                              step_here=0.45)
    speed = 0.45 / 0.225  # their timed steps' median
    real_over_timed = (0.22 / 0.20 + 0.30 / 0.25) / 2
    assert found.training == pytest.approx(0.45 * real_over_timed * 7000)
    assert found.classifiers == pytest.approx(2 * 310.0 * speed)  # median(600 / 2, 320)
    eval_steps = (88.0 / 0.22 + 90.0 / 0.30) / 2
    assert found.evaluation == pytest.approx(eval_steps * 0.45 * real_over_timed)
    assert "calibrated to this machine" in found.text() and "0.450 s" in found.text()
    # Without a timing here, or at a width no seed ran, the machine records decide.
    assert "calibrated" not in run_time.estimate(load_config("cpu"), 1, 2, "mixed_bfloat16",
                                                 OTHER, records).text()
    assert "calibrated" not in run_time.estimate(
        load_config("cpu"), 1, 2, "float32", THIS, records, step_here=0.45).text()


def test_the_step_here_is_timed_only_when_seeds_can_calibrate_it(records):
    timings = []

    def time_it():
        timings.append(1)
        return 0.45

    run_time.estimate(load_config("cpu"), 1, 0, "float32", THIS, records, step_here=time_it)
    assert timings == []  # the fixture's seeds timed no start: nothing to calibrate against
