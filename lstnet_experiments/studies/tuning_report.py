"""The tuning study's tables and figures, rebuilt from its SQLite file after every trial.

Writes, beside the study: ``trials.json`` (every trial: state, parameters, score, both
directions, curve, provenance), ``trials.md`` (the table), ``score_by_trial.png`` (score
against trial number, the base preset marked) and, once enough trials have finished,
``importance.png`` (per-lever importance from Optuna's fANOVA evaluator).
"""

from __future__ import annotations

import json
from pathlib import Path

from lstnet_tf.directions import DIRECTION_LABELS, DIRECTIONS
from lstnet_tf.files import write_atomically


def trial_rows(study) -> list[dict]:
    rows = []
    for t in study.trials:
        final = t.user_attrs.get("validation") or (t.user_attrs.get("curve") or [{}])[-1]
        rows.append({
            "number": t.number, "state": t.state.name, "params": t.params,
            "score": t.value, "last_reported": final.get("score"),
            "last_step": final.get("step"), "plain": final.get("plain"),
            "role": t.user_attrs.get("role"),
            "retry_of": t.system_attrs.get("failed_trial"),
            **{k: t.user_attrs.get(k) for k in ("steps", "seed", "git_commit", "machine",
                                                "precision", "wall_seconds", "judges_seconds", "overrides",
                                                "run_key", "curve")},
        })
    return rows


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def markdown(rows: list[dict], space) -> str:
    names = [lever.name for lever in space.levers]
    header = ("| trial | state | score | " + " | ".join(DIRECTION_LABELS[d] for d in DIRECTIONS)
              + " | steps | " + " | ".join(names) + " | precision | wall min | commit | CPU |")
    lines = [
        f"# Tuning study `{space.study}`: every trial", "",
        f"Base preset `{space.preset}`, training seed {space.seed}; score: mean of the two "
        "directions' accuracies on the validation split under Table 2's judge (classifiers "
        "trained without augmentation), final checkpoint, the preset's evaluation variant. "
        "Rebuilt from `study.db` by `python -m lstnet_experiments.studies.tune --report`.", "",
        header, "|" + " --- |" * (header.count("|") - 1),
    ]
    for r in rows:
        plain = r["plain"] or {}
        reached = (f"{r['last_reported']:.4f} at step {r['last_step']}"
                   if r["score"] is None and r["last_reported"] is not None else "")
        score = f"**{r['score']:.4f}**" if r["score"] is not None else reached or "—"
        label = f"{r['number']}" + (" (base preset)" if r["role"] else "") + (
            f" (retry of {r['retry_of']})" if r["retry_of"] is not None else "")
        lines.append(
            f"| {label} | {r['state'].lower()} | {score} | "
            + " | ".join(f"{plain[d]:.4f}" if d in plain else "—" for d in DIRECTIONS)
            + f" | {r['steps'] or '—'} | "
            + " | ".join(_value(r["params"].get(n, "—")) for n in names)
            + f" | {(r['precision'] or {}).get('precision', '—')} | "
            + (f"{r['wall_seconds'] / 60:.1f}" if r["wall_seconds"] else "—")
            + f" | `{(r['git_commit'] or '—')[:7]}` | {(r['machine'] or {}).get('cpu', '—')} |")
    return "\n".join(lines) + "\n"


def write(study, out_dir: Path, space) -> list[Path]:
    from lstnet_experiments.reproduction import plots

    out_dir = Path(out_dir)
    rows = trial_rows(study)
    written = [out_dir / "trials.json", out_dir / "trials.md"]
    write_atomically(written[0], json.dumps(rows, indent=2, default=str) + "\n")
    write_atomically(written[1], markdown(rows, space))
    finished = [r for r in rows if r["score"] is not None]
    if finished:
        written.append(plots.score_by_trial(
            [(r["number"], r["score"], bool(r["role"])) for r in finished],
            out_dir / "score_by_trial.png",
            f"Tuning study '{space.study}': validation score per finished trial"))
    written.append(out_dir / "proxy_check.md")
    write_atomically(written[-1], proxy_check(rows))
    importances = param_importances(study)
    if importances:
        written.append(plots.importances(importances, out_dir / "importance.png",
                                         "Per-lever importance (Optuna fANOVA, finished trials)"))
    return written


def proxy_check(rows: list[dict]) -> str:
    """Per earlier checkpoint, how well the score there ranks the finished trials as their
    final score does (Spearman's rho): the evidence a shorter proxy would need."""
    from scipy.stats import spearmanr

    finished = [r for r in rows if r["score"] is not None and r["curve"]]
    lines = ["# Proxy check: does an earlier checkpoint rank trials as the final one does?", "",
             f"Finished full-length trials: {len(finished)} (a proxy needs at least 4 and "
             "Spearman's rho >= 0.8; none is used until this page and the README say so).", ""]
    if len(finished) < 4:
        return "\n".join(lines + ["Too few finished trials to compute a rank correlation."]) + "\n"
    lines += ["| checkpoint (of the trial's schedule) | trials | Spearman rho | p |",
              "| --- | --- | --- | --- |"]
    reports = min(len(r["curve"]) for r in finished)
    for k in range(reports - 1):
        early = [r["curve"][k]["score"] for r in finished]
        rho, p = spearmanr(early, [r["score"] for r in finished])
        lines.append(f"| {k + 1} of {reports} | {len(finished)} | {rho:.2f} | {p:.2g} |")
    return "\n".join(lines) + "\n"


def param_importances(study) -> dict[str, float] | None:
    """fANOVA importances over the finished trials; None while there are too few to say."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 4:
        return None
    try:
        return optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError):
        return None
