#!/bin/bash
# The validation study of results/vae_transfer, part 7: seeds 0 and 1 per variant, each from a
# clean checkout of the commit named (runs -> /work/main/runs), after part 5's first run.
out=/work/main/results/vae_transfer/validation
while pgrep -f "split validation" >/dev/null; do sleep 10; done
run() { dir=$1; label=$2; shift 2; (cd $dir && nice -n 5 /work/venv/bin/python reproduce.py --experiment vae-transfer --split validation --seeds 0 1 --tasks mnist-mnist --sizes all --no-figure --data-dir ../shared/data --no-download --quiet --out $out/$label "$@"); }
run /work/study2 translator.mismatched_pairs-true --set translator.mismatched_pairs=true  # 43fc8c1
# Stopped here, after its first run: the 3000-step point ran from study_queue9.sh (clean
# checkout of fb8b202, same code); the lambda_2 run
# was dropped for time.
