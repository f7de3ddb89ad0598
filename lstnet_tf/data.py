"""MNIST and USPS for LSTNet: find, verify, decode and split the two domains.

Images come back as NHWC float32 in [-1, 1] with the background at -1 (``BACKGROUND``),
labels as int32 digits 0..9. MNIST is 28x28, USPS keeps its native 16x16 (standard split:
7291 train, 2007 test).

Where files are looked for, in this order (see ``data_files.resolve_data_dirs``):

1. the ``data_dir`` argument (the ``--data-dir`` flag of the scripts),
2. the directory in ``$LSTNET_DATA_DIR``,
3. the per-user cache ``$XDG_CACHE_HOME/lstnet_tf`` (default ``~/.cache/lstnet_tf``).

In each directory a file may sit in the dataset's subdirectory (``mnist/``, ``usps/``) or
directly in the directory. Accepted files:

- MNIST: the four IDX files, gzipped (``train-images-idx3-ubyte.gz``, ...) or uncompressed.
- USPS: ``usps.h5`` (groups ``train``/``test``, each with ``data`` N x 256 in [0, 1] and
  ``target``), or the LIBSVM files ``usps.bz2`` (train) and ``usps.t.bz2`` (test).

Every file is verified before use: MNIST against the SHA-256 of the official decompressed
bytes, USPS against a SHA-256 of its decoded content (the same value for both formats).
When a file is missing and downloads are allowed, it is fetched from its public source into
the cache, verified, and only then moved into place. Downloads are off when ``download=False``
is passed or ``LSTNET_NO_DOWNLOAD`` is ``1``/``true``. Any missing, truncated, corrupt or wrong
file raises ``DataError``, whose message says what was looked for, where, and how to fix it.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from lstnet_tf.data_files import (DATA_DIR_ENV, NO_DOWNLOAD_ENV, DataError,  # noqa: F401
                                  _BadFile, _checked, _FileKey, _file_key, _locate, _read_only,
                                  _Wanted, resolve_data_dirs)
from lstnet_tf.domains import MNIST, USPS
from lstnet_tf.pipeline import BACKGROUND  # noqa: F401

SPLITS = ("train", "test")

_MNIST_MIRRORS = (
    # TensorFlow Datasets' MNIST source and torchvision's mirror. (Keras' tf-keras-datasets
    # bucket has files with the same names, but they are Fashion-MNIST.)
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
_USPS_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"
_USPS_LIBSVM_NAMES = {"train": "usps.bz2", "test": "usps.t.bz2"}
_USPS_H5_NAME = "usps.h5"
USPS_COUNTS = {"train": 7291, "test": 2007}

# USPS pixels are multiples of 0.001 in [-1, 1] (2001 distinct values, the grid of the
# original data). Both formats decode exactly to the integers round(1000 * pixel)
# ("millis": h5 value v in [0, 1] -> round(1000 * (2v - 1)); LIBSVM value -> round(1000 * value)).
# USPS_SHA256[split] = sha256(millis as little-endian int16, N x 256 row-major
#                             ++ labels 0..9 as little-endian int32),
# computed once from the project's shared usps.h5 (../shared/data/usps/usps.h5, file sha256
# 734f88c5...fcb36; its first image and labels match the original USPS / ESL "zip" data).
# The same values verify the LIBSVM files, which hold the same pixels scaled to [-1, 1].
USPS_SHA256 = {
    "train": "55236c2efe500f52f9df55ef2d66b59f19a5d23a9b5da90e9c4c2b18b6cdd4f3",
    "test": "b1c106110f406ac5a31e52ba701f4e9f073b04df54e26eb9cbe26726f955075d",
}
_USPS_MILLIS = 1000


@dataclass(frozen=True)
class _IdxFile:
    """One official MNIST file, identified by the SHA-256 of its decompressed bytes."""

    description: str
    name: str  # without ".gz"
    sha256: str
    shape: tuple[int, ...]

    @property
    def header_size(self) -> int:
        return 4 + 4 * len(self.shape)  # magic number, then one uint32 per dimension

    @property
    def size(self) -> int:
        return self.header_size + math.prod(self.shape)


_MNIST_FILES = {
    "train": (
        _IdxFile("MNIST train images", "train-images-idx3-ubyte",
                 "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                 (60000, MNIST.image_size, MNIST.image_size)),
        _IdxFile("MNIST train labels", "train-labels-idx1-ubyte",
                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", (60000,)),
    ),
    "test": (
        _IdxFile("MNIST test images", "t10k-images-idx3-ubyte",
                 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                 (10000, MNIST.image_size, MNIST.image_size)),
        _IdxFile("MNIST test labels", "t10k-labels-idx1-ubyte",
                 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,)),
    ),
}


# ----------------------------------------------------------------------------------------
# MNIST


def load_mnist(split: str, data_dir=None, download: bool | None = None):
    """MNIST ``split`` ("train"/"test"): (images (N, 28, 28, 1) float32 in [-1, 1], labels int32).

    Arrays are cached per file and returned read-only, so repeated calls are cheap; copy
    before modifying in place.
    """
    _check_split(split)
    image_file, label_file = _MNIST_FILES[split]
    paths = _locate([_mnist_wanted(image_file), _mnist_wanted(label_file)], data_dir, download)
    return _load_mnist_cached(_file_key(paths[0]), _file_key(paths[1]), split)


def validation_indices(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified validation split: ``round(fraction * n_c)`` images
    of each class c, drawn with a fixed seed. The same (labels, fraction, seed) give the same
    split on every machine (NumPy's PCG64 permutation)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held_out = []
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        held_out.append(rng.permutation(members)[:round(fraction * len(members))])
    return np.sort(np.concatenate(held_out))


def load_splits(data_config, data_dir=None, download: bool | None = None) -> dict:
    """The training sets split into ``{"train": ..., "validation": ...}``, each
    ``{"mnist": (x, y), "usps": (x, y)}``; ``data_config`` is a ``config.DataConfig``.

    The test sets are not read here: ``load_test`` reads them, once, for the final numbers.
    ``data_config.first_images`` keeps the first images of each part, once it is split.
    """
    splits = {"train": {}, "validation": {}}
    first = slice(data_config.first_images or None)
    for domain, load in (("mnist", load_mnist), ("usps", load_usps)):
        x, y = load("train", data_dir, download)
        held_out = validation_indices(y, data_config.validation_fraction,
                                      data_config.validation_seed)
        kept = np.setdiff1d(np.arange(len(y)), held_out, assume_unique=True)
        kept, held_out = kept[first], held_out[first]
        splits["train"][domain] = (_read_only(x[kept]), _read_only(y[kept]))
        splits["validation"][domain] = (_read_only(x[held_out]), _read_only(y[held_out]))
    return splits


def split_key(data_config) -> str:
    """The training images a ``config.DataConfig`` keeps, as a cache key's suffix: models
    trained on other images are never taken for each other."""
    return (f"-val{data_config.validation_fraction:g}s{data_config.validation_seed}"
            + (f"-first{data_config.first_images}" if data_config.first_images else ""))


def load_test(data_dir=None, download: bool | None = None, first_images: int = 0) -> dict:
    """The test sets, ``{"mnist": (x, y), "usps": (x, y)}``: read once per seed, after training
    (their first ``first_images`` images only, when it is not 0: ``DataConfig.first_images``)."""
    first = slice(first_images or None)
    return {domain: tuple(array[first] for array in load("test", data_dir, download))
            for domain, load in (("mnist", load_mnist), ("usps", load_usps))}


def _mnist_wanted(idx_file: _IdxFile) -> _Wanted:
    gz_name = idx_file.name + ".gz"
    return _Wanted(
        description=idx_file.description,
        subdir="mnist",
        names=(gz_name, idx_file.name),
        download_name=gz_name,
        urls=tuple(mirror + gz_name for mirror in _MNIST_MIRRORS),
        verify=functools.partial(_read_idx, idx_file=idx_file),
    )


@functools.lru_cache(maxsize=8)
def _load_mnist_cached(images_key: _FileKey, labels_key: _FileKey, split: str):
    image_file, label_file = _MNIST_FILES[split]
    pixels = _checked(images_key.path, functools.partial(_read_idx, idx_file=image_file),
                      _idx_expectation(image_file))
    labels = _checked(labels_key.path, functools.partial(_read_idx, idx_file=label_file),
                      _idx_expectation(label_file))
    images = (pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0))[..., np.newaxis]
    return _read_only(images), _read_only(labels.astype(np.int32))


def _idx_expectation(idx_file: _IdxFile) -> str:
    return (f"the official {idx_file.description} ({idx_file.name}), {idx_file.size} bytes "
            f"after decompression with sha256 {idx_file.sha256}")


def _read_idx(path: Path, idx_file: _IdxFile) -> np.ndarray:
    """Decode one IDX file after checking its decompressed bytes against the official hash."""
    raw = _decompressed_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != idx_file.sha256:
        raise _BadFile(f"decompressed content ({len(raw)} bytes) has sha256 {digest}, "
                       f"expected {idx_file.sha256} ({idx_file.size} bytes)")
    return np.frombuffer(raw, dtype=np.uint8, offset=idx_file.header_size).reshape(idx_file.shape)


def _decompressed_bytes(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as stream:
                return stream.read()
        except (OSError, EOFError, zlib.error) as err:
            raise _BadFile(f"truncated or corrupt gzip file ({err})") from None
    return path.read_bytes()


# ----------------------------------------------------------------------------------------
# USPS


def load_usps(split: str, data_dir=None, download: bool | None = None):
    """USPS ``split`` ("train"/"test"): (images (N, 16, 16, 1) float32 in [-1, 1], labels int32).

    Native 16x16, standard split (7291 / 2007). Reads ``usps.h5`` or the LIBSVM file of the
    split, whichever is found first; both decode to identical arrays. Arrays are cached and
    returned read-only, like ``load_mnist``.
    """
    _check_split(split)
    (path,) = _locate([_usps_wanted(split)], data_dir, download)
    return _load_usps_cached(_file_key(path), split)


def _usps_wanted(split: str) -> _Wanted:
    libsvm_name = _USPS_LIBSVM_NAMES[split]
    return _Wanted(
        description=f"USPS {split} split",
        subdir="usps",
        names=(_USPS_H5_NAME, libsvm_name),
        download_name=libsvm_name,
        urls=(_USPS_URL + libsvm_name,),
        verify=functools.partial(_read_usps, split=split),
    )


def missing_files(data_dir=None, download: bool | None = None) -> None:
    """Checks, before anything runs, that every file of both datasets (training and test) is
    found or may be downloaded; else one ``DataError`` that lists all the missing files (found
    files are verified when they are read)."""
    wanted = [_mnist_wanted(f) for split in SPLITS for f in _MNIST_FILES[split]]
    wanted += [_usps_wanted(split) for split in SPLITS]
    _locate(wanted, data_dir, download, fetch=False)


@functools.lru_cache(maxsize=8)
def _load_usps_cached(key: _FileKey, split: str):
    expected = (f"the USPS {split} split, {USPS_COUNTS[split]} images of 16x16 with decoded "
                f"content sha256 {USPS_SHA256[split]} (how it is computed: USPS_SHA256 in "
                f"lstnet_tf/data.py)")
    millis, labels = _checked(key.path, functools.partial(_read_usps, split=split), expected)
    images = (millis.astype(np.float32) / np.float32(_USPS_MILLIS)).reshape(
        -1, USPS.image_size, USPS.image_size, 1)
    return _read_only(images), _read_only(labels)


def _read_usps(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode and verify one USPS split from either format, as (millis int16 (N, 256), labels)."""
    if path.name.endswith(".h5"):
        millis, labels = _read_usps_h5(path, split)
    else:
        millis, labels = _read_usps_libsvm(path)
    if len(labels) != USPS_COUNTS[split]:
        raise _BadFile(f"found {len(labels)} images, expected {USPS_COUNTS[split]} "
                       f"(the USPS {split} split)")
    digest = _usps_digest(millis, labels)
    if digest != USPS_SHA256[split]:
        raise _BadFile(f"decoded content has sha256 {digest}, expected {USPS_SHA256[split]}")
    return millis, labels


