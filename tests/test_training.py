"""train_model: checkpoints, resume after a kill, per-step logs, and the NaN guard."""

from __future__ import annotations

import csv
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
from lstnet_tf.lstnet import LOSS_TERMS
from lstnet_tf.callbacks import NonFiniteLossError
from lstnet_tf.checkpoints import CheckpointStore, ResumeError
from lstnet_tf.optimizers import learning_rate_schedule
from lstnet_tf.run_record import recorded_precision
from lstnet_tf.training import build_model, train_model

CONFIG = ExperimentConfig(
    model=ModelConfig(width=0.0625),
    train=TrainConfig(steps=4, checkpoint_every=2, batch_size=4, ema_decay=0.9,
                      precision="float32"),
)
RNG = np.random.default_rng(0)
X1 = RNG.uniform(-1, 1, (24, 28, 28, 1)).astype("float32")
X2 = RNG.uniform(-1, 1, (12, 16, 16, 1)).astype("float32")
IMAGES = (X1, X2)


def _with_steps(steps, config=CONFIG):
    return dataclasses.replace(config, train=dataclasses.replace(config.train, steps=steps))


def _with_decay(start, config=CONFIG):
    return dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                 lr_decay_start=start))


class KillAfter(keras.callbacks.Callback):
    """Simulates the process being killed in the middle of a checkpoint interval."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.step == self.step:
            raise KeyboardInterrupt


def _read_rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    return train_model(CONFIG, IMAGES, run_dir, seed=1, verbose=0), run_dir


def test_training_writes_step_logs_and_checkpoints(uninterrupted):
    model, run_dir = uninterrupted
    assert model.step == 4
    rows = _read_rows(run_dir / "losses.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {"step", *LOSS_TERMS}
    assert CheckpointStore(run_dir / "checkpoints").latest_step() == 4
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == \
        ["latest", "step-0000002", "step-0000004"]
    # TensorBoard holds every step's every term, the CSV's values (to its 6 digits).
    logged = {}
    for path in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                logged[event.step, value.tag] = float(tf.make_ndarray(value.tensor))
    assert logged == pytest.approx({(int(r["step"]), f"loss/{name}"): float(r[name])
                                    for r in rows for name in LOSS_TERMS}, rel=1e-5)
    # Built in the precision its run directory records (the model carries no choice of its own).
    assert model.precision == recorded_precision(run_dir).precision == "float32"


def test_resume_after_kill_matches_an_uninterrupted_run(uninterrupted, tmp_path):
    """Killed at step 3 (last checkpoint: 2), then resumed to 4: bitwise the same weights and
    optimizer state as training 4 steps in one go. This holds on CPU because every op here is
    deterministic and the data stream is a pure function of (seed, step)."""
    reference, reference_dir = uninterrupted
    with pytest.raises(KeyboardInterrupt):
        train_model(CONFIG, IMAGES, tmp_path, seed=1, verbose=0, callbacks=(KillAfter(3),))
    assert CheckpointStore(tmp_path / "checkpoints").latest_step() == 2
    resumed = train_model(CONFIG, IMAGES, tmp_path, seed=1, verbose=0)
    assert resumed.step == 4
    for a, b in zip(reference.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for opt_a, opt_b in ((reference.d_optimizer, resumed.d_optimizer),
                         (reference.g_optimizer, resumed.g_optimizer)):
        for a, b in zip(opt_a.variables, opt_b.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The step logged after the kill's checkpoint was dropped and logged again on resume.
    rows = _read_rows(tmp_path / "losses.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert rows == _read_rows(reference_dir / "losses.csv")


def test_a_finished_run_is_not_trained_again(uninterrupted, capsys):
    model, run_dir = uninterrupted
    again = train_model(CONFIG, IMAGES, run_dir, seed=1, verbose=0)
    assert again.step == 4
    assert "already trained" in capsys.readouterr().out
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class PoisonAfter(keras.callbacks.Callback):
    """Makes one encoder weight NaN when step ``step + 1`` begins (after the checkpoint of
    ``step``), so that step's losses are NaN."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_begin(self, batch, logs=None):
        if self.model.step == self.step:
            kernel = self.model.networks.private_encoders[0].trainable_variables[0]
            kernel.assign(tf.fill(kernel.shape, np.nan))


