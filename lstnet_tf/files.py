"""File helpers shared by the library and the experiment tooling: atomic writes and the
environment that goes into every result's provenance."""

from __future__ import annotations

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


def _cpu_description() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()} logical CPUs"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x {os.cpu_count()} logical CPUs"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


# CPU flags that decide which precision is fast (docs/speed.md).
FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def _cpu_flags_of_note() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [flag for flag in FLAGS_OF_NOTE if flag in flags]
    except OSError:
        pass
    return []


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