def _usps_digest(millis: np.ndarray, labels: np.ndarray) -> str:
    """The format-independent content hash recorded in USPS_SHA256."""
    content = millis.astype("<i2").tobytes() + labels.astype("<i4").tobytes()
    return hashlib.sha256(content).hexdigest()


def _to_millis(pixels: np.ndarray) -> np.ndarray:
    """Pixels in [-1, 1] to integer thousandths, rejecting values outside the range."""
    if not (np.all(pixels >= -1.0005) and np.all(pixels <= 1.0005)):
        raise _BadFile("pixel values outside the expected range")
    return np.rint(pixels * _USPS_MILLIS).astype(np.int16)


def _read_usps_h5(path: Path, split: str):
    try:
        with h5py.File(path, "r") as h5:
            data = np.asarray(h5[split]["data"], dtype=np.float64)
            labels = np.asarray(h5[split]["target"], dtype=np.int32)
    except (OSError, KeyError) as err:
        raise _BadFile(f"not a readable HDF5 file with {split}/data and {split}/target "
                       f"({err})") from None
    if data.ndim != 2 or data.shape[1] != USPS.image_size ** 2 or len(data) != len(labels):
        raise _BadFile(f"{split}/data has shape {data.shape} and {split}/target "
                       f"{labels.shape}, expected N x 256 and N")
    return _to_millis(2.0 * data - 1.0), labels


