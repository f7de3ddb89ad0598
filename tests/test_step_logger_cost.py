"""The per-step log's cost measurement: interleaved order, per-round ratios, and the command."""

from __future__ import annotations

import json

import pytest

from lstnet_experiments.speed import step_logger_cost


def test_the_variants_alternate_their_order_from_round_to_round():
    assert step_logger_cost.order(["a", "b"], 0) == ["a", "b"]
    assert step_logger_cost.order(["a", "b"], 1) == ["b", "a"]


def test_the_cost_is_the_median_of_per_round_ratios_of_block_medians():
    blocks = [
        {"round": 0, "variant": "none", "step_seconds": [1.0, 1.0, 9.0]},
        {"round": 0, "variant": "log", "step_seconds": [1.1, 1.1, 1.1], "callback_seconds": [0.1]},
        {"round": 1, "variant": "log", "step_seconds": [2.4, 2.4, 2.4], "callback_seconds": [0.3]},
        {"round": 1, "variant": "none", "step_seconds": [2.0, 2.0, 2.0]},
        {"round": 2, "variant": "none", "step_seconds": [1.0, 1.0, 1.0]},
        {"round": 2, "variant": "log", "step_seconds": [1.0, 1.0, 1.0], "callback_seconds": [0.2]},
    ]
    summary = step_logger_cost.summarize(blocks, "none")
    for block in blocks:  # CPU time: the same numbers, for the check
        block["step_cpu_seconds"] = block["step_seconds"]
        block["callback_cpu_seconds"] = block.get("callback_seconds", [])
    assert step_logger_cost.summarize(blocks, "none", "cpu_") == summary
    assert summary["none"]["ratio_to_baseline_median"] == 1.0
    log = summary["log"]
    assert log["ratio_to_baseline_median"] == pytest.approx(1.1)
    assert (log["ratio_to_baseline_min"], log["ratio_to_baseline_max"]) == pytest.approx((1.0, 1.2))
    assert log["steps"] == 9 and log["callback_seconds_median"] == pytest.approx(0.2)
    assert summary["none"]["callback_seconds_median"] is None


def test_the_command_writes_markdown_and_json(tmp_path):
    out = tmp_path / "step_logger.md"
    assert step_logger_cost.main(["--preset", "smoke", "--synthetic", "--rounds", "2",
                                  "--steps", "2", "--warmup", "0", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| logger, every step | 4 |" in text and "precision float32" in text
    run = json.loads(out.with_suffix(".json").read_text())
    assert [b["variant"] for b in run["blocks"]] == ["no logger", "logger, every step",
                                                     "logger, every step", "no logger"]
    assert all(len(b["step_seconds"]) == 2 for b in run["blocks"])
    assert run["summary"]["wall"]["logger, every step"]["callback_seconds_median"] > 0
    assert run["summary"]["cpu"]["logger, every step"]["callback_seconds_median"] > 0
    assert "CPU time" in text


def test_the_step_by_step_design_compares_steps_of_one_fit_call(tmp_path):
    out = tmp_path / "steps.md"
    assert step_logger_cost.main(["--preset", "smoke", "--synthetic", "--design", "steps",
                                  "--rounds", "3", "--warmup", "1", "--out", str(out)]) == 0
    run = json.loads(out.with_suffix(".json").read_text())
    assert [b["variant"] for b in run["blocks"][:3]] == [
        step_logger_cost.LOGGED, step_logger_cost.AFTER_LOGGED, step_logger_cost.BASELINE]
    assert len(run["blocks"]) == 9 and all(len(b["step_seconds"]) == 1 for b in run["blocks"])
    assert run["summary"]["cpu"][step_logger_cost.LOGGED]["steps"] == 3
    assert "rounds of three steps" in out.read_text()
    with pytest.raises(SystemExit):
        step_logger_cost.main(["--design", "steps", "--warmup", "0"])
