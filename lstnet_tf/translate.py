"""Translate your own digit images with a trained LSTNet: ``python -m lstnet_tf.translate``.

    python -m lstnet_tf.translate --direction usps-to-mnist IMAGE_OR_FOLDER... --out DIR
    python -m lstnet_tf.translate --direction mnist-to-usps --weights my/mnist_to_usps.keras \\
        digits/ --out translated/

The weights are one of the standalone translator files that ``reproduce.py`` ships per seed,
``results/<preset>/models/seed<N>/{usps_to_mnist,mnist_to_usps}.keras`` (default: the cpu
preset's seed 0, relative to the repository root), loaded by ``lstnet_tf.shipped_models``
(float16 files with float32 layers). They are plain Keras files and map (N, 16, 16, 1) to
(N, 28, 28, 1) or back, in [-1, 1].

Inputs are PNG or JPEG files of any size, colour mode or polarity (any other format Pillow can
decode also works when the file is named explicitly), or folders, whose ``*.png``, ``*.jpg``
and ``*.jpeg`` files are translated in name order (not recursively; hidden files and, in the
``--out`` folder itself, this tool's own outputs are skipped).

Preprocessing: ``lstnet_tf.digit_images.preprocess`` (the recipe is in its docstring) turns
each image into the SOURCE domain's format the way the datasets were made.

Outputs, in ``--out`` (created if needed; written to a temporary name, then renamed):

- ``<stem>_<direction>.png`` per input (``<direction>`` is ``usps_to_mnist`` or
  ``mnist_to_usps``, as in the weights' file name): the translated digit at the target's
  NATIVE size (28x28 or 16x16), 8-bit grayscale, pixel = round((y + 1) * 127.5), bright digit
  on a dark background like the datasets; so it can be fed back in the other direction.
  Inputs with the same stem get ``<stem>-2_...``, ``<stem>-3_...``. An output that would
  replace an input file is not written (that input is reported as failed).
- ``overview_<direction>.png``: one row per image (up to the first 64), three columns: the
  input as read (grayscale), the source-format image that was translated, the translation;
  with the target-domain classifier's predicted label and confidence in the title when a
  classifier is available (``--classifier PATH``, else ``<weights folder>/<target>_classifier
  .keras`` if it exists; a Keras model mapping target images in [-1, 1] to 10 logits).

One line is printed per image written, then a summary. A file that cannot be read (not an
image, corrupt, blank) gets one line on stderr and the others are still translated; the exit
status is then 1. A missing weights or classifier file is reported before anything is written
(exit status 1). Usage errors (no inputs, no --out, --out an existing file) exit with status 2.

Python API: ``preprocess(image, domain)`` and ``translate_files(paths, direction, weights,
out_dir, classifier=None) -> (written, failures)``.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from lstnet_tf.digit_images import (IMAGE_SUFFIXES, InputImageError, grayscale, preprocess,
                                    read_image)
from lstnet_tf.domains import NUM_CLASSES, domain
from lstnet_tf.files import write_atomically
from lstnet_tf.shipped_models import (DIRECTIONS, ModelFileError, direction_domains,
                                     check_classifier, check_translator, default_classifier,
                                     default_weights, direction_key, load_classifier,
                                     load_translator, missing_weights_message)


OVERVIEW_MAX_IMAGES = 64
PREVIEW_SIDE = 128


@dataclass(frozen=True)
class Written:
    """One translated input."""

    source: Path  # the input file
    output: Path  # the translated PNG written
    source_image: np.ndarray  # (h, w, 1) float32 in [-1, 1]: the input in the source format
    translated: np.ndarray  # (H, W, 1) float32 in [-1, 1]: the model's output
    label: int | None = None  # the target classifier's prediction, if there is a classifier
    confidence: float | None = None  # its softmax probability


@dataclass(frozen=True)
class Failure:
    """One input (file or folder) that produced no output, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"






# ----------------------------------------------------------------------------------------
# Inputs


def _looks_like_own_output(name: str) -> bool:
    keys = [key for key, _, _ in DIRECTIONS.values()]
    return (name.startswith("overview_") and name.endswith(".png")) or any(
        name.endswith(f"_{key}.png") for key in keys)


