#!/bin/bash
# Pauses the VAE table (PID 22261) while the next method run times its precision ('auto').
until grep -q "start xgan seed 1" /work/main/runs/logs/queue.log; do sleep 5; done
kill -STOP 22261; echo "$(date) paused 22261"
until grep -q "^Training xgan" /work/main/runs/logs/xgan_seed1.log 2>/dev/null; do sleep 5; done
kill -CONT 22261; echo "$(date) resumed 22261"
