#!/bin/bash
# After the validation study's mismatched-pairs run: the extension table (beyond the paper,
# MNIST->MNIST), the 3000-step study point, then -- once no_reconstruction's training has
# ended -- the paper's table alone on the cores, for a clean timing. All from /work/vaetable,
# a clean checkout of fb8b202 (its old table files removed; results/ is not part of the code).
while pgrep -f "mismatched_pairs=true" >/dev/null; do sleep 10; done
pkill -f study_queue7.sh
cd /work/vaetable
py=/work/venv/bin/python
/usr/bin/time -v $py reproduce.py --experiment vae-transfer --tasks mnist-mnist --set translator.mismatched_pairs=true --out results/vae_transfer/mismatched_pairs --data-dir ../shared/data --no-download --quiet > /work/main/runs/logs/vae_mismatched_table.log 2>&1
$py reproduce.py --experiment vae-transfer --split validation --seeds 0 1 --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data --no-download --quiet --out /work/main/results/vae_transfer/validation/translator.steps-3000_regularizer_weight-0.1 --set translator.steps=3000 > /work/main/runs/logs/vae_study_steps3000.log 2>&1
while pgrep -f "method no_reconstruction" >/dev/null; do sleep 10; done
/usr/bin/time -v $py reproduce.py --experiment vae-transfer --data-dir ../shared/data --no-download --quiet > /work/main/runs/logs/vae_table.log 2>&1
