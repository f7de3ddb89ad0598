"""Readable command-line output: TensorFlow's start-up and graph-optimizer log lines hidden.

TensorFlow's C++ code logs through absl before anything can configure it, so
``TF_CPP_MIN_LOG_LEVEL`` does not silence lines such as ``I0000 ... port.cc] oneDNN custom
operations are on`` or ``E0000 ... meta_optimizer.cc] remapper failed``. ``hide_tensorflow_logs``
filters the process's standard error at the file-descriptor level: lines in absl's format are
dropped, everything else (Python warnings, tracebacks, our own errors) passes unchanged.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

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
_ABSL_LINE = re.compile(rb"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+:\d+\] |WARNING: All log "
                        rb"messages before absl::InitializeLog\(\) is called)")


def verbose_requested(flag: bool = False) -> bool:
    return flag or os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")


def hide_tensorflow_logs(verbose: bool = False) -> None:
    """Unless ``verbose`` (or $LSTNET_VERBOSE=1), hide TensorFlow's log lines from stderr.

    Call it before TensorFlow is imported.
    """
    if verbose_requested(verbose) or "tensorflow" in sys.modules:
        # Imported already (e.g. under pytest): its start-up lines are out, leave stderr be.
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        original = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                if not _ABSL_LINE.match(line):
                    os.write(original, line)

    reader = threading.Thread(target=forward, name="stderr-filter", daemon=True)
    reader.start()

    def restore():
        # Close our end of the pipe so that the reader sees EOF and writes what is left.
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)
        reader.join(timeout=5)

    atexit.register(restore)
