"""Regenerates Table 2 of the LSTNet paper (ESANN 2020) and its figures.

    python reproduce.py --all                      # train seed 0 into my_results/<preset>/
    python reproduce.py --all --preset cpu --seeds 0 1 2 --out results/cpu   # the committed table
    python reproduce.py --all --preset cpu --method unit --out results/methods/unit
    python reproduce.py --all --preset cpu --methods cogan unit deepjdot lstnet --out results   # Table 2, every column
    python reproduce.py --summary --preset paper   # Table 1 networks, keras summaries (instead of --all)
    python reproduce.py --experiment vae-transfer  # latent VAE transfer (own flags: --help)

(``lstnet-reproduce`` is the same command once the package is installed.)

Steps of --all, per seed: train (or load cached) MNIST and USPS classifiers on the training
sets minus a fixed validation split, train LSTNet (resuming from the last checkpoint in
--work-dir if a run was interrupted), score every evaluation variant on validation, read the
test sets once for the configured variant, and write seed<N>.json, the seed's translator
models and logs to --out. Table 2 is then rebuilt from every seed file in --out, so a later
run with another seed adds to it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from pathlib import Path

import yaml

from lstnet_tf.config import ConfigError, available_presets, load_config, nested_overrides
from lstnet_tf.method_specs import METHODS
from lstnet_tf.precision import PRECISIONS


DEFAULT_OUT = Path("my_results")  # a user's own runs; results/ holds the committed ones


def program_name() -> str:
    """The command as the user typed it: lstnet-reproduce once installed, else reproduce.py."""
    name = Path(sys.argv[0]).name
    return "lstnet-reproduce" if name == "lstnet-reproduce" else "reproduce.py"


def parse_args(argv=None):
    presets = available_presets()
    program = program_name()
    parser = argparse.ArgumentParser(
        prog=program, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{program} (--all | --summary | --experiment vae-transfer) [options]; "
              f"{program} --experiment vae-transfer --help for that experiment's options")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--all", action="store_true",
                        help="classifiers, LSTNet training, evaluation, Table 2 and figures")
    action.add_argument("--summary", action="store_true",
                        help="instead of --all: print keras.Model.summary() of every Table 1 "
                             "network and exit")
    parser.add_argument("--preset", choices=presets, default=None,
                        help=f"configuration preset from lstnet_tf/configs/ ({', '.join(presets)}); "
                             "default: 'paper' when TensorFlow sees a GPU, else 'cpu'")
    parser.add_argument("--method", choices=list(METHODS), default="lstnet",
                        help="the objective trained over the Table 1 networks: lstnet (the "
                             "paper), an ablation or a related method (README, 'Compared on "
                             "equal terms'); default: lstnet")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=None,
                        metavar="METHOD",
                        help="with --all: each of these methods in turn (e.g. cogan unit "
                             "deepjdot lstnet), --out being a results root: lstnet's seeds go "
                             "to OUT/<preset>, another's to OUT/methods/<method>; then "
                             "OUT/table2/ with every column measured (default OUT: "
                             f"{DEFAULT_OUT})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="one LSTNet run (and classifier pair) per seed; several seeds give "
                             "mean ± std (default: 0)")
    parser.add_argument("--steps", type=int, default=None,
                        help="override the preset's number of LSTNet training steps (a multiple "
                             "of the checkpoint interval; shorter runs than the interval "
                             "checkpoint at their end)")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                        help="override the preset's checkpoint (and progress, monitor) "
                             "interval in steps (cpu: 500)")
    parser.add_argument("--width", type=float, default=None,
                        help="override the preset's width multiplier (every Table 1 channel "
                             "count times WIDTH; 1.0 is the paper's networks)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="override the preset's compute precision (auto: mixed_float16 on "
                             "a GPU; on a CPU the faster of float32 and mixed_bfloat16, timed "
                             "at the start where the CPU has bfloat16 instructions)")
    parser.add_argument("--devices", default=None, metavar="N|all",
                        help="train on N devices at once (data-parallel, tf.distribute; each "
                             "batch is split into N equal shares, the maths stays one "
                             "device's): N GPUs, or without a GPU N logical devices of the CPU "
                             "(to try it: not faster); all: every GPU (docs/devices.md; "
                             "default: the preset's, 1)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        dest="settings",
                        help="override any config field by its dotted name, the value read as "
                             "YAML; repeatable. E.g. --set train.loss_weights.cycle_3=50 "
                             "(objective (1)), --set unit.gan=5 (a method's own weights: "
                             "docs/methods.md); applied after the preset and the flags above")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory holding mnist/ and usps/ data files (else "
                             "$LSTNET_DATA_DIR, then the per-user cache; see README)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download missing data (same as LSTNET_NO_DOWNLOAD=1)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where seed files, tables, figures and models go (default: "
                             f"{DEFAULT_OUT}/<preset>, or {DEFAULT_OUT}/<preset>_<method> for "
                             "another method, in the current directory; the committed runs are "
                             "in results/)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="checkpoints, logs and cached classifiers (default: runs/<preset> in "
                             "the current directory)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (hidden by default; also "
                             "LSTNET_VERBOSE=1)")
    parser.add_argument("--quiet", action="store_true",
                        help="one progress line per epoch instead of live progress bars "
                             "(automatic when the output is not a terminal)")
    args = parser.parse_args(argv)

    if args.methods and args.method != "lstnet":
        parser.error("--method and --methods exclude each other: list every method in --methods")
    if args.methods and not args.all:
        parser.error("--methods goes with --all")
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        parser.error(f"--seeds must be distinct non-negative integers, got {args.seeds}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        parser.error(f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}")
    if args.width is not None and not args.width > 0:
        parser.error(f"--width must be > 0 (1.0 is the paper's networks), got {args.width:g}")
    if args.devices not in (None, "all") and not (args.devices.isdigit() and int(args.devices)):
        parser.error(f"--devices must be a positive integer or 'all', got {args.devices!r}")
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a directory")
    for flag in ("out", "work_dir"):
        path = getattr(args, flag)
        if path is not None and path.exists() and not path.is_dir():
            parser.error(f"--{flag.replace('_', '-')} {path} exists and is not a directory")
    args.preset_reason = "chosen with --preset"
    if args.preset is None:
        args.preset, args.preset_reason = _default_preset()
    train_overrides, args.adjusted = {}, []
    if args.steps is not None:
        train_overrides["steps"] = args.steps
    if args.checkpoint_every is not None:
        train_overrides["checkpoint_every"] = args.checkpoint_every
    else:
        every = load_config(args.preset).train.checkpoint_every
        steps = args.steps or load_config(args.preset).train.steps
        if steps < every:  # a run shorter than the interval checkpoints once, at its end
            train_overrides["checkpoint_every"] = steps
            args.adjusted.append(f"checkpoint interval {steps} (the whole run: --steps is "
                                 f"shorter than the preset's {every})")
        elif steps % every:
            parser.error(f"--steps {steps} is not a multiple of the preset's checkpoint interval "
                         f"({every} steps): pass --steps {steps - steps % every} or "
                         f"{steps - steps % every + every}, or --checkpoint-every N with N "
                         f"dividing {steps}")
    if args.precision is not None:
        train_overrides["precision"] = args.precision
    if args.devices is not None:
        train_overrides["devices"] = _device_count(args.devices)
    overrides = {"train": train_overrides} if train_overrides else {}
    if args.method != "lstnet":
        overrides["method"] = args.method
    if args.width is not None:
        overrides["model"] = {"width": args.width}
    args.overridden = [f"{section}.{field}={value}" for section, fields in overrides.items()
                       if isinstance(fields, dict) for field, value in fields.items()
                       if not (field == "checkpoint_every" and args.checkpoint_every is None)]
    settings = {}
    for setting in args.settings:
        field, equals, value = setting.partition("=")
        if not (field and equals):
            parser.error(f"--set takes FIELD=VALUE (e.g. --set unit.gan=5), got {setting!r}")
        try:
            settings[field.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            parser.error(f"--set {setting}: {value!r} is not a YAML value")
    args.overridden += [f"{field}={value}" for field, value in settings.items()]
    try:
        args.config = load_config(args.preset, nested_overrides(settings, overrides))
        args.configs = {method: load_config(args.preset, nested_overrides(
                            settings, {**overrides, "method": method}))
                        for method in args.methods or ()}
    except ConfigError as error:
        parser.error(_in_flag_terms(str(error)))
    if args.methods:
        from lstnet_experiments.reproduction.table2 import results_directory

        args.root = args.out or DEFAULT_OUT
        for method, config in args.configs.items():
            _check_out(parser, config, results_directory(args.root, args.preset, method))
    elif args.all:
        _check_out(parser, args.config, args.out)
    _check_devices(parser, args.config.train.devices)
    return args


# Config fields the command line sets, in the user's terms.
FLAG_OF_FIELD = {"train.steps": "--steps", "train.checkpoint_every": "--checkpoint-every",
                 "model.width": "--width", "train.precision": "--precision",
                 "train.devices": "--devices"}


def _in_flag_terms(message: str) -> str:
    """A config message with each field a flag sets named by its flag too; a message about
    the method names its flag (``method unit ...`` -> ``--method unit ...``); every other
    field is what ``--set`` takes."""
    for field, flag in FLAG_OF_FIELD.items():
        message = re.sub(rf"(?<![\w.]){re.escape(field)}(?![\w])", f"{flag} ({field})", message)
    return re.sub(r"^method (?=\w+ )", "--method ", message)


def _default_out(config) -> Path:
    return DEFAULT_OUT / (config.preset if config.method == "lstnet"
                          else f"{config.preset}_{config.method}")


def _check_out(parser, config, out: Path | None) -> None:
    """Seed files of another configuration in --out are a usage error, named setting by
    setting, before anything runs (they are never mixed or overwritten)."""
    import json

    from lstnet_experiments.reproduction.report import ResultsError, check_compatible

    out = out or _default_out(config)
    try:
        check_compatible(out, json.loads(json.dumps(config.to_dict())))
    except ResultsError as error:
        parser.error(_in_flag_terms(str(error)))


def _device_count(requested: str) -> int:
    if requested != "all":
        return int(requested)
    from lstnet_tf.devices import resolve_device_count

    return resolve_device_count(requested)


def _check_devices(parser, devices: int) -> None:
    """Too few GPUs, or a multi-worker TF_CONFIG, is a usage error (TensorFlow is imported
    only when there is something to check)."""
    if devices == 1 and not os.environ.get("TF_CONFIG"):
        return
    from lstnet_tf.devices import unusable

    problem = unusable(devices)
    if problem:
        parser.error(problem)


def _default_preset() -> tuple[str, str]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "paper", f"TensorFlow sees {len(gpus)} GPU(s)"
    return "cpu", "TensorFlow sees no GPU, so the reduced CPU preset"


@contextlib.contextmanager
def _phase(timings: dict, name: str):
    """Announces a phase and records its wall time in ``timings``."""
    print(f"\n== {name} ==", flush=True)
    start = time.time()
    yield
    timings[name] = round(time.time() - start, 1)
    print(f"== {name}: {timings[name]:.0f} s ==", flush=True)


def run_all(args) -> int:
    import json

    from lstnet_experiments.reproduction.plots import seed_figures
    from lstnet_experiments.reproduction.report import check_compatible, write_table2
    from lstnet_experiments.reproduction.run_time import run_estimate
    from lstnet_experiments.reproduction.runner import Runner

    config = args.config
    out = args.out or _default_out(config)
    work = args.work_dir or Path("runs") / config.preset
    download = False if args.no_download else None
    # Live progress bars on a terminal; one line per epoch in a log file or with --quiet.
    verbose = 1 if sys.stdout.isatty() and not args.quiet else 2
    print(f"Preset '{config.preset}' ({args.preset_reason}): {config.description}")
    if config.method != "lstnet":
        print(f"Method '{config.method}': its objective over the same networks, data and "
              "judges (lstnet_tf/methods/).")
    if args.overridden:
        print(f"Overridden on the command line: {', '.join(args.overridden)}")
    for note in args.adjusted:
        print(f"Adjusted to fit: {note}")
    print(f"Seeds {args.seeds}, {config.train.steps} LSTNet steps each, width "
          f"{config.model.width}, precision {config.train.precision}; evaluated as "
          f"{config.eval.weights} weights with {config.eval.batch_norm} BatchNorm statistics.")
    if config.train.devices > 1:
        from lstnet_tf.devices import distribution_strategy

        # Now, before anything runs TensorFlow: a CPU splits into logical devices only then.
        distribution_strategy(config.train.devices)
    # Before any training: never mix or overwrite another configuration's seed files, and
    # never read a seed's test set twice.
    done = set(check_compatible(out, json.loads(json.dumps(config.to_dict()))))
    seeds = [seed for seed in args.seeds if seed not in done]
    if done & set(args.seeds):
        print(f"Seeds {sorted(done & set(args.seeds))} already have results in {out} (their "
              f"test sets were read): kept as they are. Delete seed<N>.json to redo one.")
    if seeds:  # every data file found (or downloadable) before anything runs
        from lstnet_tf.data import missing_files

        missing_files(args.data_dir, download)
    print(f"Per-seed results, Table 2 and figures go to {out}; checkpoints to {work}.",
          flush=True)

    runner = Runner(config, work, args.data_dir, download, verbose)
    timings: dict = {}
    started = time.time()
    if seeds:  # nothing to train: no data to load, only the table to rebuild
        with _phase(timings, "load data (training and validation splits)"):
            for split, domains in runner.splits.items():
                print(f"{split}: " + ", ".join(f"{d} {x.shape}" for d, (x, _) in domains.items()))
        print(run_estimate(config, seeds, runner), flush=True)

    for seed in seeds:
        with _phase(timings, f"seed {seed}"):
            finished = runner.run_seed(seed, out)
            result = finished.result
            judged = result["test"].get("plain") or result["test"]["augmented"]
            print(f"seed {seed}: test accuracy {judged['translator']}, "
                  f"source-only {judged['source_only']} (Table 2's judge); "
                  f"wrote {out / f'seed{seed}.json'}", flush=True)
        # The figures show the lowest seed of the directory, so that adding seeds later never
        # replaces them; drawn right after it, so that an interrupted run leaves them.
        if seed == min(done | set(seeds)):
            with _phase(timings, "figures"):
                seed_figures(finished, out, seed, config.preset)
        write_table2(out)
    write_table2(out)  # also when every requested seed was already there
    total = time.time() - started
    print(f"\nTable 2 ({config.preset}, every seed file in {out}; this run: seeds {args.seeds}, "
          f"{total / 60:.1f} min):")
    print((out / "table2.md").read_text().split("## Provenance")[0])
    return 0


def main(argv=None) -> int:
    from lstnet_tf.console import hide_tensorflow_logs

    arguments = sys.argv[1:] if argv is None else argv
    if any(a == "--experiment" or a.startswith("--experiment=") for a in arguments):
        # Another paper's experiment (lstnet_experiments/vae_transfer.py), with its own flags.
        from lstnet_experiments.vae_transfer.command import main as experiment_main

        return experiment_main(arguments)
    hide_tensorflow_logs("--verbose" in (sys.argv[1:] if argv is None else argv))
    args = parse_args(argv)
    if args.summary:
        from lstnet_tf.models import print_summaries

        print(f"Table 1 networks, preset '{args.config.preset}' (width {args.config.model.width})")
        print_summaries(args.config.model)
        return 0
    from lstnet_tf.console import run_reporting_errors

    if args.methods:
        return run_reporting_errors(lambda: run_methods(args))
    return run_reporting_errors(lambda: run_all(args))


def run_methods(args) -> int:
    """``--all --methods``: each method's seeds into its directory of the results root, then
    Table 2 with every column measured."""
    from lstnet_experiments.reproduction import table2

    for method, config in args.configs.items():
        print(f"\n######## method {method} ########", flush=True)
        run_all(argparse.Namespace(**{**vars(args), "config": config, "out":
                                      table2.results_directory(args.root, args.preset, method)}))
    written = table2.write(args.root, args.preset)
    print(f"\nTable 2 with every measured column ({args.preset}):")
    print(written[0].read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
