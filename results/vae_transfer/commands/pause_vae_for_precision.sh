#!/bin/bash
# Pauses the VAE seeds 3-5 job while the next method run times its precision ('auto').
pid=$(pgrep -f "^python reproduce.py --experiment vae-transfer" | head -1)
until grep -q "start no_latent_disc seed 1" /work/main/runs/logs/queue.log; do sleep 5; done
kill -0 "$pid" 2>/dev/null || exit 0
kill -STOP "$pid"; echo "$(date) paused $pid"
until grep -q "^Training no_latent_disc" /work/main/runs/logs/no_latent_disc_seed1.log 2>/dev/null; do sleep 5; done
kill -CONT "$pid"; echo "$(date) resumed $pid"
