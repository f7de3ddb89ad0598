#!/bin/bash
# The validation study of results/vae_transfer, part 4 (replaces the rest of part 3).
cd /work/main
while pgrep -f "split validation --seeds 0 --tasks mnist-mnist --sizes all --no-figure" >/dev/null; do sleep 5; done
run() { /work/venv/bin/python reproduce.py --experiment vae-transfer --split validation --seeds 0 --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data --no-download --quiet "$@"; }
run --set translator.regularizer_weight=0.01
