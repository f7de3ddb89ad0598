"""File helpers shared by the library and the experiment tooling: atomic writes, the
environment that goes into every result's provenance (machine, code state, load) and the
fingerprint of the source that defines a cached model (``definition_version``)."""

from __future__ import annotations

import hashlib
import inspect
import os
import platform
import subprocess
import sys
from pathlib import Path


def write_atomically(path: Path, data: str | bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


ROOT = Path(__file__).resolve().parents[1]  # the checkout (lstnet_tf/..)
NOT_A_CHECKOUT = "unknown (not a git checkout)"
# What of the working tree is the experiments' code (``code_state`` lists its changes).
CODE_PATHS = ("lstnet_tf", "lstnet_experiments", "reproduce.py", "tests")


def _field(lines: list[str], prefix: str) -> str | None:
    """The value after the colon of the first line that starts with ``prefix``, if any."""
    for line in lines:
        if line.startswith(prefix):
            return line.split(":", 1)[1].strip()
    return None


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _cpu_description() -> str:
    model = _field(_read_lines("/proc/cpuinfo"), "model name")
    if model is None:
        model = platform.processor() or platform.machine()
    return f"{model} x {os.cpu_count()} logical CPUs"


def lscpu_model() -> str:
    """The CPU's model name as ``lscpu`` reports it ("unknown" without lscpu)."""
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    model = _field(output.splitlines(), "Model name:")
    return "unknown" if model is None else model


def _git(*command: str) -> str:
    return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def _git_commit() -> str:
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return NOT_A_CHECKOUT
    return commit + (" (with uncommitted changes)" if dirty else "")


def code_state() -> dict:
    """The git commit and what of the working tree differs from it (tracked changes and
    untracked files under ``CODE_PATHS``), so a result says honestly what ran."""
    try:
        commit = _git("rev-parse", "HEAD")
        changed = _git("status", "--porcelain", "--", *CODE_PATHS).splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": NOT_A_CHECKOUT, "working_tree": []}
    return {"commit": commit, "describe": commit[:7] + ("-dirty" if changed else ""),
            "working_tree": changed}


def load_average() -> list:
    """The 1, 5 and 15 minute load averages, rounded to 0.01."""
    return [round(v, 2) for v in os.getloadavg()]


def definition_version(parts, extra: str = "") -> str:
    """A fingerprint of the source of ``parts`` (functions and classes, in order) and of
    ``extra`` (values that decide the definition without being source): 10 hex digits of a
    SHA-256. A cached model keyed by it is not reused once any of that source changes."""
    source = "".join(inspect.getsource(part) for part in parts) + extra
    return hashlib.sha256(source.encode()).hexdigest()[:10]


# CPU flags that decide which precision is fast (docs/speed.md).
FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def _cpu_flags_of_note() -> list[str]:
    flags = set((_field(_read_lines("/proc/cpuinfo"), "flags") or "").split())
    return [flag for flag in FLAGS_OF_NOTE if flag in flags]


def machine() -> dict:
    """This machine's CPU, as every result's provenance names it (no TensorFlow import)."""
    return {"cpu": _cpu_description(), "cpu_flags": _cpu_flags_of_note()}


def environment() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        **machine(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")] or "none",
        "git_commit": _git_commit(),
    }
