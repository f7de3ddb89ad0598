"""Studies over the runner's seeds: choices between variants on validation (``study``,
``paired_study``, ``checkpoint_study``, ``per_image``), the methods' comparison (``compare``),
the tuning study (``tune``, its ``tuning_space`` and ``tuning_report``) and the width curve."""
