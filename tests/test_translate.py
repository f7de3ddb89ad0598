"""``python -m lstnet_tf.translate``: preprocessing of arbitrary digit images, the command, and
its handling of bad inputs and missing weights. The command runs once in a fresh process, as a
user runs it; its error cases call its main() in this process.

The translators are two standalone models cut from a tiny untrained LSTNet (width 1/16), saved
once per module; with a tiny MNIST classifier beside them, found by the default lookup.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lstnet_tf.digit_images import InputImageError, preprocess, read_image
from lstnet_tf.translate import overview_path, translate_files

ROOT = Path(__file__).resolve().parents[1]


def run_command(*args, timeout=240):
    """The command in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lstnet_tf.translate", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def command(in_process):
    """The command's main() in this process, as ``command(*args)``: its exit code and what it
    printed, like ``run_command``'s result."""
    from lstnet_tf.translate import main

    return lambda *args: in_process(main, *args)


def to_png(array: np.ndarray, path: Path) -> Path:
    """An image in [-1, 1] saved as an 8-bit grayscale PNG, pixel round((x + 1) * 127.5)."""
    Image.fromarray(np.rint((array[..., 0] + 1) * 127.5).astype(np.uint8)).save(path)
    return path


def drawn_seven(size=(40, 40), ink=(20, 20, 120), paper=(255, 255, 255)) -> Image.Image:
    """A '7' in dark blue strokes on white paper (RGB), like a scan."""
    width, height = size
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    draw.line([(0.25 * width, 0.2 * height), (0.75 * width, 0.2 * height),
               (0.42 * width, 0.85 * height)], fill=ink, width=max(2, width // 10))
    return image


def inverted(image: Image.Image) -> Image.Image:
    return Image.fromarray(255 - np.asarray(image.convert("L")))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """usps_to_mnist.keras, mnist_to_usps.keras and mnist_classifier.keras in one folder."""
    from lstnet_tf.classifier import build_classifier
    from lstnet_tf.config import ExperimentConfig, ModelConfig, TrainConfig
    from lstnet_tf.inference import translator
    from lstnet_tf.training import build_model

    folder = tmp_path_factory.mktemp("models")
    model = build_model(ExperimentConfig(model=ModelConfig(width=0.0625),
                                          train=TrainConfig(batch_size=4, ema_decay=0.5)),
                         precision="float32")
    for direction in ("usps_to_mnist", "mnist_to_usps"):
        translator(model, direction, "raw").save(folder / f"{direction}.keras")
    build_classifier(28, "mnist").save(folder / "mnist_classifier.keras")
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A white-background RGB 40x40 '7' (dark strokes), the inverted '7' at another size, a
    16x16 one, a JPEG, and a folder holding two more plus a non-image file (skipped)."""
    folder = tmp_path_factory.mktemp("inputs")
    drawn_seven().save(folder / "seven.png")
    inverted(drawn_seven((60, 50))).save(folder / "seven_inverted.png")
    inverted(drawn_seven((16, 16))).save(folder / "small.png")
    drawn_seven((90, 120)).save(folder / "photo.jpg", quality=80)
    sub = folder / "more"
    sub.mkdir()
    drawn_seven((30, 45), ink=(0, 0, 0), paper=(230, 220, 200)).save(sub / "a.png")
    inverted(drawn_seven((28, 28))).convert("RGBA").save(sub / "b.png")
    (sub / "notes.txt").write_text("not an image\n")
    return folder


# ----------------------------------------------------------------------------------------
# Preprocessing


@pytest.mark.parametrize("domain, side", [("mnist", 28), ("usps", 16)])
def test_a_drawn_digit_becomes_the_source_format(domain, side):
    x = preprocess(drawn_seven(), domain)
    assert x.shape == (side, side, 1) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == pytest.approx(1.0, abs=0.02)
    # Dark background, bright digit: the bottom corners are background, most pixels dark.
    assert x[-1, 0, 0] == x[-1, -1, 0] == -1.0
    assert np.median(x) < -0.99


@pytest.mark.parametrize("domain", ["mnist", "usps"])
def test_polarity_and_size_do_not_matter(domain):
    """Dark-on-white at 40x40 and white-on-black at 40x40 and 72x72 give nearly the same
    digit; without polarity detection the inverted ones would be mostly bright."""
    normal = preprocess(drawn_seven((40, 40)), domain)
    flipped = preprocess(inverted(drawn_seven((40, 40))), domain)
    other_size = preprocess(inverted(drawn_seven((72, 72))), domain)
    np.testing.assert_allclose(flipped, normal, atol=0.02)
    assert np.median(flipped) < -0.99
    # Another size may land a whole pixel away (integer placement, as in the datasets), and
    # thin strokes resampled to 16x16 differ more (two different digits differ by ~0.4).
    shifted = min(np.abs(np.roll(other_size, (dy, dx), axis=(0, 1)) - normal).mean()
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    assert shifted < {"mnist": 0.06, "usps": 0.15}[domain]


def test_mnist_recipe_fits_20x20_and_centres_the_mass():
    for size in ((100, 200), (200, 100)):
        x = (preprocess(drawn_seven(size), "mnist")[..., 0] + 1) / 2
        rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20
        centre = [(x.sum(axis) @ np.arange(28)) / x.sum() for axis in (1, 0)]
        np.testing.assert_allclose(centre, [14, 14], atol=0.5)


def test_usps_recipe_fills_the_frame_and_centres_the_box():
    x = (preprocess(drawn_seven((100, 200)), "usps")[..., 0] + 1) / 2  # a tall '7'
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    assert rows[0] == 0 and rows[-1] == 15 and cols[-1] - cols[0] < 15
    assert abs(cols[0] - (15 - cols[-1])) <= 1
    x = (preprocess(drawn_seven((200, 100)), "usps")[..., 0] + 1) / 2  # a wide '7'
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    assert cols[0] == 0 and cols[-1] == 15 and rows[-1] - rows[0] < 15
    assert abs(rows[0] - (15 - rows[-1])) <= 1


@pytest.mark.parametrize("domain", ["mnist", "usps"])
def test_a_real_dataset_digit_comes_back_unchanged(tmp_path, domain):
    """A test image saved as an 8-bit PNG preprocesses back to itself, and so does its
    inverted (dark on white) version."""
    from lstnet_tf import data

    x, _ = {"mnist": data.load_mnist, "usps": data.load_usps}[domain]("test")
    for index in (0, 1, 2):
        path = to_png(x[index], tmp_path / f"{domain}{index}.png")
        again = preprocess(read_image(path), domain)
        np.testing.assert_allclose(again, x[index], atol=0.01)
        flipped = preprocess(Image.fromarray(255 - np.asarray(Image.open(path))), domain)
        np.testing.assert_allclose(flipped, again, atol=0.01)


def test_a_blank_image_has_no_digit():
    with pytest.raises(InputImageError, match="no digit"):
        preprocess(Image.new("L", (20, 20), 200), "mnist")


# ----------------------------------------------------------------------------------------
# The Python API and the command


def test_translate_files_returns_target_format_arrays_and_writes_pngs(models, inputs, tmp_path):
    out = tmp_path / "out"
    written, failures = translate_files([inputs / "seven.png", inputs / "more"], "usps-to-mnist",
                                        models / "usps_to_mnist.keras", out,
                                        classifier=models / "mnist_classifier.keras")
    assert failures == []
    assert [item.source.name for item in written] == ["seven.png", "a.png", "b.png"]
    for item in written:
        assert item.source_image.shape == (16, 16, 1) and item.translated.shape == (28, 28, 1)
        assert -1 <= item.translated.min() <= item.translated.max() <= 1
        assert item.label in range(10) and 0 < item.confidence <= 1
        assert item.output == out / f"{item.source.stem}_usps_to_mnist.png"
        with Image.open(item.output) as png:
            assert png.size == (28, 28) and png.mode == "L"
    assert overview_path(out, "usps-to-mnist").is_file()


def test_the_command_translates_files_and_folders(models, inputs, tmp_path):
    out = tmp_path / "out"
    result = run_command("--direction", "mnist-to-usps", "--weights",
                         models / "mnist_to_usps.keras", inputs / "seven.png",
                         inputs / "seven_inverted.png", inputs / "small.png",
                         inputs / "photo.jpg", inputs / "more", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    names = ["seven", "seven_inverted", "small", "photo", "a", "b"]
    for name in names:
        with Image.open(out / f"{name}_mnist_to_usps.png") as png:
            assert png.size == (16, 16) and png.mode == "L"
    with Image.open(out / "overview_mnist_to_usps.png") as overview:
        assert overview.width > 200 and overview.height > 200
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}_mnist_to_usps.png" for name in names] + ["overview_mnist_to_usps.png"])
    lines = result.stdout.strip().splitlines()
    assert sum(line.startswith("wrote ") for line in lines) == len(names)
    assert "6 image(s) translated" in lines[-1]
    assert "classified" not in result.stdout  # no USPS classifier beside the weights
    assert (inputs / "more" / "notes.txt").read_text() == "not an image\n"


def test_bad_files_are_reported_and_the_good_ones_still_translated(models, inputs, tmp_path,
                                                                   command):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    text = tmp_path / "readme.txt"
    text.write_text("hello\n")
    out = tmp_path / "out"
    result = command("--direction", "usps-to-mnist", "--weights",
                     models / "usps_to_mnist.keras", inputs / "seven.png", corrupt, text,
                     inputs / "small.png", tmp_path / "missing.png", "--out", out)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 3, result.stderr
    for bad in (corrupt, text, tmp_path / "missing.png"):
        assert sum(str(bad) in line for line in errors) == 1
    assert (out / "seven_usps_to_mnist.png").is_file()
    assert (out / "small_usps_to_mnist.png").is_file()
    assert (out / "overview_usps_to_mnist.png").is_file()
    assert "classified as" in result.stdout  # mnist_classifier.keras beside the weights
    assert corrupt.read_bytes().startswith(b"\x89PNG") and text.read_text() == "hello\n"


def test_missing_weights_are_one_error_and_nothing_is_written(inputs, tmp_path, command):
    missing = tmp_path / "nowhere" / "usps_to_mnist.keras"
    out = tmp_path / "out"
    result = command("--direction", "usps-to-mnist", "--weights", missing,
                     inputs / "seven.png", "--out", out)
    assert result.returncode == 1
    assert str(missing) in result.stderr and "no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    result = command("--direction", "usps-to-mnist", "--classifier", missing.with_name("c.keras"),
                     inputs / "seven.png", "--out", out)
    assert result.returncode == 1 and "c.keras: no such file" in result.stderr
    assert not out.exists()


def test_an_empty_folder_says_no_image_was_found(tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = command("--direction", "mnist-to-usps", empty, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "no image translated" in result.stdout.lower() and "0 image(s)" not in result.stdout
    assert str(empty) in result.stderr


@pytest.mark.parametrize("args", [
    ["--direction", "usps-to-mnist", "--out", "OUT"],  # no images
    ["--direction", "usps-to-mnist", "IMAGE"],  # no --out
    ["--direction", "usps-to-mnist", "IMAGE", "--out", "IMAGE"],  # --out is a file
])
def test_usage_errors_exit_2(args, inputs, tmp_path, command):
    image = inputs / "seven.png"
    before = image.read_bytes()
    args = [str(image) if a == "IMAGE" else str(tmp_path / "out") if a == "OUT" else a
            for a in args]
    result = command(*args)
    assert result.returncode == 2 and "usage:" in result.stderr
    assert image.read_bytes() == before
