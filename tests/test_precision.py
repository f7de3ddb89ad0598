"""How the training precision is decided: explicit, GPU, CPU without bf16, measured on a CPU."""

from __future__ import annotations

import json

import pytest

from lstnet_tf import precision as precision_module
from lstnet_tf import run_record, training
from lstnet_tf.checkpoints import ResumeError
from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
from lstnet_tf.precision import resolve_precision

BF16 = {"avx512f", "avx512_bf16"}


def _never(precision):
    raise AssertionError(f"timed {precision} although nothing needed measuring")


@pytest.mark.parametrize("explicit", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_an_explicit_precision_always_wins(explicit):
    choice = resolve_precision(explicit, time_step=_never, has_gpu=True, flags=BF16)
    assert (choice.precision, choice.reason) == (explicit, "set explicitly")


def test_auto_on_a_gpu_is_mixed_float16():
    assert resolve_precision("auto", _never, has_gpu=True, flags=BF16).precision == "mixed_float16"


def test_auto_on_a_cpu_without_bfloat16_is_float32_without_measuring():
    choice = resolve_precision("auto", _never, has_gpu=False, flags={"avx2", "avx512f"})
    assert choice.precision == "float32" and "no bfloat16" in choice.reason


@pytest.mark.parametrize("f32, bf16, expected", [(0.40, 0.30, "mixed_bfloat16"),
                                                 (0.30, 0.45, "float32")])
def test_auto_on_a_bfloat16_cpu_takes_the_faster_measured_precision(f32, bf16, expected):
    timed = []

    def time_step(precision):
        timed.append(precision)
        return {"float32": f32, "mixed_bfloat16": bf16}[precision]

    choice = resolve_precision("auto", time_step, has_gpu=False, flags=BF16)
    assert choice.precision == expected
    assert sorted(timed) == ["float32", "mixed_bfloat16"]
    assert choice.seconds_per_step == {"float32": f32, "mixed_bfloat16": bf16}
    assert f"float32 {f32:.3f} s/step" in choice.reason and f"{bf16:.3f}" in choice.reason


def _timer(seconds: dict, calls: list | None = None):
    """A ``time_step`` that returns ``seconds[precision]`` (and notes each call in ``calls``)."""
    def time_step(precision):
        if calls is not None:
            calls.append(precision)
        return seconds[precision]
    return time_step


def test_a_run_records_its_choice_and_a_resumed_run_reuses_it(tmp_path, monkeypatch):
    config = ExperimentConfig(model=ModelConfig(width=0.0625), train=TrainConfig(precision="auto"))
    monkeypatch.setattr(precision_module, "gpu_available", lambda: False)
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: BF16)
    monkeypatch.setattr(run_record, "_MEASURED", {})
    first = run_record.decide_precision(config, tmp_path,
                                        _timer({"float32": 2.0, "mixed_bfloat16": 1.0}))
    assert first.precision == "mixed_bfloat16"
    assert json.loads((tmp_path / run_record.PRECISION_FILE).read_text())["precision"] == first.precision
    assert run_record.recorded_precision(tmp_path) == first
    # On resume the machine may measure differently; the recorded choice is kept.
    monkeypatch.setattr(run_record, "_MEASURED", {})
    assert run_record.decide_precision(config, tmp_path, _never) == first


def test_measured_seconds_per_step_is_positive_for_a_tiny_model():
    config = ExperimentConfig(model=ModelConfig(width=0.0625), train=TrainConfig(batch_size=2))
    assert 0 < training.measure_seconds_per_step(config, "float32", steps=2, warmup=1)


def test_resuming_in_another_explicit_precision_is_refused_and_writes_nothing(tmp_path):
    config = ExperimentConfig(model=ModelConfig(width=0.0625),
                              train=TrainConfig(precision="mixed_bfloat16"))
    assert run_record.decide_precision(config, tmp_path, _never).precision == "mixed_bfloat16"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("2")
    recorded = (tmp_path / run_record.PRECISION_FILE).read_text()
    other = ExperimentConfig(model=config.model, train=TrainConfig(precision="float32"))
    with pytest.raises(ResumeError, match="trained in mixed_bfloat16"):
        run_record.decide_precision(other, tmp_path, _never)
    assert (tmp_path / run_record.PRECISION_FILE).read_text() == recorded


def test_auto_is_measured_once_per_process_for_one_model_shape(monkeypatch, tmp_path):
    config = ExperimentConfig(model=ModelConfig(width=0.03125), train=TrainConfig(precision="auto"))
    monkeypatch.setattr(precision_module, "gpu_available", lambda: False)
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: BF16)
    monkeypatch.setattr(run_record, "_MEASURED", {})
    calls = []
    time_step = _timer({"float32": 1.0, "mixed_bfloat16": 2.0}, calls)
    first = run_record.decide_precision(config, tmp_path / "seed0", time_step)
    second = run_record.decide_precision(config, tmp_path / "seed1", time_step)
    assert first == second and first.precision == "float32"
    assert sorted(calls) == ["float32", "mixed_bfloat16"]
    assert run_record.recorded_precision(tmp_path / "seed1") == first
