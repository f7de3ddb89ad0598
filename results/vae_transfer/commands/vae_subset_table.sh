#!/bin/bash
# The test table of the other reading of "size" (the VAEs see only the N images too), from the
# clean checkout /work/vaerun, after the validation run (PID $1) has finished.
source /work/venv/bin/activate
while kill -0 "$1" 2>/dev/null; do sleep 10; done
cd /work/vaerun && git status --short | grep -v '^??' ; git log --oneline -1
echo "$(date) start table"
/usr/bin/time -v python reproduce.py --experiment vae-transfer --set vaes_trained_on_subset=true --sizes 500 1000 2000 --no-figure --out results/vae_transfer/vaes_trained_on_subset --data-dir ../shared/data --no-download
echo "$(date) done"
