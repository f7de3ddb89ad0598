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
# Stopped here, after its first command; the rest ran from study_queue9.sh (the paper's
# table first, then this point).
