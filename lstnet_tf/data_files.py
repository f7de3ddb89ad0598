"""Finding, verifying and downloading the dataset files (the dataset-independent part).

Where files are looked for, in this order (see ``resolve_data_dirs``): the ``data_dir``
argument (the ``--data-dir`` flag), ``$LSTNET_DATA_DIR``, then the per-user cache
``$XDG_CACHE_HOME/lstnet_tf`` (default ``~/.cache/lstnet_tf``). A file may sit in the
dataset's subdirectory (``mnist/``, ``usps/``) or directly in the directory. A missing file
is downloaded (unless ``download=False`` or ``$LSTNET_NO_DOWNLOAD`` is 1/true) into the cache,
verified, and only then moved into place. Every failure is one ``DataError`` that says what
was looked for, where, and how to fix it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from lstnet_tf.console import UserFacingError

DATA_DIR_ENV = "LSTNET_DATA_DIR"
NO_DOWNLOAD_ENV = "LSTNET_NO_DOWNLOAD"
DOWNLOAD_TIMEOUT_S = 10.0


class DataError(UserFacingError):
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
    if download is False:
        return False, "--no-download (download=False) was passed"
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


def _locate(wanted_files, data_dir, download, fetch: bool = True) -> list[Path]:
    """Paths of the wanted files, downloading the missing ones into the cache if allowed
    (with ``fetch`` False, only checks that they are found or may be downloaded)."""
    dirs = _search_dirs(data_dir)
    found = [_find(wanted, dirs) for wanted in wanted_files]
    missing = [wanted for wanted, path in zip(wanted_files, found) if path is None]
    if not missing:
        return found
    allowed, reason = _download_policy(download)
    if not allowed:
        raise DataError(
            f"{_not_found_text(missing, dirs)}\nDownloads are off ({reason}).\n"
            f"{_fix_text(missing, downloads_were_off=True, flag_passed=download is False)}"
        )
    if not fetch:
        return found
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


def _fix_text(missing: list[_Wanted], downloads_were_off: bool, flag_passed: bool = False) -> str:
    example = f"DIR/{missing[0].subdir}/{missing[0].names[0]}"
    provide = (f"Fix: put the files in a directory (e.g. {example}) and pass --data-dir DIR "
               f"or set {DATA_DIR_ENV}=DIR")
    if downloads_were_off:
        allow = ("leave out --no-download" if flag_passed else f"unset {NO_DOWNLOAD_ENV}")
        return (f"{provide}; or, on a machine with internet access, allow downloads "
                f"({allow}) so they are fetched into {_cache_dir()}.")
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

def _file_key(path: Path) -> _FileKey:
    stat = path.stat()
    return _FileKey(path.resolve(), stat.st_size, stat.st_mtime_ns)


def _read_only(array: np.ndarray) -> np.ndarray:
    """Mark a cached array read-only so that no caller can corrupt it for the next one."""
    array.flags.writeable = False
    return array
