"""Readable command-line output: TensorFlow's start-up and graph-optimizer log lines hidden.

TensorFlow's C++ code logs through absl before anything can configure it, so
``TF_CPP_MIN_LOG_LEVEL`` does not silence lines such as ``I0000 ... port.cc] oneDNN custom
operations are on`` or ``E0000 ... meta_optimizer.cc] remapper failed``. ``hide_tensorflow_logs``
filters the process's standard error at the file-descriptor level: absl's information and
warning lines and a named allow-list of error lines known to be harmless on a CPU
(``HARMLESS_ERRORS``) are dropped; every other error line, every fatal line and everything else
(Python warnings, tracebacks, our own errors) passes unchanged.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import subprocess
import sys

VERBOSE_ENV = "LSTNET_VERBOSE"


class UserFacingError(RuntimeError):
    """An error whose message tells the user what went wrong and how to fix it: commands show
    it as one "error:" line, without a traceback."""


def run_reporting_errors(command) -> int:
    """Runs a command-line entry point; a ``UserFacingError`` (missing/corrupt data, unusable
    checkpoint, diverged run, ...) becomes one "error:" line on stderr and exit status 1."""
    try:
        return command()
    except UserFacingError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1


def run_command(parse_args, run, argv=None) -> int:
    """A ``python -m`` entry point: TensorFlow's log lines hidden unless ``--verbose``, the
    arguments parsed (argparse reports its own errors), then ``run(args)`` with a
    ``UserFacingError`` reported as one line."""
    hide_tensorflow_logs("--verbose" in (sys.argv[1:] if argv is None else argv))
    args = parse_args(argv)
    return run_reporting_errors(lambda: run(args))


# absl's line prefix: severity, MMDD, time (seconds unformatted before absl is set up), thread
# id, file:line]; and absl's notice that it is not set up yet.
_ABSL_PREFIX = rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ "
_ABSL_NOTICE = rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
# The error (E) lines known to be harmless on a CPU: each changes nothing in the results. Any
# other E line, and every F (fatal) line, is shown.
HARMLESS_ERRORS = {
    "CUDA probing on a machine without a GPU":
        rb"cuda_[a-z_]+\.cc:\d+\] (failed call to cuInit|Unable to register cu)",
    "grappler's remapper/layout pass gives up on a graph (the graph runs unoptimised)":
        rb"meta_optimizer\.cc:\d+\] (remapper|layout) failed",
    "oneDNN has no float16 kernels without AVX-512 (Eigen's are used)":
        rb"util\.cc:\d+\] oneDNN supports DT_HALF only",
}
_HIDDEN_LINE = re.compile(
    rb"^(" + _ABSL_NOTICE + rb"|" + _ABSL_PREFIX.replace(rb"[IWEF]", rb"[IW]") + rb"[^\]]+:\d+\] "
    + b"".join(rb"|E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ " + p for p in HARMLESS_ERRORS.values())
    + rb")")


def hidden(line: bytes) -> bool:
    """Whether the filter drops this stderr line: absl's I/W lines and the harmless E lines."""
    return bool(_HIDDEN_LINE.match(line))


# The filter runs in a child process, so that the lines a crashing process wrote last (an F
# line before an abort) still reach the terminal after the parent is gone.
_FORWARDER = """
import os, sys
sys.path.insert(0, {root!r})
from lstnet_tf.console import hidden
for line in sys.stdin.buffer:
    if not hidden(line):
        os.write(2, line)
"""


def verbose_requested(flag: bool = False) -> bool:
    return flag or os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")


def hide_tensorflow_logs(verbose: bool = False) -> None:
    """Unless ``verbose`` (or $LSTNET_VERBOSE=1), hide TensorFlow's harmless log lines from
    stderr (``hidden``).

    Call it before TensorFlow is imported.
    """
    if verbose_requested(verbose) or "tensorflow" in sys.modules:
        # Imported already (e.g. under pytest): its start-up lines are out, leave stderr be.
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        original = os.dup(2)
        forwarder = subprocess.Popen([sys.executable, "-c", _FORWARDER.format(root=root)],
                                     stdin=subprocess.PIPE, stderr=original, close_fds=True)
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(forwarder.stdin.fileno(), 2)
    forwarder.stdin.close()

    def restore():
        # Our stderr was the only other writer: restoring it gives the forwarder its EOF.
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)
        try:
            forwarder.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    atexit.register(restore)