def test_planted_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 3.*step 2"):
        train_model(_with_steps(4), IMAGES, tmp_path, seed=1, verbose=0,
                     callbacks=(PoisonAfter(2),))
    store = CheckpointStore(tmp_path / "checkpoints")
    assert store.latest_step() == 2
    restored = build_model(CONFIG, "float32")
    assert store.restore(restored) == 2
    assert all(np.isfinite(v.numpy()).all() for v in restored.weights)
    assert [int(r["step"]) for r in _read_rows(tmp_path / "losses.csv")] == [1, 2]


def _rewrite_optimizer_state(path, change):
    with np.load(path) as state:
        arrays = {name: state[name] for name in state.files}
    np.savez(path, **change(arrays))


def test_optimizer_state_is_restored_by_variable_path(uninterrupted, tmp_path):
    """Stored in another order, each optimizer variable still gets the value of its own path."""
    import shutil

    _, run_dir = uninterrupted
    shutil.copytree(run_dir / "checkpoints", tmp_path / "checkpoints")
    path = tmp_path / "checkpoints" / "step-0000004" / CheckpointStore.OPTIMIZERS
    with np.load(path) as state:
        names = list(state.files)
    _rewrite_optimizer_state(path, lambda arrays: {name: np.full_like(arrays[name], i)
                                                   for i, name in reversed(list(enumerate(names)))})
    model = build_model(CONFIG, "float32")
    CheckpointStore(tmp_path / "checkpoints").restore(model)
    for opt in (model.d_optimizer, model.g_optimizer):
        for v in opt.variables:
            assert np.all(v.numpy() == names.index(v.path)), v.path


@pytest.mark.parametrize("change, message", [
    (lambda arrays: {k: v for i, (k, v) in enumerate(arrays.items()) if i != 5}, "missing"),
    (lambda arrays: {f"{i}": v for i, v in enumerate(arrays.values())}, "differ"),
])
def test_optimizer_state_that_does_not_match_by_path_fails_loudly(uninterrupted, tmp_path, change,
                                                                  message):
    """A missing variable or a checkpoint keyed otherwise (e.g. by position) is a ResumeError."""
    import shutil

    _, run_dir = uninterrupted
    shutil.copytree(run_dir / "checkpoints", tmp_path / "checkpoints")
    _rewrite_optimizer_state(tmp_path / "checkpoints" / "step-0000004" / CheckpointStore.OPTIMIZERS,
                             change)
    with pytest.raises(ResumeError, match=message):
        CheckpointStore(tmp_path / "checkpoints").restore(build_model(CONFIG, "float32"))


def test_resuming_with_another_configuration_is_refused(uninterrupted, tmp_path):
    """A changed learning rate is refused on resume (the checkpoint holds weights, not the
    settings); a longer run with the same settings is allowed."""
    import shutil

    _, run_dir = uninterrupted
    shutil.copytree(run_dir, tmp_path / "run")
    changed = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train,
                                                                    g_learning_rate=5e-4))
    with pytest.raises(ResumeError, match="g_learning_rate: 0.0001 then, 0.0005 now"):
        train_model(changed, IMAGES, tmp_path / "run", seed=1, verbose=0)
    longer = train_model(_with_steps(6), IMAGES, tmp_path / "run", seed=1, verbose=0)
    assert longer.step == 6


def test_learning_rate_is_held_then_decays_to_zero_over_the_rest():
    """steps 8, start 0.25: 1e-3 for steps 0-2, then a half cosine over the other 6 steps,
    1e-3 * (1 + cos(pi * k/6)) / 2 at step 2 + k, reaching 0 at the end."""
    train = TrainConfig(steps=8, checkpoint_every=2, lr_decay_start=0.25)
    schedule = learning_rate_schedule(1e-3, train)
    expected = [1e-3] * 3 + [1e-3 * (1 + np.cos(np.pi * k / 6)) / 2 for k in range(1, 7)]
    np.testing.assert_allclose([float(schedule(step)) for step in range(9)], expected,
                               rtol=1e-5, atol=1e-9)
    assert learning_rate_schedule(1e-3, dataclasses.replace(train, lr_decay_start=1.0)) == 1e-3


@pytest.fixture(scope="module")
def decaying(tmp_path_factory):
    """CONFIG with the learning rates decaying from half-way, trained to the end."""
    run_dir = tmp_path_factory.mktemp("decaying")
    return train_model(_with_decay(0.5), IMAGES, run_dir, seed=1, verbose=0), run_dir


