"""The latent-space VAE transfer experiment (``python -m lstnet_experiments.vae_transfer``, or
``reproduce.py --experiment vae-transfer``): the command, one seed's experiment, its table, its
figure and the study reader. The networks and training live in ``lstnet_tf.vae_transfer``."""
