"""Tests of lstnet_tf/data.py: loading, verification, errors, augmentation, pairing.

Real data comes from the shared data directory (see conftest.py); every test runs with downloads
off or with the URL opener replaced, so none reaches the network. Expected class counts are the
official ones (../shared/data/README.md), not values produced by the code under test.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf

from lstnet_tf import data, pipeline

MNIST_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
MNIST_FIRST_LABELS = {
    "train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
    "test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
}
USPS_COUNTS = {
    "train": [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644],
    "test": [359, 264, 198, 166, 200, 160, 170, 147, 166, 177],
}
TEST_LABELS_GZ = "t10k-labels-idx1-ubyte.gz"
TEST_IMAGES_GZ = "t10k-images-idx3-ubyte.gz"
TEST_LABELS_SHA256 = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"  # README


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Each test gets its own empty cache; data directories are passed explicitly."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.NO_DOWNLOAD_ENV, "1")


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "xdg-cache" / "lstnet_tf"


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------
# USPS in LIBSVM format, written independently of the loader from the h5 data


def h5_usps(shared_data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """USPS pixels as integer thousandths in [-1000, 1000], and labels, read straight from h5."""
    with h5py.File(shared_data_dir / "usps" / "usps.h5", "r") as h5:
        pixels = np.asarray(h5[split]["data"], dtype=np.float64)
        labels = np.asarray(h5[split]["target"], dtype=np.int64)
    return np.rint((2.0 * pixels - 1.0) * 1000).astype(np.int64), labels


def write_libsvm(path: Path, millis: np.ndarray, labels: np.ndarray) -> Path:
    """The public usps(.t).bz2 format: '<digit + 1> index:value ...', 1-based, zeros left out."""
    text = {m: f"{m / 1000:g}" for m in range(-1000, 1001)}
    lines = []
    for row, label in zip(millis, labels):
        features = " ".join(f"{j + 1}:{text[m]}" for j, m in enumerate(row) if m != 0)
        lines.append(f"{label + 1} {features}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    with bz2.open(path, "wt", encoding="ascii") as stream:
        stream.writelines(lines)
    return path


@pytest.fixture(scope="session")
def full_libsvm_dir(shared_data_dir, tmp_path_factory) -> Path:
    """Both complete LIBSVM files, as a user downloading USPS would have them."""
    folder = tmp_path_factory.mktemp("libsvm")
    for split, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
        write_libsvm(folder / "usps" / name, *h5_usps(shared_data_dir, split))
    return folder


# ---------------------------------------------------------------------------------------------
# Where data is looked for


def test_search_order_is_argument_then_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "env"))
    assert data.resolve_data_dirs(tmp_path / "arg") == [
        tmp_path / "arg", tmp_path / "env", tmp_path / "xdg-cache" / "lstnet_tf"]


def test_cache_defaults_to_home_dot_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.resolve_data_dirs() == [tmp_path / ".cache" / "lstnet_tf"]


# ---------------------------------------------------------------------------------------------
# Loading the real data


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_shapes_values_and_official_counts(shared_data_dir, split):
    images, labels = data.load_mnist(split, data_dir=shared_data_dir)
    n = sum(MNIST_COUNTS[split])
    assert images.shape == (n, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int32
    assert images.min() == -1.0 and images.max() == 1.0
    assert np.all(images[:, 0, 0, 0] == pipeline.BACKGROUND)
    assert np.bincount(labels).tolist() == MNIST_COUNTS[split]
    assert labels[:10].tolist() == MNIST_FIRST_LABELS[split]


@pytest.mark.parametrize("split", ["train", "test"])
def test_usps_native_size_values_and_official_counts(shared_data_dir, split):
    images, labels = data.load_usps(split, data_dir=shared_data_dir)
    n = sum(USPS_COUNTS[split])
    assert images.shape == (n, 16, 16, 1) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int32
    assert images.min() == -1.0 and images.max() == 1.0
    assert np.median(images) == pipeline.BACKGROUND
    assert np.bincount(labels).tolist() == USPS_COUNTS[split]


def test_data_dir_from_environment(monkeypatch, shared_data_dir):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(shared_data_dir))
    assert len(data.load_usps("test")[0]) == 2007


def test_repeated_loads_are_cached_and_read_only(shared_data_dir):
    first = data.load_mnist("test", data_dir=shared_data_dir)
    second = data.load_mnist("test", data_dir=shared_data_dir)
    assert second[0] is first[0] and second[1] is first[1]
    with pytest.raises(ValueError):
        second[0][0, 0, 0, 0] = 0.0


def test_mnist_uncompressed_files_and_flat_layout(shared_data_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    shutil.copy(shared_data_dir / "mnist" / TEST_IMAGES_GZ, tmp_path / "mnist")
    raw_labels = gzip.decompress((shared_data_dir / "mnist" / TEST_LABELS_GZ).read_bytes())
    (tmp_path / TEST_LABELS_GZ.removesuffix(".gz")).write_bytes(raw_labels)
    images, labels = data.load_mnist("test", data_dir=tmp_path)
    expected_images, expected_labels = data.load_mnist("test", data_dir=shared_data_dir)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


@pytest.mark.parametrize("load", [data.load_mnist, data.load_usps])
@pytest.mark.parametrize("split", ["Train", "validation", ""])
def test_invalid_split_is_rejected(load, split):
    with pytest.raises(ValueError, match="'train', 'test'"):
        load(split)


# ---------------------------------------------------------------------------------------------
# USPS: both formats give the same images


def test_usps_libsvm_subset_matches_h5(shared_data_dir, tmp_path, monkeypatch):
    millis, labels = h5_usps(shared_data_dir, "train")
    millis, labels = millis[:40], labels[:40]
    assert np.any(millis == 0), "the subset should exercise features left out of the file"
    write_libsvm(tmp_path / "usps" / "usps.bz2", millis, labels)
    subset_digest = hashlib.sha256(
        millis.astype("<i2").tobytes() + labels.astype("<i4").tobytes()).hexdigest()
    monkeypatch.setitem(data.USPS_COUNTS, "train", 40)
    monkeypatch.setitem(data.USPS_SHA256, "train", subset_digest)

    images, loaded_labels = data.load_usps("train", data_dir=tmp_path)
    h5_images, h5_labels = data.load_usps("train", data_dir=shared_data_dir)
    np.testing.assert_array_equal(images, h5_images[:40])
    np.testing.assert_array_equal(loaded_labels, h5_labels[:40])


@pytest.mark.parametrize("split", ["train", "test"])
def test_full_libsvm_files_match_h5_and_recorded_checksums(full_libsvm_dir, shared_data_dir,
                                                           split):
    images, labels = data.load_usps(split, data_dir=full_libsvm_dir)
    h5_images, h5_labels = data.load_usps(split, data_dir=shared_data_dir)
    assert images.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_array_equal(images, h5_images)
    np.testing.assert_array_equal(labels, h5_labels)


# ---------------------------------------------------------------------------------------------
# Missing and bad files


def assert_names_where_and_how(message: str, *needles):
    for needle in (*needles, "--data-dir", data.DATA_DIR_ENV):
        assert str(needle) in message


def test_missing_directory(tmp_path, cache_dir):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(data.DataError) as error:
        data.load_mnist("test", data_dir=missing)
    assert_names_where_and_how(str(error.value), TEST_IMAGES_GZ, TEST_LABELS_GZ, missing,
                               "does not exist", cache_dir, data.NO_DOWNLOAD_ENV)


def test_missing_file(shared_data_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    shutil.copy(shared_data_dir / "mnist" / TEST_IMAGES_GZ, tmp_path / "mnist")
    with pytest.raises(data.DataError) as error:
        data.load_mnist("test", data_dir=tmp_path)
    assert_names_where_and_how(str(error.value), TEST_LABELS_GZ, tmp_path)
    assert TEST_IMAGES_GZ not in str(error.value)


def test_missing_usps_names_both_formats(tmp_path):
    with pytest.raises(data.DataError) as error:
        data.load_usps("test", data_dir=tmp_path)
    assert_names_where_and_how(str(error.value), "usps.h5", "usps.t.bz2", tmp_path)


def truncated_gzip(source: Path, target: Path) -> None:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])


def gzip_with_one_byte_changed(source: Path, target: Path) -> None:
    content = bytearray(gzip.decompress(source.read_bytes()))
    content[-1] ^= 1
    target.write_bytes(gzip.compress(bytes(content)))


@pytest.mark.parametrize(("corrupt", "expected_text"), [
    (truncated_gzip, "truncated or corrupt gzip"),
    (gzip_with_one_byte_changed, TEST_LABELS_SHA256),
])
def test_bad_mnist_file(shared_data_dir, tmp_path, cache_dir, corrupt, expected_text):
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    shutil.copy(shared_data_dir / "mnist" / TEST_IMAGES_GZ, folder)
    corrupt(shared_data_dir / "mnist" / TEST_LABELS_GZ, folder / TEST_LABELS_GZ)
    with pytest.raises(data.DataError) as error:
        data.load_mnist("test", data_dir=tmp_path / "data")
    message = str(error.value)
    assert str(folder / TEST_LABELS_GZ) in message and expected_text in message
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert files_under(cache_dir) == []


def truncated_bz2(folder: Path, shared_data_dir: Path) -> None:
    full = write_libsvm(folder / "full.bz2", *h5_usps(shared_data_dir, "test"))
    (folder / "usps.t.bz2").write_bytes(full.read_bytes()[:50000])
    full.unlink()


def garbage_h5(folder: Path, shared_data_dir: Path) -> None:
    (folder / "usps.h5").write_bytes(b"not an HDF5 file" * 100)


def libsvm_of_train_split(folder: Path, shared_data_dir: Path) -> None:
    write_libsvm(folder / "usps.t.bz2", *[a[:100] for a in h5_usps(shared_data_dir, "train")])


def libsvm_with_one_pixel_changed(folder: Path, shared_data_dir: Path) -> None:
    millis, labels = h5_usps(shared_data_dir, "test")
    millis[0, 0] = 999
    write_libsvm(folder / "usps.t.bz2", millis, labels)


@pytest.mark.parametrize(("corrupt", "bad_name", "expected_text"), [
    (truncated_bz2, "usps.t.bz2", "truncated or corrupt bz2"),
    (garbage_h5, "usps.h5", "HDF5"),
    (libsvm_of_train_split, "usps.t.bz2", "found 100 images, expected 2007"),
    (libsvm_with_one_pixel_changed, "usps.t.bz2", data.USPS_SHA256["test"]),
])
def test_bad_usps_file(shared_data_dir, tmp_path, corrupt, bad_name, expected_text):
    corrupt(tmp_path, shared_data_dir)
    with pytest.raises(data.DataError) as error:
        data.load_usps("test", data_dir=tmp_path)
    assert str(tmp_path / bad_name) in str(error.value) and expected_text in str(error.value)


# ---------------------------------------------------------------------------------------------
# Downloads, with the URL opener replaced: nothing here reaches the network


class FakeOpener:
    """Stands in for urllib.request.urlopen; serves bytes by file name and records the calls."""

    def __init__(self, files: dict[str, bytes] | None = None, error: Exception | None = None):
        self.files = files or {}
        self.error = error
        self.calls = []

    def __call__(self, url, timeout=None):
        self.calls.append((url, timeout))
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.files[url.rsplit("/", 1)[-1]])


def test_offline_download_fails_fast_without_partial_files(monkeypatch, tmp_path, cache_dir):
    opener = FakeOpener(error=urllib.error.URLError("Name or service not known"))
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    waits = []  # fails fast: no pause between attempts (the opener fails at once)
    monkeypatch.setattr(time, "sleep", waits.append)
    with pytest.raises(data.DataError) as error:
        data.load_mnist("test", data_dir=tmp_path / "empty", download=True)
    assert waits == []
    urls = [url for url, _ in opener.calls]
    assert len(urls) == len(set(urls)) == 2, "one attempt per mirror, then give up"
    assert all(0 < timeout <= 10 for _, timeout in opener.calls)
    assert_names_where_and_how(str(error.value), "Could not download", TEST_IMAGES_GZ, *urls)
    assert files_under(cache_dir) == []


def test_no_download_env_var_prevents_any_request(monkeypatch, tmp_path):
    opener = FakeOpener(error=AssertionError("no request may be made"))
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    with pytest.raises(data.DataError, match=f"{data.NO_DOWNLOAD_ENV}=1 is set"):
        data.load_usps("test", data_dir=tmp_path)
    assert opener.calls == []


def test_downloads_are_on_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv(data.NO_DOWNLOAD_ENV)
    opener = FakeOpener(error=urllib.error.URLError("offline"))
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    with pytest.raises(data.DataError, match="Could not download"):
        data.load_usps("test", data_dir=tmp_path)
    assert len(opener.calls) == 1


def test_download_verifies_and_stores_in_cache(monkeypatch, shared_data_dir, tmp_path, cache_dir):
    files = {name: (shared_data_dir / "mnist" / name).read_bytes()
             for name in (TEST_IMAGES_GZ, TEST_LABELS_GZ)}
    monkeypatch.setattr(urllib.request, "urlopen", FakeOpener(files))
    images, labels = data.load_mnist("test", data_dir=tmp_path / "empty", download=True)
    np.testing.assert_array_equal(labels, data.load_mnist("test", data_dir=shared_data_dir)[1])
    assert images.shape == (10000, 28, 28, 1)
    assert files_under(cache_dir) == [cache_dir / "mnist" / TEST_IMAGES_GZ,
                                      cache_dir / "mnist" / TEST_LABELS_GZ]


def test_usps_download_of_libsvm_file(monkeypatch, full_libsvm_dir, shared_data_dir, cache_dir):
    files = {"usps.t.bz2": (full_libsvm_dir / "usps" / "usps.t.bz2").read_bytes()}
    monkeypatch.setattr(urllib.request, "urlopen", FakeOpener(files))
    images, _ = data.load_usps("test", data_dir=cache_dir / "nothing-here", download=True)
    np.testing.assert_array_equal(images, data.load_usps("test", data_dir=shared_data_dir)[0])
    assert files_under(cache_dir) == [cache_dir / "usps" / "usps.t.bz2"]


class BrokenResponse(io.BytesIO):
    """A response whose connection drops after the first chunk."""

    def read(self, size=-1):
        if self.tell() > 0:
            raise ConnectionResetError("connection reset by peer")
        return super().read(1000)


@pytest.mark.parametrize("response", [
    lambda good: io.BytesIO(good[: len(good) // 2]),  # the server sends half the file
    lambda good: BrokenResponse(good),  # the connection drops mid-way
    lambda good: io.BytesIO(b"<html>Not Found</html>"),  # not a gzip file at all
])
def test_failed_download_leaves_no_partial_file(monkeypatch, shared_data_dir, tmp_path, cache_dir,
                                                response):
    good = (shared_data_dir / "mnist" / TEST_LABELS_GZ).read_bytes()
    calls = []

    def serve(url, timeout=None):
        calls.append(url)
        return response(good)

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    (tmp_path / "mnist").mkdir()
    shutil.copy(shared_data_dir / "mnist" / TEST_IMAGES_GZ, tmp_path / "mnist")
    with pytest.raises(data.DataError, match=TEST_LABELS_GZ):
        data.load_mnist("test", data_dir=tmp_path, download=True)
    assert len(calls) == len(set(calls)) == 2, "each mirror is tried once"
    assert files_under(cache_dir) == []


# ---------------------------------------------------------------------------------------------
# Augmentation


def centred_blob(side: int, radius: float) -> np.ndarray:
    centre = (side - 1) / 2
    y, x = np.mgrid[:side, :side]
    inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius ** 2
    return np.where(inside, 1.0, -1.0).astype(np.float32)[..., np.newaxis]


def ink_moments(images: np.ndarray):
    """Per image: ink mass, centroid (x, y) and principal-axis angle in degrees."""
    ink = (np.asarray(images)[..., 0] + 1.0) / 2.0
    y, x = np.mgrid[: ink.shape[1], : ink.shape[2]]
    mass = ink.sum(axis=(1, 2))
    cx = (ink * x).sum(axis=(1, 2)) / mass
    cy = (ink * y).sum(axis=(1, 2)) / mass
    mxx = (ink * (x - cx[:, None, None]) ** 2).sum(axis=(1, 2))
    myy = (ink * (y - cy[:, None, None]) ** 2).sum(axis=(1, 2))
    mxy = (ink * (x - cx[:, None, None]) * (y - cy[:, None, None])).sum(axis=(1, 2))
    angle = np.degrees(0.5 * np.arctan2(2 * mxy, mxx - myy))
    return mass, cx, cy, angle


SEED = tf.constant([7, 11], dtype=tf.int64)


def test_augmentation_keeps_shape_and_range_and_changes_images(shared_data_dir):
    images = data.load_usps("test", data_dir=shared_data_dir)[0][:16]
    augmented = pipeline.augment_images(images, SEED).numpy()
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= -1.0 and augmented.max() <= 1.0
    changed = np.abs(augmented - images).reshape(16, -1).max(axis=1)
    assert np.all(changed > 0.1), "every image is transformed"


def test_augmentation_is_reproducible_per_seed_and_works_in_tf_data():
    blob = np.repeat(centred_blob(28, 6)[np.newaxis], 8, axis=0)
    first = pipeline.augment_images(blob, SEED).numpy()
    np.testing.assert_array_equal(first, pipeline.augment_images(blob, SEED).numpy())
    assert not np.allclose(first, pipeline.augment_images(blob, SEED + 1).numpy())
    in_graph = tf.data.Dataset.from_tensors(blob).map(lambda b: pipeline.augment_images(b, SEED))
    np.testing.assert_allclose(next(iter(in_graph)).numpy(), first, atol=1e-6)


def test_augmentation_stays_within_the_papers_bounds():
    n = 256
    blob = np.repeat(centred_blob(28, 5)[np.newaxis], n, axis=0)
    mass0, cx0, cy0, _ = ink_moments(blob)
    mass, cx, cy, _ = ink_moments(pipeline.augment_images(blob, SEED).numpy())
    shift = np.hypot(cx - cx0, cy - cy0)
    # A round blob at the centre only moves by the shift: at most 2 * sqrt(2) px.
    assert shift.max() <= 3.0 and shift.max() > 1.5
    # Ink area scales with scale**2, scale in [0.9, 1.1].
    assert np.all(mass / mass0 >= 0.9 ** 2 - 0.03) and np.all(mass / mass0 <= 1.1 ** 2 + 0.03)
    assert (mass / mass0).min() < 0.9 and (mass / mass0).max() > 1.1

    bar = np.full((n, 28, 28, 1), -1.0, np.float32)
    bar[:, 12:16, 4:24] = 1.0
    _, _, _, angle = ink_moments(pipeline.augment_images(bar, SEED).numpy())
    assert np.abs(angle).max() <= 10.5 and np.abs(angle).max() > 7.0


def test_uncovered_pixels_get_the_background_value():
    white = np.ones((32, 16, 16, 1), np.float32)
    augmented = pipeline.augment_images(white, SEED).numpy()
    assert augmented.min() == pipeline.BACKGROUND


# ---------------------------------------------------------------------------------------------
# The paired training pipeline


def numbered_images(n: int, side: int) -> np.ndarray:
    """Image i is filled with a value that encodes i, so a batch reveals which images it holds."""
    values = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (n, side, side, 1)).copy()


def decode_numbers(batch, n: int) -> np.ndarray:
    return np.rint((np.asarray(batch)[:, 0, 0, 0] + 1.0) / 2.0 * (n - 1)).astype(int)


def take(dataset, count: int):
    return [tuple(t.numpy() for t in pair) for pair in dataset.take(count)]


def test_pairs_have_the_right_shapes_and_cycle_the_small_domain_by_epochs():
    n1, n2 = 200, 80
    pairs = take(pipeline.paired_dataset(numbered_images(n1, 28), numbered_images(n2, 16),
                                     augment=False), 5)  # 5 * 64 = 320 = 4 USPS epochs
    for x1, x2 in pairs:
        assert x1.shape == (64, 28, 28, 1) and x2.shape == (64, 16, 16, 1)
        assert x1.dtype == np.float32 and x2.dtype == np.float32
    order = np.concatenate([decode_numbers(x2, n2) for _, x2 in pairs])
    epochs = order.reshape(4, n2)
    for epoch in epochs:
        assert sorted(epoch) == list(range(n2)), "each epoch shows every image once"
    assert not np.array_equal(epochs[0], epochs[1]), "reshuffled every epoch"
    assert not np.array_equal(epochs[0], np.arange(n2)), "shuffled"


def test_pairs_are_deterministic_for_a_seed_whatever_the_global_seed():
    x1, x2 = numbered_images(128, 28), numbered_images(64, 16)
    first = take(pipeline.paired_dataset(x1, x2, seed=3), 2)
    tf.random.set_seed(12345)
    try:
        again = take(pipeline.paired_dataset(x1, x2, seed=3), 2)
    finally:
        tf.random.set_seed(None)
    other = take(pipeline.paired_dataset(x1, x2, seed=4), 2)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(first[0][0], other[0][0])


@pytest.mark.parametrize("start_step", [1, 5])
def test_resuming_at_step_k_gives_batch_k(start_step):
    x1, x2 = numbered_images(200, 28), numbered_images(80, 16)
    uninterrupted = take(pipeline.paired_dataset(x1, x2, seed=9), start_step + 2)
    resumed = take(pipeline.paired_dataset(x1, x2, seed=9, start_step=start_step), 2)
    for expected, actual in zip(uninterrupted[start_step:], resumed):
        np.testing.assert_array_equal(expected[0], actual[0])
        np.testing.assert_array_equal(expected[1], actual[1])


def test_domain_smaller_than_a_batch_is_rejected():
    with pytest.raises(ValueError, match="fewer than one batch"):
        pipeline.paired_dataset(numbered_images(100, 28), numbered_images(10, 16))


# ---------------------------------------------------------------------------------------------
# Test-time resizing for the source-only baseline


def test_resizing_between_the_two_domains(shared_data_dir):
    usps = data.load_usps("test", data_dir=shared_data_dir)[0][:20]
    mnist = data.load_mnist("test", data_dir=shared_data_dir)[0][:20]
    for original, size in ((usps, 28), (mnist, 16)):
        resized = pipeline.test_images_resized(original, size)
        assert resized.shape == (20, size, size, 1) and resized.dtype == np.float32
        assert resized.min() >= -1.0 and resized.max() <= 1.0
        # Ink is kept in proportion to the image area (antialiasing keeps thin MNIST strokes).
        ratio = (resized + 1).mean(axis=(1, 2, 3)) / (original + 1).mean(axis=(1, 2, 3))
        assert np.all(np.abs(ratio - 1.0) < 0.1)
        blank = np.full_like(original[:2], pipeline.BACKGROUND)
        resized_blank = pipeline.test_images_resized(blank, size)
        np.testing.assert_allclose(resized_blank, pipeline.BACKGROUND, atol=1e-6)


# ----------------------------------------------------------------------------------------
# The validation split


def test_validation_split_is_stratified_fixed_and_seeded():
    """10% of each class, the same indices for the same seed, other indices for another."""
    from lstnet_tf.data import validation_indices

    labels = np.repeat(np.arange(10), [100, 90, 80, 70, 60, 50, 40, 30, 20, 10])
    held_out = validation_indices(labels, 0.1, seed=0)
    counts = np.bincount(labels[held_out], minlength=10)
    np.testing.assert_array_equal(counts, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    np.testing.assert_array_equal(held_out, validation_indices(labels, 0.1, seed=0))
    assert not np.array_equal(held_out, validation_indices(labels, 0.1, seed=1))
    assert np.all(np.diff(held_out) > 0)


def test_load_splits_is_disjoint_from_training_and_covers_the_training_set(shared_data_dir):
    """Every training image goes to exactly one part; the validation part holds 10% of each
    class of both training sets; the test sets are not part of it."""
    from lstnet_tf.config import DataConfig
    from lstnet_tf.data import load_splits, load_usps, validation_indices

    splits = load_splits(DataConfig(), shared_data_dir, download=False)
    for domain, total in (("mnist", 60000), ("usps", 7291)):
        (_, y_fit), (_, y_val) = splits["train"][domain], splits["validation"][domain]
        assert len(y_fit) + len(y_val) == total
        assert abs(len(y_val) - total // 10) <= 10
    x, y = load_usps("train", shared_data_dir, download=False)
    held_out = validation_indices(y, 0.1, 0)
    np.testing.assert_array_equal(splits["validation"]["usps"][0], x[held_out])
    fit_rows = {row.tobytes() for row in splits["train"]["usps"][0].reshape(len(y) - len(held_out), -1)}
    val_rows = [row.tobytes() for row in x[held_out].reshape(len(held_out), -1)]
    # USPS has a few duplicate images; the split is by index, so only those may coincide.
    assert sum(row in fit_rows for row in val_rows) <= 5
    fit_labels = np.bincount(splits["train"]["usps"][1], minlength=10)
    val_labels = np.bincount(splits["validation"]["usps"][1], minlength=10)
    np.testing.assert_allclose(val_labels / (fit_labels + val_labels), 0.1, atol=0.005)


def test_first_images_keeps_the_first_images_of_each_part_of_the_whole_split(shared_data_dir):
    """data.first_images (the smoke preset's) cuts each part after the split, so its images
    are the first ones of the full split's parts and of the test sets; 0 keeps everything."""
    from lstnet_tf.config import ConfigError, DataConfig, load_config
    from lstnet_tf.data import load_splits, load_test, split_key

    whole = load_splits(DataConfig(), shared_data_dir, download=False)
    first = load_splits(DataConfig(first_images=30), shared_data_dir, download=False)
    for part in ("train", "validation"):
        for domain in ("mnist", "usps"):
            for kept, every in zip(first[part][domain], whole[part][domain]):
                np.testing.assert_array_equal(kept, every[:30])
    test = load_test(shared_data_dir, download=False, first_images=30)
    for domain, (x, y) in load_test(shared_data_dir, download=False).items():
        np.testing.assert_array_equal(test[domain][0], x[:30])
        np.testing.assert_array_equal(test[domain][1], y[:30])
    assert split_key(DataConfig(first_images=30)) != split_key(DataConfig())
    with pytest.raises(ConfigError, match="data.first_images must be >= 0"):
        load_config("smoke", {"data": {"first_images": -1}})