@pytest.mark.parametrize("start, final_rate, run", [(1.0, 1e-4, "uninterrupted"),
                                                    (0.5, 0.0, "decaying")])
def test_both_optimizers_follow_the_schedule_through_training(request, start, final_rate, run):
    """After the last step each optimizer's rate is the schedule's at its own step counter
    (the module's run of CONFIG with the decay from ``start``)."""
    assert _with_decay(start) == (CONFIG if run == "uninterrupted" else _with_decay(0.5))
    model, _ = request.getfixturevalue(run)
    for optimizer in (model.d_optimizer, model.g_optimizer):
        assert int(optimizer.iterations) == 4
        assert float(optimizer.learning_rate) == pytest.approx(final_rate, rel=1e-6, abs=1e-12)


def test_a_decaying_run_cannot_be_resumed_with_another_length(decaying, tmp_path):
    """The decay is laid out over train.steps, so a longer resume would jump in the schedule."""
    import shutil

    shutil.copytree(decaying[1], tmp_path, dirs_exist_ok=True)
    with pytest.raises(ResumeError, match="train.steps: 4 then, 6 now"):
        train_model(_with_steps(6, _with_decay(0.5)), IMAGES, tmp_path, seed=1, verbose=0)


def test_the_checkpoint_where_the_decay_starts_is_never_pruned(tmp_path):
    """6 steps, a checkpoint every 2, decay from step 2: step 2 is kept beside the last two;
    without a decay only the last two are."""
    six = _with_steps(6)
    for start, kept in ((1 / 3, ["step-0000002", "step-0000004", "step-0000006"]),
                        (1.0, ["step-0000004", "step-0000006"])):
        run = tmp_path / str(start)
        train_model(_with_decay(start, six), IMAGES, run, seed=1, verbose=0)
        assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == kept


def test_resume_onto_another_checkpoint_interval_matches_an_uninterrupted_run(uninterrupted,
                                                                               tmp_path):
    """`--steps 3` (interval capped to 3) then `--steps 4` (interval 2), as reproduce.py sets
    them: the checkpoint at step 3 is off the new interval, so a first epoch of one step leads
    to step 4; the result is bitwise the 4-step run's, with every step logged once."""
    reference, reference_dir = uninterrupted
    short = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train, steps=3,
                                                                  checkpoint_every=3))
    train_model(short, IMAGES, tmp_path, seed=1, verbose=0)
    resumed = train_model(CONFIG, IMAGES, tmp_path, seed=1, verbose=0)
    assert resumed.step == 4
    assert CheckpointStore(tmp_path / "checkpoints").latest_step() == 4
    for a, b in zip(reference.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert _read_rows(tmp_path / "losses.csv") == _read_rows(reference_dir / "losses.csv")


def test_a_checkpoint_past_the_requested_steps_is_refused_with_the_fix(uninterrupted, tmp_path):
    import shutil

    _, reference_dir = uninterrupted
    shutil.copytree(reference_dir, tmp_path / "run")
    two = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train, steps=2))
    with pytest.raises(ResumeError, match="past train.steps = 2: pass --steps 4 or more"):
        train_model(two, IMAGES, tmp_path / "run", seed=1, verbose=0)


def test_the_cpu_presets_steps_cannot_change_on_resume_and_the_message_says_why(tmp_path):
    """`--steps 300` then `--steps 3500` with the cpu preset (its learning rates decay over
    the run): refused before anything is built, naming the setting, the reason and what may
    change."""
    from lstnet_tf.config import load_config
    from lstnet_tf.run_record import record_config

    first = load_config("cpu", {"train": {"steps": 300, "checkpoint_every": 300}})
    record_config(first, tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("300")
    second = load_config("cpu", {"train": {"steps": 3500}})
    with pytest.raises(ResumeError) as error:
        record_config(second, tmp_path)
    message = str(error.value)
    assert "train.steps: 300 then, 3500 now" in message
    assert "decay" in message and "Resumable changes: train.checkpoint_every" in message
    # Without the decay the same change is accepted.
    constant = load_config("paper", {"train": {"steps": 300, "checkpoint_every": 300}})
    record_config(constant, tmp_path / "paper")
    (tmp_path / "paper" / "checkpoints").mkdir()
    (tmp_path / "paper" / "checkpoints" / "latest").write_text("300")
    record_config(load_config("paper", {"train": {"steps": 4000}}), tmp_path / "paper")
