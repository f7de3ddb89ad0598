"""The figures of a run (matplotlib, PNG, written atomically)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lstnet_tf.files import write_atomically  # noqa: E402


def _save(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_atomically(path, buffer.getvalue())
    return Path(path)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    return {key: np.array([float(r[key]) for r in rows]) for key in (rows[0] if rows else {})}


def translation_grid(inputs, translated, cycled, predicted, labels, title: str, path: Path) -> Path:
    """Rows: input, translation (classifier's prediction above it, red if wrong), cycled back."""
    n = len(inputs)
    fig, axes = plt.subplots(3, n, figsize=(1.1 * n, 4.2), layout="constrained")
    for row, (name, images) in enumerate((("input", inputs), ("translated", translated),
                                           ("cycled back", cycled))):
        for k in range(n):
            ax = axes[row, k]
            ax.imshow(images[k, ..., 0], cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 1:
                ax.set_title(f"pred {predicted[k]}", fontsize=9,
                             color="black" if predicted[k] == labels[k] else "red")
            if row == 0:
                ax.set_title(f"label {labels[k]}", fontsize=9)
            if k == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def loss_curves(losses_csv: Path, path: Path, title: str) -> Path:
    """Every loss term against the step (moving average over ~1% of the run)."""
    data = read_csv(losses_csv)
    steps = data.pop("step")
    window = max(1, len(steps) // 100)
    groups = {
        "discriminators": [k for k in data if k.startswith("d_adv")],
        "enc./gen. adversarial (flipped labels)": [k for k in data if k.startswith("g_adv")],
        "cycle consistency (L1)": [k for k in data if k.startswith("cycle")],
        "weighted totals": ["d_total", "g_total"],
    }
    # A method's own terms (UNIT's KL, XGAN's semantic consistency, DTN's f-constancy)
    # get a panel of their own.
    grouped = {k for keys in groups.values() for k in keys}
    others = [k for k in data if k not in grouped]
    if others:
        groups["other terms"] = others
    groups = {name: keys for name, keys in groups.items() if keys}
    fig, axes = plt.subplots(1, len(groups), figsize=(4.4 * len(groups), 3.6), layout="constrained")
    for ax, (name, keys) in zip(axes, groups.items()):
        for key in keys:
            ax.plot(steps[window - 1:], _smooth(data[key], window), label=key)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if "cycle consistency (L1)" in groups:
        axes[list(groups).index("cycle consistency (L1)")].set_yscale("log")
    fig.suptitle(title if window == 1 else f"{title} (moving average over {window} steps)",
                 fontsize=11)
    return _save(fig, path)


def loss_comparison(losses_csvs: dict, names, path: Path, title: str) -> Path:
    """One panel per loss term, one line per run (``losses_csvs`` maps a label to a CSV)."""
    runs = {label: read_csv(csv_path) for label, csv_path in losses_csvs.items()}
    columns = 4
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows),
                             layout="constrained", squeeze=False)
    window = max(1, min(len(run["step"]) for run in runs.values()) // 50)
    for ax, name in zip(axes.flat, names):
        for label, run in runs.items():
            ax.plot(run["step"][window - 1:], _smooth(run[name], window), label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"{title} (moving average over {window} steps)", fontsize=11)
    return _save(fig, path)


def accuracy_curves(monitor_csvs: dict, path: Path, title: str) -> Path:
    """Translated validation-subset accuracy against the step, per labelled run
    (``monitor_csvs`` maps a label such as "seed 0" to a monitor CSV): final weights solid or
    dashed, their moving average (where the CSV has it) dotted. Monitoring only."""
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    lowest = 1.0
    for run_label, csv_path in monitor_csvs.items():
        data = read_csv(csv_path)
        for key, style in (("usps_to_mnist", "-"), ("mnist_to_usps", "--"),
                           ("usps_to_mnist_ema", ":"), ("mnist_to_usps_ema", ":")):
            if key in data and len(data[key]):
                name = key.replace("_to_", "→").replace("_ema", " (average)")
                ax.plot(data["step"], data[key], style, marker="o", markersize=3,
                        label=f"{name} {run_label}")
                lowest = min(lowest, float(np.min(data[key])))
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy on a validation subset")
    # A margin below the lowest point, so that no curve runs along the frame.
    ax.set_ylim(max(0.0, lowest - 0.05), 1.0)
    ax.set_title(f"{title}\nmonitoring only: the reported number is the final checkpoint",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def monitor_figure(out_dir: Path, title: str) -> Path:
    """``accuracy_monitor.png`` from every ``monitor_seed<N>.csv`` in ``out_dir``."""
    monitors = sorted(Path(out_dir).glob("monitor_seed*.csv"),
                      key=lambda p: int(p.stem[len("monitor_seed"):]))
    return accuracy_curves({f"seed {p.stem[len('monitor_seed'):]}": p for p in monitors},
                           Path(out_dir) / "accuracy_monitor.png", title)


def latent_embedding(z1, z2, y1, y2, path: Path, title: str) -> Path:
    """PCA of the latent codes E1(x1), E2(x2): by domain (left) and by digit class (right)."""
    codes = np.concatenate([z1.reshape(len(z1), -1), z2.reshape(len(z2), -1)]).astype(np.float64)
    codes -= codes.mean(axis=0)
    _, _, components = np.linalg.svd(codes, full_matrices=False)
    points = codes @ components[:2].T
    p1, p2 = points[:len(z1)], points[len(z1):]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    left.scatter(*p1.T, s=4, alpha=0.5, label="MNIST  E1(x1)")
    left.scatter(*p2.T, s=4, alpha=0.5, label="USPS  E2(x2)")
    left.set_title("by domain")
    left.legend(markerscale=3)
    cmap = plt.get_cmap("tab10")
    right.scatter(*p1.T, s=5, c=cmap(y1), marker="o", alpha=0.5)
    right.scatter(*p2.T, s=9, c=cmap(y2), marker="x", alpha=0.6)
    for digit in range(10):
        right.scatter([], [], color=cmap(digit), label=str(digit))
    right.set_title("by digit (o MNIST, x USPS)")
    right.legend(fontsize=7, ncol=2, markerscale=2)
    for ax in (left, right):
        ax.set_xlabel("PC 1"), ax.set_ylabel("PC 2")
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def method_rows(panels: dict, title: str, path: Path) -> Path:
    """One panel per direction, one above the other: ``panels[direction][row label]`` is a batch of
    images (the same inputs in every row), one row per label."""
    n = max(len(images) for rows in panels.values() for images in rows.values())
    height = max(len(rows) for rows in panels.values())
    fig = plt.figure(figsize=(0.8 * n + 1.5, (0.85 * height + 0.5) * len(panels)),
                     layout="constrained")
    for subfig, (direction, rows) in zip(fig.subfigures(len(panels), 1), panels.items()):
        axes = subfig.subplots(height, n, squeeze=False)
        for r, (label, images) in enumerate(rows.items()):
            for k in range(n):
                ax = axes[r, k]
                ax.imshow(images[k, ..., 0], cmap="gray", vmin=-1, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if k == 0:
                    ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        for r in range(len(rows), height):
            for ax in axes[r]:
                ax.set_visible(False)
        subfig.suptitle(direction, fontsize=10)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def score_by_trial(points: list[tuple[int, float, bool]], path: Path, title: str) -> Path:
    """A tuning study's score against the trial number (``(number, score, is_base_preset)``),
    with the best score so far as a step line and the base preset's score as a dashed line."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    numbers = [n for n, _, _ in points]
    scores = [s for _, s, _ in points]
    ax.plot(numbers, scores, "o", label="finished trial")
    ax.step(numbers, np.maximum.accumulate(scores), where="post", label="best so far")
    for number, score, base in points:
        if base:
            ax.axhline(score, color="gray", linestyle="--", label=f"base preset (trial {number})")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation score (plain judge, mean of both directions)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def importances(values: dict[str, float], path: Path, title: str) -> Path:
    """Horizontal bars of per-parameter importances (largest on top)."""
    names = list(values)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.2), layout="constrained")
    ax.barh(names, [values[n] for n in names])
    ax.set_xlabel("importance (share of the score's variance)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def width_curve(points: list[dict], path: Path) -> Path:
    """Validation accuracy against the step, one line per width, one panel per judge and
    direction (``width_curve`` points)."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), layout="constrained", sharex=True)
    panels = [(judge, direction) for judge in ("plain", "augmented")
              for direction in ("usps_to_mnist", "mnist_to_usps")]
    for ax, (judge, direction) in zip(axes, panels):
        for width in sorted({p["width"] for p in points}):
            mine = sorted((p for p in points if p["width"] == width), key=lambda p: p["step"])
            ax.plot([p["step"] for p in mine], [p[judge][direction] for p in mine], marker="o",
                    label=f"width {width:g}")
        ax.set_title(f"{direction.replace('_to_', '→')}, {judge} judge", fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle("Width at the same step counts (one seed, validation)", fontsize=11)
    return _save(fig, path)


def seed_figures(first, out: Path, seed: int, preset: str):
    """The figures of a results directory, drawn from its lowest seed (``first``, a
    ``runner.SeedRun``): the monitor of every seed; the translations, loss curves and latent
    embedding of a translator method."""
    from lstnet_tf.classifier import predict_labels
    from lstnet_tf.evaluate import apply_in_batches
    from lstnet_tf.directions import SOURCE_AND_TARGET

    monitored = sorted(int(p.stem[len("monitor_seed"):]) for p in out.glob("monitor_seed*.csv"))
    monitor_figure(out, f"Translated validation-subset accuracy ({preset}, seeds "
                              f"{monitored})")
    model, classifiers, test, translators = (first.model, first.classifiers, first.test,
                                             first.translators)
    if model.OUTPUT == "classifier":  # no translations, no shared latent to draw
        return
    n = 12
    for direction, translate in translators.items():
        source, target = SOURCE_AND_TARGET[direction]
        x, y = test[source]
        back = translators["mnist_to_usps" if direction == "usps_to_mnist" else "usps_to_mnist"]
        translated = apply_in_batches(translate, x[:n])
        translation_grid(
            x[:n], translated, apply_in_batches(back, translated),
            predict_labels(classifiers[target], translated), y[:n],
            f"{source.upper()} → {target.upper()} ({preset}, seed {seed}, first {n} test images)",
            out / f"translations_{direction}.png")
    loss_curves(out / f"losses_seed{seed}.csv", out / "losses.png",
                      f"LSTNet losses ({preset}, seed {seed})")
    k = 1000
    (x1, y1), (x2, y2) = test["mnist"], test["usps"]
    latent_embedding(apply_in_batches(model.encode_1, x1[:k]),
                           apply_in_batches(model.encode_2, x2[:k]), y1[:k], y2[:k],
                           out / "latent_embedding.png",
                           f"PCA of latent codes, {k} test images per domain ({preset}, seed {seed})")
