"""A resumable hyper-parameter study of LSTNet on Optuna, scored on the validation split.

    python -m lstnet_experiments.studies.tune --trials 3 --data-dir ../shared/data
    python -m lstnet_experiments.studies.tune --report          # tables and figures only, no training

The study lives in a SQLite file (default ``results/tuning/study.db``), committed, so the same
command carries it on in the next session or on the next machine: trials are numbered on, and
the sampler (TPE, seeded with ``sampler_seed`` + the number of trials so far, so a resumed
study samples reproducibly) reads every earlier trial. The search space is a YAML file
(default ``results/tuning/space.yaml``; see the comments there). The study's first trial is
the base preset itself (the reference every other trial is read against).

Each trial is an ordinary run of the project's runner (``Runner.train``: the same training
loop, checkpoints and resume as ``reproduce.py``) with the trial's overrides, then scored on
the **validation split** under **Table 2's judge** (the classifiers trained without
augmentation), in the preset's evaluation variant. Its value is the mean of the two
directions' accuracies: both targets count equally, and the mean lets the direction with the
larger gap (MNIST->USPS) pull the search without chasing the 727-image USPS validation set's
noise, as the minimum of the two would. The test sets are never read.

A trial reports its score at every checkpoint; a percentile pruner stops a trial in the
lowest quarter at the same point of the schedule (after the first half). Every trial's
schedule has the same number of checkpoints, so "the same point" is the same fraction of it.
A trial killed with its process (a session's end) stops beating its heartbeat; the next
``tune`` command marks it failed and queues its parameters again, and the re-run resumes from
its last checkpoint when the work directory survived. Each trial records its overrides, seed,
git commit, machine, precision, wall time and curve (``user_attrs`` of the study, and
``trials.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

from lstnet_experiments.studies.tuning_space import SearchSpace, SpaceError, load_space, space_config
from lstnet_tf.console import run_command

RESULTS = Path("results") / "tuning"
OBJECTIVE = "mean of the two directions' validation accuracies, plain judge"


def run_key(config) -> str:
    """A trial's work directory name: the same settings resume the same checkpoints."""
    text = json.dumps({k: v for k, v in config.to_dict().items() if k != "description"},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lstnet_experiments.studies.tune", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", type=Path, default=RESULTS / "space.yaml",
                        help="the search-space YAML (default: %(default)s)")
    parser.add_argument("--study", type=Path, default=RESULTS / "study.db",
                        help="the SQLite file of the study; created if absent, else resumed "
                             "(default: %(default)s)")
    parser.add_argument("--trials", type=int, default=1,
                        help="trials to run in this command (default: %(default)s)")
    parser.add_argument("--stop-after", type=float, default=None, metavar="MINUTES",
                        help="start no new trial after this many minutes")
    parser.add_argument("--report", action="store_true",
                        help="only rewrite trials.md, trials.json and the figures beside the study")
    parser.add_argument("--work-dir", type=Path, default=Path("runs") / "tuning",
                        help="checkpoints per trial setting and the cached judges (default: "
                             "%(default)s)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory holding mnist/ and usps/ (as reproduce.py)")
    parser.add_argument("--no-download", action="store_true", help="never download data")
    parser.add_argument("--grace-seconds", type=int, default=600,
                        help="a running trial whose heartbeat is this old was killed: it is "
                             "marked failed and its parameters queued again (default: "
                             "%(default)s)")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    if args.trials < 0:
        parser.error(f"--trials must be >= 0, got {args.trials}")
    try:
        args.space_spec = load_space(args.space)
    except SpaceError as error:
        parser.error(str(error))
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a directory")
    if args.report and not args.study.is_file():
        parser.error(f"--report: no study at {args.study} (run the command without --report first)")
    if args.study.exists() and not args.study.is_file():
        parser.error(f"--study {args.study} exists and is not a file")
    return args


