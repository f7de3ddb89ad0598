"""MNIST and USPS for LSTNet: find, verify, decode, augment and pair the two domains.

Images come back as NHWC float32 in [-1, 1] with the background at -1 (``BACKGROUND``),
labels as int32 digits 0..9. MNIST is 28x28, USPS keeps its native 16x16 (standard split:
7291 train, 2007 test).

Where files are looked for, in this order (see ``resolve_data_dirs``):

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
import http.client
import math
import os
import shutil
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import h5py
import keras
import numpy as np
import tensorflow as tf

DATA_DIR_ENV = "LSTNET_DATA_DIR"
NO_DOWNLOAD_ENV = "LSTNET_NO_DOWNLOAD"
BACKGROUND = -1.0
SPLITS = ("train", "test")

DOWNLOAD_TIMEOUT_S = 10.0

# The paper's augmentation (section 3): rotation up to +-10 degrees, isotropic scale in
# [0.9, 1.1], shift up to +-2 px in x and y.
MAX_ROTATION_DEG = 10.0
MAX_SCALE_CHANGE = 0.1
MAX_SHIFT_PX = 2.0

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
USPS_SIDE = 16

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


class DataError(RuntimeError):
    """A dataset file is missing, unreadable, or not the expected content.

    The message names the file(s), the directories searched, what was expected, and how to
    fix it; it is meant to be shown to the user as is.
    """


class _BadFile(Exception):
    """A file exists but its content is unusable; the message says why, briefly.

    Decoders raise this without knowing the context; callers turn it into a DataError (a
    local file) or a failed download attempt (a mirror's file).
    """


@dataclass(frozen=True)
class _SearchDir:
    path: Path
    origin: str  # why this directory is searched, shown in error messages


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
                 (60000, 28, 28)),
        _IdxFile("MNIST train labels", "train-labels-idx1-ubyte",
                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", (60000,)),
    ),
    "test": (
        _IdxFile("MNIST test images", "t10k-images-idx3-ubyte",
                 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                 (10000, 28, 28)),
        _IdxFile("MNIST test labels", "t10k-labels-idx1-ubyte",
                 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,)),
    ),
}


@dataclass(frozen=True)
class _Wanted:
    """A file the loader needs: where it may be found and how to fetch and check it."""

    description: str
    subdir: str
    names: tuple[str, ...]  # accepted file names, preferred first
    download_name: str
    urls: tuple[str, ...]
    verify: Callable[[Path], object]  # raises _BadFile


class _FileKey(NamedTuple):
    """Identifies a file's current content for the in-process cache."""

    path: Path
    size: int
    mtime_ns: int


# ----------------------------------------------------------------------------------------
# Where to look


def resolve_data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched for data, in order: ``data_dir``, ``$LSTNET_DATA_DIR``, the cache.

    The cache is last and is where downloads go, so local copies always win.
    """
    return [entry.path for entry in _search_dirs(data_dir)]


def _search_dirs(data_dir) -> list[_SearchDir]:
    candidates = []
    if data_dir is not None:
        candidates.append(_SearchDir(Path(data_dir).expanduser(), "data_dir argument / --data-dir"))
    if os.environ.get(DATA_DIR_ENV):
        env_dir = Path(os.environ[DATA_DIR_ENV]).expanduser()
        candidates.append(_SearchDir(env_dir, f"${DATA_DIR_ENV}"))
    candidates.append(_SearchDir(_cache_dir(), "user cache, where downloads go"))
    unique, seen = [], set()
    for entry in candidates:
        if entry.path.resolve() not in seen:
            seen.add(entry.path.resolve())
            unique.append(entry)
    return unique


def _cache_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "lstnet_tf"


def _download_policy(download: bool | None) -> tuple[bool, str]:
    """Whether downloads are allowed, and the reason in words for error messages."""
    if download is not None:
        return download, f"download={download} was passed"
    if os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower() in ("1", "true"):
        return False, f"{NO_DOWNLOAD_ENV}={os.environ[NO_DOWNLOAD_ENV]} is set"
    return True, f"{NO_DOWNLOAD_ENV} is not set"


def _find(wanted: _Wanted, dirs: list[_SearchDir]) -> Path | None:
    for entry in dirs:
        for folder in (entry.path / wanted.subdir, entry.path):
            for name in wanted.names:
                if (folder / name).is_file():
                    return folder / name
    return None


def _locate(wanted_files, data_dir, download) -> list[Path]:
    """Paths of the wanted files, downloading the missing ones into the cache if allowed."""
    dirs = _search_dirs(data_dir)
    found = [_find(wanted, dirs) for wanted in wanted_files]
    missing = [wanted for wanted, path in zip(wanted_files, found) if path is None]
    if not missing:
        return found
    allowed, reason = _download_policy(download)
    if not allowed:
        raise DataError(
            f"{_not_found_text(missing, dirs)}\nDownloads are off ({reason}).\n"
            f"{_fix_text(missing, downloads_were_off=True)}"
        )
    return [path if path is not None else _download(wanted, dirs)
            for wanted, path in zip(wanted_files, found)]


def _not_found_text(missing: list[_Wanted], dirs: list[_SearchDir]) -> str:
    files = "\n".join(f"  {w.description}: {' or '.join(w.names)}" for w in missing)
    subdirs = sorted({w.subdir for w in missing})
    return (
        f"Data files not found:\n{files}\n"
        f"Looked in each of these directories and its {', '.join(s + '/' for s in subdirs)} "
        f"subdirectory:\n{_dirs_text(dirs)}"
    )


def _dirs_text(dirs: list[_SearchDir]) -> str:
    lines = []
    for entry in dirs:
        state = "" if entry.path.is_dir() else "; does not exist"
        lines.append(f"  {entry.path}  ({entry.origin}{state})")
    return "\n".join(lines)


def _fix_text(missing: list[_Wanted], downloads_were_off: bool) -> str:
    example = f"DIR/{missing[0].subdir}/{missing[0].names[0]}"
    provide = (f"Fix: put the files in a directory (e.g. {example}) and pass --data-dir DIR "
               f"or set {DATA_DIR_ENV}=DIR")
    if downloads_were_off:
        return (f"{provide}; or, on a machine with internet access, allow downloads "
                f"(unset {NO_DOWNLOAD_ENV}) so they are fetched into {_cache_dir()}.")
    return f"{provide}; or retry the download when the network is back."


def _checked(path: Path, decode: Callable[[Path], object], expected: str):
    """``decode(path)``, with a _BadFile turned into a DataError that says what to do."""
    try:
        return decode(path)
    except _BadFile as bad:
        raise DataError(
            f"Unusable data file {path}: {bad}.\n"
            f"Expected: {expected}.\n"
            f"Fix: replace it with a good copy, or delete it: the loader then looks in the "
            f"next directory of its search order (data_dir / --data-dir, ${DATA_DIR_ENV}, "
            f"the user cache) and downloads into the cache when allowed."
        ) from None


# ----------------------------------------------------------------------------------------
# Downloads


def _download(wanted: _Wanted, dirs: list[_SearchDir]) -> Path:
    """Fetch ``wanted`` into the cache: one attempt per mirror, verified, renamed atomically.

    The bytes go to a hidden temporary file next to the target, which is deleted whatever
    happens, so an interrupted or bad download never leaves a file the loader would pick up.
    """
    target_dir = _cache_dir() / wanted.subdir
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"Cannot create the download cache {target_dir} ({err}).\n"
            f"{_not_found_text([wanted], dirs)}\n"
            f"Fix: set XDG_CACHE_HOME to a writable directory, or provide the files (see above) "
            f"and pass --data-dir DIR or set {DATA_DIR_ENV}=DIR."
        ) from None
    target = target_dir / wanted.download_name
    failures = []
    for url in wanted.urls:
        handle, temp_name = tempfile.mkstemp(dir=target_dir, prefix=".partial-",
                                             suffix="-" + wanted.download_name)
        temp = Path(temp_name)
        try:
            with open(handle, "wb") as out, \
                    urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, out)
            wanted.verify(temp)
            os.replace(temp, target)
            return target
        except (OSError, http.client.HTTPException, _BadFile) as err:
            failures.append(f"  {url}: {err}")
        finally:
            temp.unlink(missing_ok=True)
    raise DataError(
        f"Could not download {wanted.description} ({wanted.download_name}):\n"
        + "\n".join(failures)
        + f"\n{_not_found_text([wanted], dirs)}\n"
        + _fix_text([wanted], downloads_were_off=False)
    )


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


def load_all(data_dir=None, download: bool | None = None) -> dict:
    """Both domains, both splits: ``{split: {"mnist": (x, y), "usps": (x, y)}}``."""
    return {split: {"mnist": load_mnist(split, data_dir, download),
                    "usps": load_usps(split, data_dir, download)}
            for split in ("train", "test")}


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
    """
    splits = {"train": {}, "validation": {}}
    for domain, load in (("mnist", load_mnist), ("usps", load_usps)):
        x, y = load("train", data_dir, download)
        held_out = validation_indices(y, data_config.validation_fraction,
                                      data_config.validation_seed)
        kept = np.setdiff1d(np.arange(len(y)), held_out, assume_unique=True)
        splits["train"][domain] = (_read_only(x[kept]), _read_only(y[kept]))
        splits["validation"][domain] = (_read_only(x[held_out]), _read_only(y[held_out]))
    return splits


def load_test(data_dir=None, download: bool | None = None) -> dict:
    """The test sets, ``{"mnist": (x, y), "usps": (x, y)}``: read once per seed, after training."""
    return {"mnist": load_mnist("test", data_dir, download),
            "usps": load_usps("test", data_dir, download)}


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
    libsvm_name = _USPS_LIBSVM_NAMES[split]
    wanted = _Wanted(
        description=f"USPS {split} split",
        subdir="usps",
        names=(_USPS_H5_NAME, libsvm_name),
        download_name=libsvm_name,
        urls=(_USPS_URL + libsvm_name,),
        verify=functools.partial(_read_usps, split=split),
    )
    (path,) = _locate([wanted], data_dir, download)
    return _load_usps_cached(_file_key(path), split)


@functools.lru_cache(maxsize=8)
def _load_usps_cached(key: _FileKey, split: str):
    expected = (f"the USPS {split} split, {USPS_COUNTS[split]} images of 16x16 with decoded "
                f"content sha256 {USPS_SHA256[split]} (how it is computed: USPS_SHA256 in "
                f"lstnet_tf/data.py)")
    millis, labels = _checked(key.path, functools.partial(_read_usps, split=split), expected)
    images = (millis.astype(np.float32) / np.float32(_USPS_MILLIS)).reshape(
        -1, USPS_SIDE, USPS_SIDE, 1)
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
    if data.ndim != 2 or data.shape[1] != USPS_SIDE * USPS_SIDE or len(data) != len(labels):
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
    pixels = np.zeros((len(lines), USPS_SIDE * USPS_SIDE), dtype=np.float64)
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


def _file_key(path: Path) -> _FileKey:
    stat = path.stat()
    return _FileKey(path.resolve(), stat.st_size, stat.st_mtime_ns)


def _read_only(array: np.ndarray) -> np.ndarray:
    """Mark a cached array read-only so that no caller can corrupt it for the next one."""
    array.flags.writeable = False
    return array


# ----------------------------------------------------------------------------------------
# Augmentation and the training pipeline


def augment_images(images, seed):
    """The paper's augmentation, drawn independently for each image of a (N, H, W, 1) batch.

    Rotation up to +-10 degrees, isotropic scale in [0.9, 1.1] and shift up to +-2 px in x and
    y, about the image centre, with bilinear sampling; uncovered pixels become BACKGROUND.
    ``seed`` is a shape-[2] integer tensor: the same seed gives the same result, in eager and
    graph mode (tf.data). Returns a float32 tensor of the input's shape, clipped to [-1, 1].
    """
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    shape = tf.shape(images)
    draws = tf.random.stateless_uniform([shape[0], 4], seed=seed, minval=-1.0, maxval=1.0)
    angle = draws[:, 0] * (MAX_ROTATION_DEG * math.pi / 180.0)
    scale = 1.0 + MAX_SCALE_CHANGE * draws[:, 1]
    shift_x, shift_y = MAX_SHIFT_PX * draws[:, 2], MAX_SHIFT_PX * draws[:, 3]
    centre_x = (tf.cast(shape[2], tf.float32) - 1.0) / 2.0
    centre_y = (tf.cast(shape[1], tf.float32) - 1.0) / 2.0
    transform = _output_to_input_transform(angle, scale, shift_x, shift_y, centre_x, centre_y)
    moved = keras.ops.image.affine_transform(
        images, transform, interpolation="bilinear", fill_mode="constant",
        fill_value=BACKGROUND, data_format="channels_last")
    return tf.clip_by_value(moved, -1.0, 1.0)


def _output_to_input_transform(angle, scale, shift_x, shift_y, centre_x, centre_y):
    """Rows [a0, a1, a2, b0, b1, b2, 0, 0] for ``affine_transform``, one per image.

    The forward map is out = scale * R(angle) (in - centre) + centre + shift; affine_transform
    wants its inverse, in = R(-angle) (out - centre - shift) / scale + centre.
    """
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    moved_x, moved_y = centre_x + shift_x, centre_y + shift_y
    a2 = centre_x - cos * moved_x - sin * moved_y
    b2 = centre_y + sin * moved_x - cos * moved_y
    zeros = tf.zeros_like(angle)
    return tf.stack([cos, sin, a2, -sin, cos, b2, zeros, zeros], axis=1)


# Second seed words of the four random streams of paired_dataset.
_SHUFFLE_STREAM = (0, 2)  # per domain
_AUGMENT_STREAM = (1, 3)  # per domain


def paired_dataset(x1, x2, batch_size: int = 64, seed: int = 0, augment: bool = True,
                   start_step: int = 0) -> tf.data.Dataset:
    """Endless (x1 batch, x2 batch) training pairs, each domain shuffled and cycled on its own.

    Each domain runs through a fresh permutation of its images per epoch (USPS, 8x smaller,
    simply cycles more often); batches never repeat a partial epoch (drop remainder). All
    randomness is stateless, derived from ``seed`` and the epoch or global step, so the stream
    is the same on every run whatever the global TF seed, and ``start_step=k`` resumes with
    exactly the batch an uninterrupted run yields at step k: the cheap index stream is
    skipped, and images are gathered and augmented only afterwards.
    """
    domains = []
    for domain, x in enumerate((x1, x2)):
        if len(x) < batch_size:
            raise ValueError(f"domain {domain + 1} has {len(x)} images, fewer than one batch "
                             f"of {batch_size}")
        domains.append(tf.constant(x, dtype=tf.float32))
    index_streams = tuple(
        _index_batches(len(x), batch_size, _stream_seed(seed, _SHUFFLE_STREAM[d]))
        for d, x in enumerate(domains))

    def make_batches(step, indices):
        batches = []
        for domain, (images, batch_indices) in enumerate(zip(domains, indices)):
            batch = tf.gather(images, batch_indices)
            if augment:
                step_seed = tf.random.experimental.stateless_fold_in(
                    _stream_seed(seed, _AUGMENT_STREAM[domain]), step)
                batch = augment_images(batch, step_seed)
            batches.append(batch)
        return tuple(batches)

    steps = tf.data.Dataset.zip(index_streams).enumerate().skip(start_step)
    return steps.map(make_batches, num_parallel_calls=tf.data.AUTOTUNE,
                     deterministic=True).prefetch(tf.data.AUTOTUNE)


def _stream_seed(seed: int, stream: int) -> tf.Tensor:
    return tf.constant([seed, stream], dtype=tf.int64)


def _index_batches(n: int, batch_size: int, seed: tf.Tensor) -> tf.data.Dataset:
    """Endless batches of indices into n items: epoch e is a permutation seeded by (seed, e)."""
    def permutation(epoch):
        epoch_seed = tf.random.experimental.stateless_fold_in(seed, epoch)
        return tf.random.experimental.stateless_shuffle(tf.range(n), seed=epoch_seed)

    epochs = tf.data.Dataset.counter().map(permutation)
    return epochs.unbatch().batch(batch_size, drop_remainder=True)


def test_images_resized(images, size: int) -> np.ndarray:
    """Bilinear resize of NHWC [-1, 1] images to size x size, antialiased when shrinking.

    Used by the source-only baseline, where a classifier of one domain sees the other
    domain's test images at its own input size.
    """
    images = np.asarray(images, dtype=np.float32)
    resized = tf.image.resize(images, (size, size), method="bilinear",
                              antialias=size < images.shape[1])
    return np.clip(resized.numpy(), -1.0, 1.0)


# Not a test, despite the name: keeps pytest from collecting it where it is imported.
test_images_resized.__test__ = False
