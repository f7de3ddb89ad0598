#!/bin/bash
cd /work/main
while pgrep -f "split validation --seeds 0 --tasks mnist-mnist --sizes all --no-figure" >/dev/null; do sleep 3; done
/usr/bin/time -v /work/venv/bin/python reproduce.py --experiment vae-transfer --data-dir ../shared/data --no-download --quiet
