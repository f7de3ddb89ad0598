"""How long a ``reproduce.py --all`` run takes here: classifiers + training + evaluation.

Read from the committed machine records, matched on what decides speed, the instruction sets
(``files.FLAGS_OF_NOTE``) and the core count, never on the CPU's name alone:

- **training**: the benchmark page (``results/benchmarks/<machine>.json``) of this machine
  kind, its seconds per step at the preset's width in the precision the run trains in (decided
  before the estimate is printed), times the steps;
- **classifiers** and **evaluation**: the committed seed files of the preset
  (``results/<preset>/seed<N>.json``: wall seconds of each phase, with the machine), per
  classifier pair to train (cached pairs cost nothing) and per seed; evaluation is scaled by
  the ratio of the two machines' training step at this width, a classifier pair by the ratio
  of their float32 steps at width 0.25.

When no record of this machine kind exists, the nearest one is used and the estimate says so.

Machines of one kind differ (two 2-core AMD EPYC VMs with the same instruction sets ran the
same seed at 0.32 and 0.45 s/step), so when the run has timed its own step (``auto``
precision does, at the start; else a few steps are timed for the estimate), the estimate is
**calibrated** to this machine: the committed seeds of the preset at this width recorded the
same timing of their own start, so training = this machine's timed step x their ratio of
real (checkpoints, monitor, data) to timed step x the steps, and the classifiers and the
evaluation scale by this machine's timed step over theirs.
"""

from __future__ import annotations

import functools

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from lstnet_tf.files import FLAGS_OF_NOTE

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
REFERENCE_WIDTH = 0.25  # the classifiers' speed ratio is read at this width, in float32


def speed_identity(env: dict) -> tuple[int | None, frozenset | None]:
    """The core count and the instruction sets of note a record names (None: not recorded)."""
    cpu = env.get("cpu", "")
    cores = cpu.rsplit(" x ", 1)[1].split()[0] if " x " in cpu else ""
    flags = env.get("cpu_flags")
    return (int(cores) if cores.isdigit() else None,
            None if flags is None else frozenset(f for f in flags if f in FLAGS_OF_NOTE))


def relation(record_env: dict, env: dict) -> tuple[int, str]:
    """How near a record's machine is to ``env``: 0 the same kind (instruction sets and cores;
    same CPU name too), 1 the same instruction sets and cores under another name, 2 another."""
    mine, theirs = speed_identity(env), speed_identity(record_env)
    if None not in theirs and theirs == mine:
        if record_env.get("cpu") == env.get("cpu"):
            return 0, "this machine kind"
        return 1, "another CPU with the same instruction sets and cores"
    return 2, "another machine kind (other instruction sets or cores)"


@dataclass
class Estimate:
    classifiers: float
    training: float
    evaluation: float
    precision: str
    sources: list[str]

    @property
    def total(self) -> float:
        return self.classifiers + self.training + self.evaluation

    def text(self) -> str:
        return (f"Estimated run time: ~{self.total / 60:.0f} min = classifiers "
                f"~{self.classifiers / 60:.0f} + training ~{self.training / 60:.0f} + "
                f"evaluation ~{self.evaluation / 60:.0f} min, in {self.precision}; "
                + "; ".join(self.sources) + ".")


def benchmark_pages(directory: Path | None = None) -> list[dict]:
    pages = []
    for path in sorted((directory or RESULTS / "benchmarks").glob("*.json")):
        page = json.loads(path.read_text())
        page["path"] = path
        pages.append(page)
    return pages


def step_seconds(page: dict, width: float, precision: str) -> float | None:
    for row in page["rows"]:
        if (row["width"] == width and row["precision"] == precision and row["reuse_forward"]
                and not row["jit_compile"]):
            return row["seconds_per_iteration_median"]
    return None


def nearest_page(env: dict, width: float, precision: str, pages: list[dict]):
    """The benchmark page nearest to ``env`` that timed this width and precision."""
    ranked = sorted((relation(p["environment"], env)[0], str(p["path"].name), i)
                    for i, p in enumerate(pages) if step_seconds(p, width, precision))
    return pages[ranked[0][2]] if ranked else None


def seed_records(preset: str, results: Path | None = None) -> list[dict]:
    """The preset's committed seed files that timed their phases."""
    records = []
    for path in sorted(((results or RESULTS) / preset).glob("seed*.json")):
        record = json.loads(path.read_text())
        if record.get("timing", {}).get("seconds_per_step"):
            record["path"] = path
            records.append(record)
    return records


def classifier_pairs(record: dict) -> int:
    """Classifier pairs a seed trained: recorded since 2026-12; before, a fresh work directory's
    seed 0 trained its own pair and the plain judge's (seed 0), a later seed its own only."""
    timing = record["timing"]
    return timing.get("classifier_pairs_trained", 2 if record["seed"] == 0 else 1)


def timed_step(record: dict, precision: str) -> float | None:
    """The step a seed timed at its start in ``precision`` (``auto``'s measurement), if any."""
    return record.get("precision", {}).get("seconds_per_step", {}).get(precision)


