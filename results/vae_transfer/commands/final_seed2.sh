#!/bin/bash
# Seed 2 of the final table in parallel with seeds 0 and 1 (the main run is stopped once it
# has written seed1.json, so that it does not train seed 2 a second time).
cd /work/main
/work/venv/bin/python reproduce.py --experiment vae-transfer --seeds 2 --no-figure --data-dir ../shared/data --no-download --quiet &
while [ ! -f results/vae_transfer/seed1.json ]; do sleep 5; done
kill 13861
wait
