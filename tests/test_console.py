"""The TensorFlow log filter hides only what is known to be harmless, also when the process
crashes right after a fatal line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lstnet_tf.console import HARMLESS_ERRORS, hidden

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "{}0000 00:00:1796030868.705223    8207 "
LINES = {
    "info": (PREFIX.format("I") + "port.cc:153] oneDNN custom operations are on.", True),
    "warning": (PREFIX.format("W") + "cpu_feature_guard.cc:227] rebuild TensorFlow", True),
    "cuInit": (PREFIX.format("E") + "cuda_platform.cc:52] failed call to cuInit: INTERNAL", True),
    "remapper": (PREFIX.format("E") + "meta_optimizer.cc:967] remapper failed: INVALID_ARG", True),
    "float16": (PREFIX.format("E") + "util.cc:131] oneDNN supports DT_HALF only on platforms",
                True),
    "unknown error": (PREFIX.format("E") + "session.cc:12] Internal: kernel launch failed", False),
    "error in a harmless file": (PREFIX.format("E") + "util.cc:131] out of memory", False),
    "fatal": (PREFIX.format("F") + "cuda_platform.cc:52] Check failed: device", False),
    "traceback": ("Traceback (most recent call last):", False),
}


@pytest.mark.parametrize("name", LINES)
def test_only_info_warning_and_named_harmless_error_lines_are_hidden(name):
    line, is_hidden = LINES[name]
    assert hidden(line.encode() + b"\n") is is_hidden
    assert len(HARMLESS_ERRORS) == 3


def test_a_crash_after_a_fatal_line_still_shows_it_and_unknown_errors():
    """A process that writes TensorFlow-style lines and then aborts (as a CHECK failure does):
    the fatal and the unknown error line reach stderr, the harmless ones do not."""
    script = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from lstnet_tf.console import hide_tensorflow_logs\n"
        "hide_tensorflow_logs()\n"
        + "".join(f"os.write(2, {(line + chr(10)).encode()!r})\n" for line, _ in LINES.values())
        + "os.abort()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    shown = result.stderr.decode()
    for name, (line, is_hidden) in LINES.items():
        assert (line in shown) is not is_hidden, name
