"""Compute precision: the names, how ``auto`` is decided, and what each name implies.

``auto`` means mixed_float16 on a GPU. On a CPU it is decided by measurement, because the
same 2-core VM size is float32-faster on one host and bfloat16-faster on another
(docs/speed.md): where the CPU reports bfloat16 instructions, a few training steps of a
throw-away model of the run's shape are timed under float32 and mixed_bfloat16 and the faster
one is used; elsewhere float32. The choice and both timings are printed and recorded with the
run, and a resumed run reuses the recorded choice, so training stays reproducible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# The multiply-add rate that bounds each precision's convolutions (for the benchmark's peak).
PEAK_KIND = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float32"}
CPU_CANDIDATES = ("float32", "mixed_bfloat16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def needs_loss_scaling(precision: str) -> bool:
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range."""
    return precision == "mixed_float16"


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str
    reason: str
    seconds_per_step: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def gpu_available() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision: str, time_step: Callable[[str], float] | None = None,
                      has_gpu: bool | None = None, flags: set[str] | None = None) -> PrecisionChoice:
    """The precision to train with. ``time_step(precision) -> seconds per step`` is called
    only for ``auto`` on a CPU with bfloat16 instructions (``has_gpu`` and ``flags`` default
    to this machine's)."""
    if precision != "auto":
        return PrecisionChoice(precision, "set explicitly")
    if gpu_available() if has_gpu is None else has_gpu:
        return PrecisionChoice("mixed_float16", "auto: a GPU is visible")
    flags = cpu_flags() if flags is None else flags
    if not any(flag in flags for flag in BF16_CPU_FLAGS):
        return PrecisionChoice("float32", "auto: the CPU reports no bfloat16 instructions "
                                          f"({' / '.join(BF16_CPU_FLAGS)})")
    if time_step is None:
        return PrecisionChoice("float32", "auto: no step timer given, float32")
    seconds = {candidate: time_step(candidate) for candidate in CPU_CANDIDATES}
    fastest = min(seconds, key=seconds.get)
    measured = ", ".join(f"{p} {s:.3f} s/step" for p, s in seconds.items())
    return PrecisionChoice(fastest, f"auto: measured on this CPU ({measured}); {fastest} is faster",
                           seconds)