def collect_inputs(paths: Iterable,
                   out_dir: Path | None = None) -> tuple[list[Path], list[Failure]]:
    """The image files named by ``paths`` (files, or folders: their PNG/JPEG files, sorted),
    each once, in order; and a ``Failure`` per path that does not exist or an empty folder."""
    files, failures, seen = [], [], set()
    out_resolved = Path(out_dir).resolve() if out_dir is not None else None

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for path in map(Path, paths):
        if path.is_dir():
            is_out = out_resolved is not None and path.resolve() == out_resolved
            found = sorted(
                child for child in path.iterdir()
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES
                and not child.name.startswith(".")
                and not (is_out and _looks_like_own_output(child.name)))
            if not found:
                failures.append(Failure(path, "folder holds no PNG or JPEG files"))
            for child in found:
                add(child)
        elif path.exists():
            add(path)
        else:
            failures.append(Failure(path, "no such file or folder"))
    return files, failures


# ----------------------------------------------------------------------------------------
# Translating and writing


def overview_path(out_dir: Path, direction: str) -> Path:
    return Path(out_dir) / f"overview_{direction_key(direction)}.png"


def png_bytes(image: np.ndarray) -> bytes:
    """An (H, W[, 1]) array in [-1, 1] as an 8-bit grayscale PNG, pixel round((x + 1) * 127.5)."""
    pixels = np.clip(np.rint((np.asarray(image, np.float64).reshape(image.shape[:2]) + 1.0)
                             * 127.5), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _preview(gray: np.ndarray) -> np.ndarray:
    """A small copy of the input for the overview."""
    height, width = gray.shape
    scale = PREVIEW_SIDE / max(height, width)
    if scale >= 1:
        return gray.astype(np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(gray.astype(np.float32)).resize(size, Image.Resampling.BOX))


def translate_files(paths: Sequence, direction: str, weights, out_dir, classifier=None,
                    *, batch_size: int = 64) -> tuple[list[Written], list[Failure]]:
    """Translates every image named by ``paths`` (files or folders) with ``weights`` (a .keras
    path or a loaded translator model) and writes ``<stem>_<direction>.png`` per image and
    ``overview_<direction>.png`` into ``out_dir``.

    ``direction`` is "usps-to-mnist" or "mnist-to-usps" (underscores also accepted).
    ``classifier`` (a .keras path or model taking target images, returning 10 logits) labels
    the translations; None means no labels (the command line looks for a default one).
    Returns the ``Written`` outputs and the ``Failure`` of each input that was not translated.
    Raises ``ModelFileError`` for a missing or unusable weights/classifier file, before
    anything is written.
    """
    key, source, target = direction_domains(direction)
    if isinstance(weights, (str, Path)):
        model = load_translator(Path(weights), direction)
    else:
        model = weights
        check_translator(model, "the translator", direction)
    if isinstance(classifier, (str, Path)):
        classifier = load_classifier(Path(classifier), direction)
    elif classifier is not None:
        check_classifier(classifier, "the classifier", target)

    out_dir = Path(out_dir)
    files, failures = collect_inputs(paths, out_dir)
    inputs = {path.resolve() for path in files}
    prepared = []  # (path, preview, source image)
    for path in files:
        try:
            gray = grayscale(read_image(path))
            prepared.append((path, _preview(gray), preprocess(gray, source)))
        except InputImageError as error:
            failures.append(Failure(path, str(error)))
    if not prepared:
        return [], failures

    batch = np.stack([image for _, _, image in prepared])
    translated = np.clip(np.asarray(model.predict(batch, batch_size=batch_size, verbose=0),
                                    dtype=np.float32), -1.0, 1.0)
    labels = confidences = [None] * len(prepared)
    if classifier is not None:
        logits = np.asarray(classifier.predict(translated, batch_size=batch_size, verbose=0),
                            dtype=np.float64)
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        labels = [int(label) for label in probabilities.argmax(axis=1)]
        confidences = [float(p) for p in probabilities.max(axis=1)]

    written, previews, used = [], [], set()
    for (path, preview, source_image), image, label, confidence in zip(
            prepared, translated, labels, confidences):
        output = _output_name(out_dir, path.stem, key, used)
        if output.resolve() in inputs:
            failures.append(Failure(path, f"its output {output} would replace an input file; "
                                          "choose another --out"))
            continue
        try:
            write_atomically(output, png_bytes(image))
        except OSError as error:
            failures.append(Failure(path, f"cannot write {output} ({error})"))
            continue
        written.append(Written(path, output, source_image, image, label, confidence))
        previews.append(preview)
    if written:
        overview = overview_path(out_dir, key)
        if overview.resolve() in inputs:
            failures.append(Failure(overview, "the overview would replace an input file; "
                                              "choose another --out"))
        else:
            try:
                write_atomically(overview, overview_png(written, previews, direction))
            except OSError as error:
                failures.append(Failure(overview, f"cannot write the overview ({error})"))
    return written, failures


def _output_name(out_dir: Path, stem: str, key: str, used: set) -> Path:
    candidate, number = f"{stem}_{key}.png", 1
    while candidate in used:
        number += 1
        candidate = f"{stem}-{number}_{key}.png"
    used.add(candidate)
    return out_dir / candidate


def overview_png(written: Sequence[Written], previews: Sequence[np.ndarray],
                 direction: str) -> bytes:
    """The overview grid as PNG bytes: per image (up to 64) a row input | source | translated."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    key, source, target = direction_domains(direction)
    shown = list(zip(written, previews))[:OVERVIEW_MAX_IMAGES]
    rows = len(shown)
    figure = Figure(figsize=(5.4, 1.75 * rows + 0.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    title = f"{domain(source).label} → {domain(target).label}"
    if len(written) > rows:
        title += f" (first {rows} of {len(written)} images)"
    figure.suptitle(title, fontsize=11)
    axes = figure.subplots(rows, 3, squeeze=False)
    for row, (item, preview) in enumerate(shown):
        name = item.source.name if len(item.source.name) <= 22 else item.source.name[:19] + "..."
        side = domain(target).image_size
        result = f"{domain(target).label} {side}x{side}"
        if item.label is not None:
            result += f"\nclassified {item.label} ({item.confidence:.0%})"
        source_side = domain(source).image_size
        panels = ((preview, None, None, f"input\n{name}"),
                  (item.source_image[..., 0], -1, 1, f"as {domain(source).label} "
                                                     f"{source_side}x{source_side}"),
                  (item.translated[..., 0], -1, 1, result))
        for axis, (image, vmin, vmax, label) in zip(axes[row], panels):
            axis.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            axis.set_title(label, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        # The installed console script, or the module run from a checkout.
        prog=("lstnet-translate" if Path(sys.argv[0]).name == "lstnet-translate"
              else "python -m lstnet_tf.translate"),
        description="Translate digit images between USPS (16x16) and MNIST (28x28) with a "
                    "trained LSTNet. Any PNG/JPEG digit works: it is first brought into the "
                    "source dataset's format (grayscale, dark background, size-normalised, "
                    "centred).",
        epilog="Writes <stem>_<direction>.png per image (native size) and "
               "overview_<direction>.png into --out.")
    parser.add_argument("--direction", required=True, choices=sorted(DIRECTIONS),
                        help="translation direction")
    parser.add_argument("--weights", type=Path, default=None, metavar="PATH",
                        help="translator .keras file (default: the shipped one, the cpu "
                             "preset's seed 0, inside the installed package)")
    parser.add_argument("--classifier", type=Path, default=None, metavar="PATH",
                        help=f"target-domain classifier .keras file ({NUM_CLASSES} logits) to label the "
                             "translations (default: <weights folder>/<target>_classifier"
                             ".keras if it exists)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for the outputs (created if needed)")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="PNG/JPEG files, or folders of them (not recursive)")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is an existing file, not a folder")
    return args


def main(argv=None) -> int:
    from lstnet_tf.console import hide_tensorflow_logs

    argv = sys.argv[1:] if argv is None else list(argv)
    hide_tensorflow_logs("--verbose" in argv)
    args = parse_args(argv)
    key, source, target = DIRECTIONS[args.direction]
    weights = args.weights if args.weights is not None else default_weights(args.direction)
    if not weights.is_file():
        print(f"error: {missing_weights_message(weights, args.direction, args.weights is not None)}",
              file=sys.stderr)
        return 1
    classifier = args.classifier
    if classifier is None:
        classifier = default_classifier(weights, args.direction)
    elif not classifier.is_file():
        print(f"error: --classifier {classifier}: no such file. Pass the path of a Keras "
              f"{domain(target).label} classifier (.keras), or leave the option out",
              file=sys.stderr)
        return 1
    try:
        written, failures = translate_files(args.images, args.direction, weights, args.out,
                                            classifier)
    except ModelFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for item in written:
        label = "" if item.label is None else (
            f", classified as {item.label} ({item.confidence:.0%})")
        print(f"wrote {item.output}  ({item.source} -> {domain(target).label}{label})")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    sys.stderr.flush()
    if not written:
        print(f"No image translated ({len(failures)} input(s) failed: the error lines on "
              "stderr say why).")
        return 1
    summary = (f"{len(written)} image(s) translated {domain(source).label} -> "
               f"{domain(target).label} with {weights}")
    if classifier is not None:
        summary += f", labels by {classifier}"
    summary += f"; overview: {overview_path(args.out, key)}"
    if failures:
        summary += f"; {len(failures)} failed (the error lines on stderr say why)"
    print(summary)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
