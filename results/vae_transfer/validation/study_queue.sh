#!/bin/bash
# The validation study of results/vae_transfer (seed 0, MNIST{0-4} -> MNIST{5-9}, validation split).
cd /work/main
run() { /work/venv/bin/python reproduce.py --experiment vae-transfer --split validation --seeds 0 --tasks mnist-mnist --no-figure --data-dir ../shared/data --no-download --quiet "$@"; }
run --sizes 500 all
run --sizes all --set translator.regularizer_weight=0.1
run --sizes all --set translator.steps=3000
run --sizes all --set vae.elbo_weight=0.25
run --sizes all --set translator.learning_rate=0.0001
