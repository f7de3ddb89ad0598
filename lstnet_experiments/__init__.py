"""Tooling on top of the ``lstnet_tf`` library, by role: ``reproduction`` (Table 2),
``studies``, ``speed`` and ``vae_transfer``. The library never imports this package."""
