"""Latent-space transfer between two unconditional VAEs (Lu, "Cross Domain Image Generation
through Latent Space Exploration with Adversarial Loss", ``latent_vae_transfer.txt``).

``config`` (typed settings), ``models`` (networks, the equations, the two keras.Models),
``tasks`` (domains, class pairings, training-set sizes), ``training`` (the two stages and
sampling). The experiment driver is ``lstnet_experiments/vae_transfer/`` (the command in
``command.py``, the protocol of a seed in ``experiment.py``, the table in ``table.py``).
"""