def _read_usps_libsvm(path: Path):
    """Parse a LIBSVM file: "label index:value ..." per image, labels 1..10, indices 1..256.

    Values are pixels in [-1, 1]. As usual in LIBSVM's sparse format, an index that is absent
    from a line has the value 0.0 (in the file's [-1, 1] scale, i.e. mid-grey, not background).
    """
    try:
        with bz2.open(path, "rt", encoding="ascii") as stream:
            lines = [line for line in stream.read().splitlines() if line.strip()]
    except (OSError, EOFError, ValueError) as err:
        raise _BadFile(f"truncated or corrupt bz2 file ({err})") from None
    pixels = np.zeros((len(lines), USPS.image_size ** 2), dtype=np.float64)
    labels = np.empty(len(lines), dtype=np.int32)
    for row, line in enumerate(lines):
        tokens = line.replace(":", " ").split()
        try:
            labels[row] = int(float(tokens[0])) - 1
            pairs = np.asarray(tokens[1:], dtype=np.float64).reshape(-1, 2)
        except ValueError:
            raise _BadFile(f"line {row + 1} is not 'label index:value ...'") from None
        indices = pairs[:, 0].astype(np.int64) - 1
        if not 0 <= labels[row] <= 9 or np.any(indices < 0) or np.any(indices >= pixels.shape[1]):
            raise _BadFile(f"line {row + 1} has a label outside 1..10 or an index outside 1..256")
        pixels[row, indices] = pairs[:, 1]
    return _to_millis(pixels), labels


# ----------------------------------------------------------------------------------------
# Shared helpers


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
