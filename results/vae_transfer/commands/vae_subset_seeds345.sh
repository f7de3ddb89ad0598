#!/bin/bash
# Seeds 3-5 of the other reading's test table, from the clean checkout /work/vaerun (6976e02).
source /work/venv/bin/activate
cd /work/vaerun && git status --short | grep -v '^??' ; git log --oneline -1
echo "$(date) start seeds 3 4 5"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --set vaes_trained_on_subset=true --sizes 500 1000 2000 --no-figure --out results/vae_transfer/vaes_trained_on_subset --data-dir ../shared/data --no-download --seeds 3 4 5
echo "$(date) done"
