#!/bin/bash
# The other reading's table with "all" inside it (so its trend line tests 500 -> all), seeds 0-5,
# from the clean checkout /work/vaerun (6976e02). Seeds are written one by one; a rerun keeps them.
source /work/venv/bin/activate
cd /work/vaerun && git status --short | grep -v '^??' ; git log --oneline -1
echo "$(date) start"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --set vaes_trained_on_subset=true --sizes 500 1000 2000 all --no-figure --out results/vae_transfer/vaes_trained_on_subset_all_sizes --data-dir ../shared/data --no-download --seeds 0 1 2 3 4 5
echo "$(date) done"
