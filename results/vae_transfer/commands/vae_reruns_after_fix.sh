#!/bin/bash
# The paper reading's table, then the mismatched_pairs table, re-run after the seeding fix,
# from a clean checkout (/work/vaerun) at the commit given as $1. Logs in runs/logs/.
source /work/venv/bin/activate
cd /work/vaerun && git checkout -q --detach "$1" || exit 1
echo "$(date) paper reading at $(git rev-parse HEAD)"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --data-dir ../shared/data --no-download --quiet \
  > /work/main/runs/logs/vae_table_seeded.log 2>&1
echo "$(date) paper reading rc $?; mismatched_pairs"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --tasks mnist-mnist --set translator.mismatched_pairs=true \
  --out results/vae_transfer/mismatched_pairs --data-dir ../shared/data --no-download --quiet \
  > /work/main/runs/logs/vae_mismatched_seeded.log 2>&1
echo "$(date) mismatched_pairs rc $?"
echo "$(date) other reading, sizes 500 and all, seeds 0-5"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --set vaes_trained_on_subset=true --sizes 500 all \
  --no-figure --out results/vae_transfer/vaes_trained_on_subset_500_all --data-dir ../shared/data --no-download \
  --seeds 0 1 2 3 4 5 > /work/main/runs/logs/vae_subset_500_all_seeded.log 2>&1
echo "$(date) other reading rc $?"