def calibrated(config, seeds: int, pairs_to_train: int, precision: str, step_here,
               results: Path | None = None) -> Estimate | None:
    """The estimate from the preset's committed seeds at this width that timed their start in
    ``precision``, scaled by ``step_here`` (this machine's timing of the same kind, seconds,
    or a function that times it: called only when such seeds exist); None when there are
    none."""
    records = [r for r in seed_records(config.preset, results) if timed_step(r, precision)
               and r["provenance"].get("config", {}).get("model", {}).get("width")
               == config.model.width]
    if not records:
        return None
    step_here = step_here() if callable(step_here) else step_here
    step_there = statistics.median(timed_step(r, precision) for r in records)
    real_over_timed = statistics.median(r["timing"]["seconds_per_step"] / timed_step(r, precision)
                                        for r in records)
    speed = step_here / step_there
    training_step = step_here * real_over_timed
    per_pair = statistics.median(r["timing"]["wall_seconds"]["classifiers"] / classifier_pairs(r)
                                 for r in records)
    per_eval_step = statistics.median(r["timing"]["wall_seconds"]["evaluation"]
                                      / r["timing"]["seconds_per_step"] for r in records)
    source = (f"calibrated to this machine: its {precision} step, timed at the start "
              f"({step_here:.3f} s), against the same timing of {len(records)} committed "
              f"{config.preset} seed(s) on {records[0]['provenance']['environment']['cpu']} "
              f"({step_there:.3f} s; their real step was {real_over_timed:.2f} x the timed one)")
    return Estimate(per_pair * speed * pairs_to_train, training_step * config.train.steps * seeds,
                    per_eval_step * training_step * seeds, precision, [source])


def estimate(config, seeds: int, pairs_to_train: int, precision: str, env: dict,
             results: Path | None = None, step_here=None) -> Estimate | None:
    """The run's estimate, or None when no record has this width and precision: calibrated
    when this machine's step was timed (``step_here``) and committed seeds allow it, else
    from the nearest machine kind's records."""
    if step_here:
        found = calibrated(config, seeds, pairs_to_train, precision, step_here, results)
        if found is not None:
            return found
    pages = benchmark_pages(None if results is None else results / "benchmarks")
    width = config.model.width
    page = nearest_page(env, width, precision, pages)
    if page is None:
        return None
    step = step_seconds(page, width, precision)
    where, page_cpu = relation(page["environment"], env)[1], page["environment"]["cpu"]
    sources = [f"training from the {precision} step of {page_cpu} ({where}; "
               f"results/benchmarks/{page['path'].name})"]
    records = seed_records(config.preset, results)
    if not records:
        sources.append(f"no committed {config.preset} seed: classifiers and evaluation unknown "
                       "(counted as 0)")
        return Estimate(0.0, step * config.train.steps * seeds, 0.0, precision, sources)
    nearest = min(relation(r["provenance"]["environment"], env)[0] for r in records)
    records = [r for r in records if relation(r["provenance"]["environment"], env)[0] == nearest]
    their_env = records[0]["provenance"]["environment"]
    # Their phases scaled to this machine: evaluation by the training step at this width,
    # a classifier pair (float32 always) by the float32 step at the reference width.
    own = [p for p in pages if relation(p["environment"], env)[0] < 2]
    theirs = min(pages, key=lambda p: relation(p["environment"], their_env)[0])
    scale = _ratio(own[0], theirs, REFERENCE_WIDTH, "float32") if own else 1.0
    per_pair = statistics.median(r["timing"]["wall_seconds"]["classifiers"] / classifier_pairs(r)
                                 for r in records) * scale
    per_eval_step = statistics.median(r["timing"]["wall_seconds"]["evaluation"]
                                      / r["timing"]["seconds_per_step"] for r in records)
    sources.append(f"classifiers and evaluation from {len(records)} committed {config.preset} "
                   f"seed(s) on {their_env['cpu']} ("
                   + relation(their_env, env)[1]
                   + ("" if nearest == 0 else f", scaled by {scale:.2f}" if own
                      else ", unscaled: no benchmark of this machine kind") + ")")
    return Estimate(per_pair * pairs_to_train, step * config.train.steps * seeds,
                    per_eval_step * step * seeds, precision, sources)


def _ratio(own: dict, theirs: dict, width: float, precision: str) -> float:
    mine, other = step_seconds(own, width, precision), step_seconds(theirs, width, precision)
    return mine / other if mine and other and not math.isclose(other, 0) else 1.0


def run_estimate(config, seeds: list[int], runner, env: dict | None = None) -> str:
    """The whole run's estimate (``run_time``), in the precision the first seed trains in,
    decided now as training would (written to its run directory's ``precision.json``, after
    timing a throw-away model in each candidate for ``auto`` on a bfloat16 CPU), and calibrated
    to this machine by its own step in that precision: ``auto``'s timing, else a few steps
    timed now."""
    from lstnet_tf.files import machine
    from lstnet_tf.run_record import decide_precision
    from lstnet_tf.training import measure_seconds_per_step

    first = next(iter(runner.labelled_domains()))  # the first training of a seed
    config = runner.training_config(first)
    run_dir = runner.run_dir(seeds[0], first)
    run_dir.mkdir(parents=True, exist_ok=True)
    time_step = functools.partial(measure_seconds_per_step, config)
    choice = decide_precision(config, run_dir, time_step)
    step_here = (choice.seconds_per_step.get(choice.precision)
                 or (lambda: time_step(choice.precision)))
    # A domain-adaptation method trains once per Table 2 row: two trainings a seed.
    trainings = len(seeds) * len(runner.labelled_domains())
    found = estimate(config, trainings, runner.pairs_to_train(seeds), choice.precision,
                     env or machine(), step_here=step_here)
    if found is None:
        return (f"No committed benchmark for width {config.model.width:g} in "
                f"{choice.precision}: run time unknown (docs/speed.md).")
    return found.text()
