#!/bin/bash
# Replaces runs/vae_queue8.sh after its first command (the extension table, still running):
# once that and no_reconstruction's run have ended, the paper's table alone on the cores (for a
# clean timing), then the 3000-step validation point. From /work/vaetable (clean fb8b202).
while pgrep -f "mismatched_pairs=true --out results/vae_transfer/mismatched_pairs" >/dev/null || pgrep -f "method no_reconstruction" >/dev/null; do sleep 10; done
cd /work/vaetable
py=/work/venv/bin/python
/usr/bin/time -v $py reproduce.py --experiment vae-transfer --data-dir ../shared/data --no-download --quiet > /work/main/runs/logs/vae_table.log 2>&1
$py reproduce.py --experiment vae-transfer --split validation --seeds 0 1 --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data --no-download --quiet --out /work/main/results/vae_transfer/validation/translator.steps-3000_regularizer_weight-0.1 --set translator.steps=3000 > /work/main/runs/logs/vae_study_steps3000.log 2>&1