def open_study(path: Path, space: SearchSpace, grace_seconds: int):
    import optuna

    path.parent.mkdir(parents=True, exist_ok=True)
    # Heartbeats and their retry callback are "experimental" in Optuna (since 2.8): the
    # warning says nothing a user can act on.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{path}", heartbeat_interval=max(1, min(60, grace_seconds // 3)),
        grace_period=grace_seconds,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=2))
    sampler_seed = space.sampler_seed
    existing = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if space.study in existing:
        sampler_seed += len(optuna.load_study(study_name=space.study, storage=storage).trials)
    study = optuna.create_study(
        study_name=space.study, storage=storage, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=8),
        pruner=optuna.pruners.PercentilePruner(
            25.0, n_startup_trials=5, n_warmup_steps=space.checkpoints // 2))
    if space.study not in existing:
        study.set_user_attr("objective", OBJECTIVE)
        study.enqueue_trial(space.preset_params(), user_attrs={"role": "the base preset"})
    return study


class Objective:
    """One trial: the runner trains the trial's config; its score is read on validation."""

    def __init__(self, args, space: SearchSpace):
        self.args, self.space = args, space
        self.splits = None

    def __call__(self, trial) -> float:
        from lstnet_experiments.reproduction.runner import Runner

        params = {lever.name: lever.suggest(trial) for lever in self.space.levers}
        config = space_config(self.space, params)
        key = run_key(config)
        started = time.time()
        runner = Runner(config, self.args.work_dir / key, self.args.data_dir,
                        False if self.args.no_download else None, verbose=2,
                        command=f"python -m lstnet_experiments.studies.tune (trial {trial.number})",
                        classifier_dir=self.args.work_dir / "classifiers", splits=self.splits)
        self.splits = runner.splits
        judge, _ = runner.classifiers(0, augment=False)
        # The judges are trained once per work directory (the first trial pays for them).
        trial.set_user_attr("judges_seconds", round(time.time() - started, 1))
        env = runner.environment
        trial.set_user_attr("overrides", self.space.overrides(params))
        trial.set_user_attr("steps", config.train.steps)
        trial.set_user_attr("seed", self.space.seed)
        trial.set_user_attr("git_commit", env["git_commit"])
        trial.set_user_attr("machine", {"cpu": env["cpu"], "cpu_flags": env["cpu_flags"],
                                        "tensorflow": env["tensorflow"], "keras": env["keras"]})
        trial.set_user_attr("run_key", key)
        print(f"\n== trial {trial.number}: {json.dumps(params)}; {config.train.steps} steps, "
              f"work dir {runner.work} ==", flush=True)
        # A retried trial keeps the points of its curve that its checkpoints still hold (none
        # on another machine, where it starts afresh) and reports them again to the pruner.
        from lstnet_tf.checkpoints import CheckpointStore

        every = config.train.checkpoint_every
        done = CheckpointStore(runner.run_dir(self.space.seed) / "checkpoints").latest_step() or 0
        kept = [c for c in trial.user_attrs.get("curve", []) if c["step"] <= done]
        trial.set_user_attr("curve", kept)
        for point in kept:
            trial.report(point["score"], point["step"] // every)
        reporter = validation_reporter(runner, judge, trial, every, self.space.seed)
        try:
            model = runner.train(self.space.seed, judge, callbacks=(reporter,))
        finally:
            trial.set_user_attr("wall_seconds", round(time.time() - started, 1))
        curve = trial.user_attrs.get("curve", [])
        if not curve or curve[-1]["step"] != model.step:  # trained before, by an earlier trial
            curve.append({"step": model.step, **validation_scores(runner, model, {"plain": judge})})
            trial.set_user_attr("curve", curve)
            trial.set_user_attr("precision", _precision(runner, self.space.seed))
        trial.set_user_attr("validation", curve[-1])
        return curve[-1]["score"]


def validation_scores(runner, model, judges: dict) -> dict:
    """Full-validation accuracy per judge and direction of the config's evaluation variant,
    and the objective (the mean of the plain judge's two directions)."""
    from lstnet_tf.evaluate import accuracies, direction_correct

    evaluated = runner.config.eval
    translators = runner.translators(model, evaluated.weights, evaluated.batch_norm)
    scores = {name: accuracies(direction_correct(translators, classifiers,
                                                 runner.splits["validation"]))
              for name, classifiers in judges.items()}
    return {"score": sum(scores["plain"].values()) / len(scores["plain"]), **scores}


def _precision(runner, seed: int) -> dict:
    """The precision the seed's run trains in, as its run directory records it."""
    from lstnet_tf.run_record import recorded_precision

    return recorded_precision(runner.run_dir(seed)).to_dict()


def validation_reporter(runner, judge: dict, trial, every: int, seed: int):
    """A Keras callback that, at every checkpoint (after it is saved), scores the trial (its
    run of ``seed``) on validation, reports it to the pruner and keeps it in the trial's curve;
    it raises ``optuna.TrialPruned`` when the pruner says the trial is hopeless."""
    import keras
    import optuna

    class ValidationReporter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            step = self.model.step
            if step % every:  # a short first epoch up to the interval (resume)
                return
            trial.set_user_attr("precision", _precision(runner, seed))
            values = validation_scores(runner, self.model, {"plain": judge})
            curve = [c for c in trial.user_attrs.get("curve", []) if c["step"] < step]
            trial.set_user_attr("curve", curve + [{"step": step, **values}])
            trial.report(values["score"], step // every)
            print(f"  trial {trial.number}, step {step}: validation (plain judge) "
                  + ", ".join(f"{d} {v:.4f}" for d, v in values["plain"].items())
                  + f"; score {values['score']:.4f}", flush=True)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (checkpoint {step // every})")

    return ValidationReporter()


def run(args) -> int:
    import optuna

    from lstnet_experiments.studies import tuning_report
    from lstnet_tf.callbacks import NonFiniteLossError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = args.space_spec
    study = open_study(args.study, space, args.grace_seconds)
    if not args.report:
        print(f"Study '{space.study}' in {args.study}: {len(study.trials)} trial(s) so far; "
              f"objective: {OBJECTIVE}; base preset '{space.preset}', seed {space.seed}.",
              flush=True)
        started, objective = time.time(), Objective(args, space)
        for _ in range(args.trials):
            if args.stop_after is not None and time.time() - started > args.stop_after * 60:
                print(f"--stop-after {args.stop_after:g} min reached: no new trial.")
                break
            study.optimize(objective, n_trials=1, catch=(NonFiniteLossError,),
                           gc_after_trial=True)
            tuning_report.write(study, args.study.parent, space)
    written = tuning_report.write(study, args.study.parent, space)
    print("wrote", *written)
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
