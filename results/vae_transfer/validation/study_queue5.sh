#!/bin/bash
# The validation study of results/vae_transfer, part 5: seeds 0 and 1 per variant (one seed's
# three pairings left differences of about 0.05 unresolved). Runs from a clean checkout of the
# commit it names, writing into the main checkout's results/vae_transfer/validation.
cd /work/study   # git worktree at 79929cf; runs -> /work/main/runs
out=/work/main/results/vae_transfer/validation
run() { label=$1; shift; nice -n 5 /work/venv/bin/python reproduce.py --experiment vae-transfer --split validation --seeds 0 1 --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data --no-download --quiet --out $out/$label "$@"; }
run defaults
# Stopped here, after its first run; the rest went, reordered, to study_queue7.sh.
