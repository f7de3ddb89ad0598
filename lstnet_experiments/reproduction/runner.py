"""The one runner every experiment uses: config -> data -> classifiers -> LSTNet training ->
validation study -> test evaluation -> artefacts.

Protocol (README, "Evaluation protocol"):
- the training sets are split once (``config.data``); classifiers and LSTNet train on the
  rest, monitoring and the validation study read the validation part only;
- the test sets are read once per seed, after training, by ``Runner.test_evaluation``, and
  only for the variant the config names (``config.eval``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
import time
from pathlib import Path

from lstnet_tf import data
from lstnet_tf.classifier import accuracy, load_or_train_classifiers
from lstnet_tf.config import EVAL_BATCH_NORM, EVAL_WEIGHTS, ExperimentConfig
from lstnet_tf.evaluate import (OWN_OUTPUT, accuracies, direction_correct, evaluate_model,
                                evaluate_source_only, paired_with_source_only,
                                source_only_translators)
from lstnet_tf.files import environment, write_atomically
from lstnet_tf.inference import DIRECTIONS, SOURCE_AND_TARGET, prepared_translator, scoring_function
from lstnet_tf.method_specs import METHODS
from lstnet_tf.run_record import recorded_precision
from lstnet_tf.shipped_models import save_shipped
from lstnet_tf.training import train_model
from lstnet_experiments.reproduction.report import save_per_image, seed_file


def variant_name(weights: str, batch_norm: str) -> str:
    return f"{weights}/{batch_norm}"


class Runner:
    """Runs seeds of one configuration; checkpoints and cached classifiers go to ``work_dir``."""

    def __init__(self, config: ExperimentConfig, work_dir: Path, data_dir=None,
                 download: bool | None = None, verbose: int = 2, command: str | None = None,
                 classifier_dir: Path | None = None, splits: dict | None = None):
        """``classifier_dir`` (default ``work_dir/classifiers``) caches the judges, so that runs
        in several work directories can share them; ``splits`` are already loaded ones."""
        self.config, self.work = config, Path(work_dir)
        self.classifier_dir = Path(classifier_dir) if classifier_dir else self.work / "classifiers"
        self.data_dir, self.download, self.verbose = data_dir, download, verbose
        program = Path(sys.argv[0]).name  # reproduce.py, or the installed lstnet-reproduce
        self.command = command or " ".join(
            [f"python {program}" if program.endswith(".py") else program] + sys.argv[1:])
        # The code that runs is the code at start-up (a seed can take an hour).
        self.environment = environment()
        self._splits = splits

    # ------------------------------------------------------------------ data

    @property
    def splits(self) -> dict:
        """``{"train"|"validation": {domain: (x, y)}}``, loaded once."""
        if self._splits is None:
            self._splits = data.load_splits(self.config.data, self.data_dir, self.download)
        return self._splits

    def data_split_description(self) -> dict:
        d = self.config.data
        return {
            "rule": "class-stratified, round(fraction * class size) per class, NumPy PCG64 "
                    "permutation per class (lstnet_tf.data.validation_indices)",
            "fraction": d.validation_fraction, "seed": d.validation_seed,
            **({"first_images": d.first_images} if d.first_images else {}),
            "sizes": {split: {domain: len(xy[1]) for domain, xy in domains.items()}
                      for split, domains in self.splits.items()},
            "usps": "standard 7291 train / 2007 test, native 16x16",
        }

    # ----------------------------------------------------------- classifiers

    def _classifier_key(self, augment: bool) -> tuple:
        return (dataclasses.replace(self.config.classifier, augment=augment),
                data.split_key(self.config.data))

    def classifiers(self, seed: int, augment: bool = True) -> tuple[dict, dict]:
        """The seed's MNIST and USPS classifiers (cached) and their validation accuracies."""
        config, data_key = self._classifier_key(augment)
        return load_or_train_classifiers(self.splits, config, seed, self.classifier_dir,
                                         self.verbose, data_key=data_key)

    def judge_pairs(self, seed: int) -> list[tuple[int, bool]]:
        """The classifier pairs (seed, augmented) the seed's judges are (``judges``)."""
        return [(seed, True)] + ([(0, False)] if self.config.eval.second_judge else [])

    def pairs_to_train(self, seeds) -> int:
        """How many of those pairs, over ``seeds``, are not cached yet (each is trained once)."""
        from lstnet_tf.classifier import cache_path

        missing = set()
        for seed in seeds:
            for pair_seed, augment in self.judge_pairs(seed):
                config, data_key = self._classifier_key(augment)
                if not all(cache_path(domain, config, pair_seed, self.classifier_dir,
                                      data_key).is_file() for domain in ("mnist", "usps")):
                    missing.add((pair_seed, augment))
        return len(missing)

    # -------------------------------------------------------------- training

    @property
    def output(self) -> str:
        """What the method's scored paths output: "translator" or "classifier"."""
        return METHODS[self.config.method].output

    def scoring_judge(self, classifiers: dict) -> dict:
        """What reads the scored paths' outputs: the judges, or nothing (class logits)."""
        return OWN_OUTPUT if self.output == "classifier" else classifiers

    def monitor(self, classifiers: dict):
        """Validation-subset accuracy at each checkpoint (and of the weight average)."""
        limit = self.config.train.monitor_samples
        validation = self.splits["validation"]

        def monitor(model) -> dict:
            values = evaluate_model(model, classifiers, validation, limit)
            if self.config.train.ema_decay:
                averaged = self.translators(model, "ema", "moving")
                values.update({f"{d}_ema": v for d, v in accuracies(direction_correct(
                    averaged, self.scoring_judge(classifiers), validation, limit)).items()})
            return values
        return monitor

    def labelled_domains(self) -> dict[str | None, str]:
        """Per training of a seed, the domain whose labels it reads: one training for a
        translator (no labels, ``{None: ""}``); for a domain-adaptation method one per Table 2
        row, labelled with the domain the row's judge knows (USPS->MNIST: MNIST)."""
        if self.output != "classifier":
            return {None: ""}
        return {d: SOURCE_AND_TARGET[d][1] for d in DIRECTIONS}

    def run_dir(self, seed: int, direction: str | None = None) -> Path:
        """The seed's checkpoints and logs; another method's runs sit in a subdirectory, so
        that every method of a work directory shares its cached classifiers; a
        domain-adaptation method has one per labelled domain."""
        method = self.config.method
        seed_dir = self.work / ("" if method == "lstnet" else method) / f"seed{seed}"
        if direction is None:
            return seed_dir
        return seed_dir / f"labelled_{self.labelled_domains()[direction]}"

    def training_config(self, direction: str | None = None) -> ExperimentConfig:
        """The config of ``direction``'s training: the run's, with the labelled domain set
        for a domain-adaptation method."""
        labelled = self.labelled_domains().get(direction, "")
        if not labelled:
            return self.config
        return dataclasses.replace(self.config, train=dataclasses.replace(
            self.config.train, labelled_domain=labelled))

    def run_dirs(self, seed: int) -> list[Path]:
        return [self.run_dir(seed, d) for d in self.labelled_domains()]

    def train(self, seed: int, classifiers: dict | None = None, callbacks: tuple = (),
              direction: str | None = None):
        """Trains (or resumes) the seed's model; a domain-adaptation method's for
        ``direction``'s row, with only its labelled domain's training labels."""
        train, config = self.splits["train"], self.training_config(direction)
        labels = (train["mnist"][1], train["usps"][1])
        labelled = config.train.labelled_domain
        if labelled:  # the other domain's labels never reach training
            labels = tuple(y if name == labelled else None
                           for name, y in zip(("mnist", "usps"), labels))
        return train_model(config, (train["mnist"][0], train["usps"][0]),
                           self.run_dir(seed, direction), seed,
                           monitor=self.monitor(classifiers) if classifiers else None,
                           verbose=self.verbose, callbacks=callbacks, labels=labels)

    def train_all(self, seed: int, classifiers: dict | None = None) -> dict:
        """The seed's trained model per Table 2 row (one model for both, but for a
        domain-adaptation method)."""
        models = {d: self.train(seed, classifiers, direction=d) for d in self.labelled_domains()}
        return models if None not in models else {d: models[None] for d in DIRECTIONS}

    # ------------------------------------------------------------ evaluation

    def prepared_translators(self, model, weights: str, batch_norm: str) -> dict:
        """Standalone path models of the directions ``model`` is scored on (a dict of models,
        per direction, for every direction), BatchNorm statistics set as asked."""
        models = model if isinstance(model, dict) else {d: model for d in model.directions}
        train = self.splits["train"]
        return {d: prepared_translator(
                    m, d, weights, batch_norm,
                    source_train_images=train[SOURCE_AND_TARGET[d][0]][0],
                    batch_size=self.config.train.batch_size,
                    batches=self.config.eval.batch_norm_batches)
                for d, m in models.items()}

    def translators(self, model, weights: str, batch_norm: str) -> dict:
        """Per direction, the function that translates a batch for scoring."""
        return {d: scoring_function(path, batch_norm)
                for d, path in self.prepared_translators(model, weights, batch_norm).items()}

    def validation_study(self, model, classifiers: dict) -> dict:
        """Full-validation accuracy of every weights x BatchNorm-statistics variant."""
        weights = [w for w in EVAL_WEIGHTS if w == "raw" or self.config.train.ema_decay]
        study = {}
        for w in weights:
            for batch_norm in EVAL_BATCH_NORM:
                study[variant_name(w, batch_norm)] = accuracies(direction_correct(
                    self.translators(model, w, batch_norm), self.scoring_judge(classifiers),
                    self.splits["validation"]))
                print(f"  validation {variant_name(w, batch_norm)}: "
                      + ", ".join(f"{d} {v:.4f}" for d, v in
                                  study[variant_name(w, batch_norm)].items()), flush=True)
        return study

    def test_evaluation(self, translators: dict, judges: dict[str, dict]
                        ) -> tuple[dict, dict, dict]:
        """Reads the test sets (once) and scores the trained translators and source-only
        under each judge.

        Returns the per-judge results, the per-image correctness of the translators per judge
        (for paired tests between methods) and the test sets (for figures)."""
        test = data.load_test(self.data_dir, self.download, self.config.data.first_images)
        results, per_image = {}, {}
        for judge, classifiers in judges.items():
            # A domain-adaptation method's own classifier is read as it is: under each judge
            # the same numbers, paired with that judge's source-only.
            translated = per_image[judge] = direction_correct(
                translators, self.scoring_judge(classifiers), test)
            baseline = direction_correct(source_only_translators(test), classifiers, test)
            results[judge] = {
                "classifier_accuracy": {domain: accuracy(classifiers[domain], *test[domain])
                                        for domain in ("mnist", "usps")},
                "translator": accuracies(translated),
                "source_only": accuracies(baseline),
                "mcnemar": {d: paired_with_source_only(translated[d], baseline[d])
                            for d in DIRECTIONS},
            }
        return results, per_image, test

    # --------------------------------------------------------------- a seed

    def judges(self, seed: int) -> tuple[dict, dict]:
        """The seed's judges by name (``plain``, Table 2's judge: one fixed pair trained
        without augmentation with seed 0, the same judge of every seed, which also monitors
        training; ``augmented``, the second judge: the seed's own pair trained with LSTNet's
        augmentation) and the augmented pair's validation accuracies."""
        classifiers, validation_accuracy = self.classifiers(seed, augment=True)
        judges = {"augmented": classifiers}
        if self.config.eval.second_judge:
            judges["plain"], _ = self.classifiers(0, augment=False)
        return judges, validation_accuracy

    def ship(self, out_dir: Path, seed: int, paths: dict, classifiers: dict) -> None:
        """The seed's two translator models (a domain-adaptation method: its two adapted
        classifiers, ``adapted_<domain>_classifier.keras``) and its two classifiers (for
        translate's predicted labels) as standalone files in ``out_dir/models/seed<N>/``."""
        models = Path(out_dir) / "models" / f"seed{seed}"
        for direction, path in paths.items():
            name = (f"adapted_{SOURCE_AND_TARGET[direction][0]}_classifier"
                    if self.output == "classifier" else direction)
            save_shipped(path, models / f"{name}.keras")
        for domain, classifier in classifiers.items():
            save_shipped(classifier, models / f"{domain}_classifier.keras")

    def run_seed(self, seed: int, out_dir: Path) -> "SeedRun":
        """Classifiers, training, validation study, test, then ``seed<N>.json``, the seed's
        logs and per-image correctness, its two standalone translator models and its two
        classifiers in ``out_dir``."""
        timings, out_dir = {}, Path(out_dir)
        start, pairs = time.time(), self.pairs_to_train([seed])
        judges, classifier_validation = self.judges(seed)
        classifiers = judges["augmented"]
        timings["classifiers"] = round(time.time() - start, 1)

        start, before = time.time(), sum(map(_completed_steps, self.run_dirs(seed)))
        # Monitored under Table 2's judge (the plain one; docs/evaluation.md).
        models = self.train_all(seed, judges.get("plain", classifiers))
        model = models[DIRECTIONS[0]]
        timings["training"] = round(time.time() - start, 1)
        trained = sum(m.step for m in {id(m): m for m in models.values()}.values()) - before

        start = time.time()
        print(f"Validation study (seed {seed}, final step {model.step}):", flush=True)
        study = self.validation_study(models, classifiers)
        evaluated = {"weights": self.config.eval.weights, "batch_norm": self.config.eval.batch_norm}
        paths = self.prepared_translators(models, **evaluated)
        # Shipped before scoring: "batch" scoring runs the copies in training mode, which
        # moves their BatchNorm statistics.
        self.ship(out_dir, seed, paths, classifiers)
        scored = {d: scoring_function(p, evaluated["batch_norm"]) for d, p in paths.items()}
        test_results, test_per_image, test = self.test_evaluation(scored, judges)
        validation_per_image = {name: direction_correct(scored, self.scoring_judge(judge),
                                                        self.splits["validation"])
                                for name, judge in judges.items()}
        timings["evaluation"] = round(time.time() - start, 1)

        save_per_image(out_dir / f"correct_seed{seed}.npz",
                       {"validation": validation_per_image, "test": test_per_image})
        self.copy_logs(seed, out_dir)
        result = self.seed_record(seed, model, evaluated, test_results, {
            "classifier_accuracy": classifier_validation,
            "source_only": evaluate_source_only(classifiers, self.splits["validation"]),
            "variants": study,
        }, timings, trained, pairs)
        write_atomically(seed_file(out_dir, seed), json.dumps(result, indent=2) + "\n")
        return SeedRun(result, model, classifiers, test, scored)

    def copy_logs(self, seed: int, out_dir: Path) -> None:
        """The seed's loss log and monitor beside its results: ``losses_seed<N>.csv`` and
        ``monitor_seed<N>.csv``; a domain-adaptation method's two trainings log their losses
        apart (``losses_seed<N>_labelled_<domain>.csv``) and share one monitor file."""
        if self.output != "classifier":
            for name in ("losses", "monitor"):
                write_atomically(out_dir / f"{name}_seed{seed}.csv",
                                 (self.run_dir(seed) / f"{name}.csv").read_bytes())
            return
        rows: dict[str, dict] = {}
        for direction, domain in self.labelled_domains().items():
            run_dir = self.run_dir(seed, direction)
            write_atomically(out_dir / f"losses_seed{seed}_labelled_{domain}.csv",
                             (run_dir / "losses.csv").read_bytes())
            with (run_dir / "monitor.csv").open(newline="") as f:
                for row in csv.DictReader(f):
                    rows.setdefault(row.pop("step"), {}).update(row)
        columns = [f"{d}{suffix}" for suffix in ("", "_ema") for d in DIRECTIONS
                   if any(f"{d}{suffix}" in row for row in rows.values())]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["step", *columns])
        for step, row in rows.items():
            writer.writerow([step, *(row.get(c, "") for c in columns)])
        write_atomically(out_dir / f"monitor_seed{seed}.csv", text.getvalue().encode())

    def seed_record(self, seed: int, model, evaluated: dict, test_results: dict,
                    validation: dict, timings: dict, trained: int, pairs: int = 0) -> dict:
        """``seed<N>.json``: the numbers, the precision, the timing and the provenance."""
        seconds_per_step = round(timings["training"] / trained, 4) if trained else None
        run_dir = self.run_dirs(seed)[0]
        pretraining = {d: Path(self.run_dir(seed, d)) / "pretraining.json"
                       for d in self.labelled_domains()}
        pretraining = {d: json.loads(p.read_text()) for d, p in pretraining.items() if p.is_file()}
        if None in pretraining:
            pretraining = pretraining[None]
        translator_labels = ("training labels (fit part), to pre-train the method's fixed "
                             "parts" if model.USES_LABELS else "none")
        if self.output == "classifier":
            translator_labels = ("the training labels (fit part) of the Table 2 row's labelled "
                                 "domain only (USPS->MNIST: MNIST; MNIST->USPS: USPS)")
        return {
            "seed": seed,
            "preset": self.config.preset,
            "method": self.config.method,
            "output": self.output,
            "step": model.step,
            "evaluated": variant_name(**evaluated),
            # What the objective actually weighed each term by (its config section, mapped).
            "term_weights": model.used_term_weights(),
            "test": test_results,
            "validation": validation,
            "precision": recorded_precision(run_dir).to_dict(),
            "timing": {"seconds_per_step": seconds_per_step, "steps_trained": trained,
                       "wall_seconds": timings, "classifier_pairs_trained": pairs},
            **({"pretraining": pretraining} if pretraining else {}),
            "provenance": {
                "command": self.command,
                "config": self.config.to_dict(),
                "data_split": self.data_split_description(),
                "labels_read": "classifiers: training labels (fit part) and validation labels; "
                               f"{'the method' if self.output == 'classifier' else 'translators'}"
                               f": {translator_labels}; monitor and variant study: "
                               "validation labels of both domains; test labels: once, for the "
                               "reported numbers",
                "environment": self.environment,
                "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            },
        }


@dataclasses.dataclass
class SeedRun:
    """What a finished seed hands to the figures: its record, the trained model, its judges,
    the test images already read and the scored translation functions."""

    result: dict
    model: object
    classifiers: dict
    test: dict
    translators: dict


def _completed_steps(run_dir: Path) -> int:
    pointer = run_dir / "checkpoints" / "latest"
    return int(pointer.read_text()) if pointer.is_file() else 0
