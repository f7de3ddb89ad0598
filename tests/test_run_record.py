"""The run directory's record: config.json and precision.json, written by the functions that
decide them and read back on resume."""

from __future__ import annotations

import pytest

from lstnet_tf.checkpoints import ResumeError
from lstnet_tf.config import load_config
from lstnet_tf.run_record import CONFIG_FILE, PRECISION_FILE, record_config, recorded_precision


def _checkpointed(run_dir):
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "latest").write_text("2")


def test_record_config_writes_the_config_and_refuses_a_changed_one_on_resume(tmp_path):
    smoke = load_config("smoke")
    record_config(smoke, tmp_path)
    written = (tmp_path / CONFIG_FILE).read_text()
    assert '"width": 0.0625' in written
    # Before the first checkpoint another config simply replaces the record.
    record_config(load_config("smoke", {"train": {"g_learning_rate": 5e-4}}), tmp_path)
    assert '"g_learning_rate": 0.0005' in (tmp_path / CONFIG_FILE).read_text()
    record_config(smoke, tmp_path)
    _checkpointed(tmp_path)
    with pytest.raises(ResumeError, match="g_learning_rate: 0.0001 then, 0.0005 now"):
        record_config(load_config("smoke", {"train": {"g_learning_rate": 5e-4}}), tmp_path)
    assert (tmp_path / CONFIG_FILE).read_text() == written
    # A resumable change is recorded.
    record_config(load_config("smoke", {"train": {"steps": 6}}), tmp_path)
    assert '"steps": 6' in (tmp_path / CONFIG_FILE).read_text()


def test_recorded_precision_only_reads(tmp_path):
    with pytest.raises(OSError):
        recorded_precision(tmp_path)
    assert not (tmp_path / PRECISION_FILE).exists()
    (tmp_path / PRECISION_FILE).write_text(
        '{"precision": "mixed_bfloat16", "reason": "auto: measured", '
        '"seconds_per_step": {"float32": 0.4, "mixed_bfloat16": 0.3}}')
    choice = recorded_precision(tmp_path)
    assert (choice.precision, choice.seconds_per_step["float32"]) == ("mixed_bfloat16", 0.4)
