#!/usr/bin/env bash
# How checkpoints/default was made on a 2-core CPU, start to finish. Each step is resumable.
set -euo pipefail
musegen corpus build music21 --out data/corpus --jobs 2 --cap palestrina=300
musegen tokenize --corpus data/corpus --out data/cache --vocab-size 2000 --jobs 2
# The conditioned model and the same network without conditions (the card's baseline), side by
# side with one thread each: two 1-thread processes use 2 cores better than one 2-thread one.
musegen train --config examples/configs/cpu-small.yaml --threads 1 --max-steps "${STEPS:-450}" &
musegen train --config examples/configs/cpu-small.yaml --threads 1 --max-steps "$(( ${STEPS:-450} / 2 ))" \
    --out runs/cpu-small-uncond --unconditioned true &
wait
musegen export runs/cpu-small --name default --dtype bfloat16
