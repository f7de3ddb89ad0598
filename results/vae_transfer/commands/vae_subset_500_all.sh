#!/bin/bash
# The other reading with sizes 500 and all, seeds 0-5, after the seeding fix and the size-keyed
# cell seeds, from the clean checkout /work/vaerun moved to commit $1. Log in runs/logs/.
source /work/venv/bin/activate
cd /work/vaerun && git checkout -q --detach "$1" || exit 1
echo "$(date) other reading, sizes 500 and all, seeds 0-5, at $(git rev-parse HEAD)"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --set vaes_trained_on_subset=true --sizes 500 all \
  --no-figure --out results/vae_transfer/vaes_trained_on_subset_500_all --data-dir ../shared/data --no-download \
  --seeds 0 1 2 3 4 5 > /work/main/runs/logs/vae_subset_500_all_seeded.log 2>&1
echo "$(date) other reading rc $?"
