"""Regenerating Table 2: the command (``reproduce``), the runner every study shares, the
tables (``report``), the figures (``plots``) and the run-time estimate (``run_time``)."""
