#!/bin/bash
# The validation study of results/vae_transfer, part 2 (after the 3-epoch-judge baseline):
# seed 0, MNIST{0-4} -> MNIST{5-9}, all training examples, 3 pairings, validation split,
# judged by the 10-epoch MNIST classifier (trained by the first run, cached).
cd /work/main
while kill -0 15963 2>/dev/null; do sleep 5; done
mv results/vae_transfer/validation/defaults results/vae_transfer/validation/defaults_judge3epochs
run() { /work/venv/bin/python reproduce.py --experiment vae-transfer --split validation --seeds 0 --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data --no-download --quiet "$@"; }
run --set translator.steps=750
run
run --set vae.steps=750
run --set translator.regularizer_weight=0.1
run --set translator.steps=3000
run --set vae.elbo_weight=0.25
