"""This CPU's measured multiply-add peak (float32 FMA and bfloat16 dot products), from
``cpu_peak.c`` compiled with gcc and run on every core at once."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

PEAK_PROGRAM = Path(__file__).resolve().parent / "cpu_peak.c"
# Architectural float32 multiply-add FLOPs per core and cycle with AVX-512: 2 FMA units x
# 16 lanes x 2. Only used when the measuring program cannot be compiled.
NOMINAL_FLOAT32_FLOPS_PER_CYCLE = 64


def measure_cpu_peak(repeats: int = 5) -> dict:
    """This CPU's peak GFLOP/s for float32 FMA and AVX512-BF16 dot products, all cores busy.

    Compiles ``cpu_peak.c`` with gcc; for each of its measurements (clock, float32, bfloat16)
    runs one copy per core at once, ``repeats`` times, and keeps the best round: a VM's
    neighbours can only slow a round down, never speed it up (every round is
    kept under "rounds"). Peak = cores x measured clock x measured FLOP/cycle.
    Without gcc, falls back to the nominal clock of /proc/cpuinfo x 64 FLOP/cycle, and says so.
    """
    cores = os.cpu_count() or 1
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler:
        with tempfile.TemporaryDirectory() as tmp:
            binary = Path(tmp) / "cpu_peak"
            build = subprocess.run([compiler, "-O2", "-march=native", str(PEAK_PROGRAM), "-o",
                                    str(binary)], capture_output=True, text=True)
            if build.returncode == 0:
                return _measured_peak(binary, cores, repeats)
    mhz = _nominal_mhz()
    gflops = None if mhz is None else cores * mhz / 1000 * NOMINAL_FLOAT32_FLOPS_PER_CYCLE
    return {"clock_ghz": None if mhz is None else mhz / 1000,
            "gflops": {"float32": gflops, "bfloat16": None},
            "derivation": f"not measured (cpu_peak.c could not be built): {cores} cores x "
                          f"nominal clock {mhz} MHz from /proc/cpuinfo x "
                          f"{NOMINAL_FLOAT32_FLOPS_PER_CYCLE} FLOP/cycle (AVX-512: 2 FMA units "
                          "x 16 lanes x 2)"}


def _measured_peak(binary: Path, cores: int, repeats: int) -> dict:
    def all_cores(measurement: str) -> list[str]:
        copies = [subprocess.Popen([str(binary), measurement], stdout=subprocess.PIPE, text=True)
                  for _ in range(cores)]
        key = f"{measurement}_ghz" if measurement == "clock" else f"{measurement}_gflops"
        return [dict(line.split() for line in p.communicate()[0].splitlines())[key]
                for p in copies]

    # Every round is kept in the output, so the spread between rounds is on record.
    rounds = {"clock_ghz": [statistics.mean(map(float, all_cores("clock")))
                            for _ in range(repeats)]}
    clock = max(rounds["clock_ghz"])
    gflops, per_cycle = {}, {}
    for kind in ("float32", "bfloat16"):
        per_core = [all_cores(kind) for _ in range(repeats)]
        if any("unsupported" in values for values in per_core):
            gflops[kind] = per_cycle[kind] = None
            continue
        rounds[f"{kind}_gflops"] = [sum(map(float, values)) for values in per_core]
        gflops[kind] = max(rounds[f"{kind}_gflops"])
        per_cycle[kind] = gflops[kind] / cores / clock
    described = ", ".join(f"{kind} {cycles:.1f}" for kind, cycles in per_cycle.items()
                          if cycles is not None)
    return {"clock_ghz": clock, "gflops": gflops, "flops_per_cycle_per_core": per_cycle,
            "rounds": rounds, "derivation": f"measured by lstnet_experiments/speed/cpu_peak.c, one copy per core at once, best "
                          f"of {repeats} rounds: {cores} cores x {clock:.2f} GHz (IMUL chain) x "
                          f"FLOP/cycle per core from independent FMA chains, 24 of 512 bits with "
                          f"AVX-512, else 12 of 256 bits with AVX2 ({described}; float32 FMA is "
                          "64 in theory with AVX-512, 32 with AVX2)"}


def _nominal_mhz() -> float | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except OSError:
        pass
    return None
