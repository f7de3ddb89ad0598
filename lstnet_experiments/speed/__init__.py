"""Speed: the step benchmark (``bench``, with its FLOP count ``flops`` and the CPU's measured
peak ``cpu_peak``), the precision and storage checks, the multi-worker trial and the step
logger's cost."""
