#!/bin/bash
# Validation runs of the two readings of "size of training set", MNIST{0-4} -> MNIST{5-9},
# from a clean checkout (/work/vaerun at the commit given as $1).
source /work/venv/bin/activate
cd /work/vaerun && git checkout -q --detach "$1" || exit 1
V=results/vae_transfer/validation_sizes
common="--experiment vae-transfer --split validation --tasks mnist-mnist --sizes 500 1000 2000 all --no-figure --data-dir ../shared/data --no-download --quiet"
echo "$(date) start labelled_examples at $(git rev-parse HEAD)"
python reproduce.py $common --seeds 0 1 --out $V/labelled_examples
echo "$(date) start vaes_trained_on_subset seed 0"
python reproduce.py $common --seeds 0 --out $V/vaes_trained_on_subset --set vaes_trained_on_subset=true
echo "$(date) start vaes_trained_on_subset seed 1"
python reproduce.py $common --seeds 1 --out $V/vaes_trained_on_subset --set vaes_trained_on_subset=true
echo "$(date) done"
