"""Copies the .keras models of a folder tree into another folder, stored in float16.

    python -m lstnet_experiments.speed.store_float16 runs/models_float32/cpu --out results/cpu/models

For models a run wrote before the runner stored them in float16 (``shipped_models.save_shipped``):
the copies are half the size and load, through ``lstnet_tf.shipped_models``, as float32 models.
The source files are only read, and no existing file is overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lstnet_tf.console import UserFacingError, run_command


def planned_copies(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """``(source file, copy)`` for every .keras file under ``source``; a ``UserFacingError``
    if there is none or a copy would overwrite a file."""
    if not source.is_dir():
        raise UserFacingError(f"{source} is not a folder of .keras models")
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise UserFacingError(f"--out {out} is inside {source}; pass a folder outside it")
    files = sorted(path for path in source.rglob("*.keras")
                   if not path.name.startswith(".tmp-"))  # an interrupted save's leftover
    if not files:
        raise UserFacingError(f"no .keras files under {source}")
    copies = [(path, out / path.relative_to(source)) for path in files]
    existing = [str(copy) for _, copy in copies if copy.exists()]
    if existing:
        raise UserFacingError(f"would overwrite {', '.join(existing)}; move them away or pass "
                              "another --out")
    return copies


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder searched for .keras files")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder the float16 copies go to (same relative paths)")
    return parser.parse_args(argv)


def run(args) -> int:
    from lstnet_tf.shipped_models import load_model_file, save_shipped  # imports TensorFlow

    for path, copy in planned_copies(args.source, args.out):
        try:
            save_shipped(load_model_file(path, "model"), copy)
        except ValueError as error:  # a weight beyond float16's range
            raise UserFacingError(f"{path}: {error}; keep this file in float32") from None
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB) -> {copy} "
              f"({copy.stat().st_size / 1e6:.1f} MB)", flush=True)
    return 0


def main(argv=None) -> int:
    return run_command(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
