#!/usr/bin/env sh
# The local side-by-side of README.md: old.mjs = a bundle of 55191b0, new.mjs = of this build (sh bench/bundle.sh
# node_modules/.cache/bench/{old,new}.mjs, each from its checkout), run from the repo root; then table.py.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd node_modules/.cache/bench
for round in 1 2; do
  for build in old new; do
    node $build.mjs --model tiny --method lora-r8,aflora-both,aflora-pm-frozen --variant replayed --batch 2 --seq 16 \
      --steps 10 --warmup 3 --no-profile --json "$HERE/sbs-$build-$round.json" > /dev/null
  done
done
python3 "$HERE/table.py" > "$HERE/table.txt"
