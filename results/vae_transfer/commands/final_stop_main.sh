#!/bin/bash
# Stops the main final run (python PID 13862, seeds 0 1 2) once it has written seed1.json: seed 2
# is run by a parallel process (final_seed2.sh), and must not be trained twice.
cd /work/main
while [ ! -f results/vae_transfer/seed1.json ]; do sleep 5; done
kill 13862
