"""The per-step log: its TensorBoard scalars are the events eager tf.summary calls write, and
the CSV of a resumed run loses the rows after its checkpoint."""

from __future__ import annotations

import csv

import tensorflow as tf

from lstnet_tf.callbacks import StepLogger, truncate_csv_after


def tensorboard_events(directory) -> list:
    """Every event in the event files of ``directory``, serialized, without its wall time."""
    events = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            event.wall_time = 0
            events.append(event.SerializeToString())
    return events


def scalars(directory) -> dict:
    """{(step, tag): value} of the scalars in the event files of ``directory``."""
    found = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found[event.step, value.tag] = float(tf.make_ndarray(value.tensor))
    return found


class _Terms:
    loss_terms = ("d_adv_1", "d_total", "g_total")


def test_the_scalars_written_in_one_call_are_the_events_of_one_eager_call_per_term(tmp_path):
    values = {1: [0.5, 1.25, 3.0000001], 2: [1e-8, 2.5, 123.456789], 7: [float("nan"), 0, -1]}
    eager = tf.summary.create_file_writer(str(tmp_path / "eager"))
    for step, row in values.items():
        with eager.as_default(step=step):
            for name, value in zip(_Terms.loss_terms, row):
                tf.summary.scalar(f"loss/{name}", value)
    eager.flush()
    logger = StepLogger(tmp_path / "losses.csv", tmp_path / "function", store=None, start_step=0)
    logger.set_model(_Terms())
    write = logger._scalar_writer()
    for step, row in values.items():
        write(tf.constant(step, tf.int64), tf.constant(row, tf.float32))
    logger.writer.flush()
    written = tensorboard_events(tmp_path / "function")
    assert len(written) == 1 + 3 * len(values)  # the file-version event, then the scalars
    assert written == tensorboard_events(tmp_path / "eager")


def test_rows_after_the_resumed_checkpoint_are_dropped(tmp_path):
    path = tmp_path / "losses.csv"
    path.write_text("step,a\n1,0.5\n2,0.25\n3,0.125\n")
    truncate_csv_after(path, 2)
    with path.open() as f:
        assert list(csv.reader(f)) == [["step", "a"], ["1", "0.5"], ["2", "0.25"]]
    truncate_csv_after(tmp_path / "missing.csv", 2)  # nothing to drop
    assert not (tmp_path / "missing.csv").exists()
