#!/usr/bin/env bash
# rank call 2 (#12): AdaLoRA / IncreLoRA replayed with tf.matMul (old.mjs = bench.mjs of call 1) against the engine's
# tiled matMul in their adapters (new.mjs), small and base, same call, + PyTorch eager. carry [".device", ".carry/rank"].
set -u
C=${C:-.carry/rank}
OUT=${OUT:-/tmp/out}; R=/tmp/r2; mkdir -p "$OUT" $R
. bench/device-setup.sh && setup_node $C
export DAWN_FLAGS="enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization"
b() { local name=$1 lim=$2 bundle=$3; shift 3; timeout $lim /tmp/node $C/$bundle "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-170 | tail -n 24; tar czf $OUT/results.tgz -C $R .; }
py() { mkdir -p "$R/py-$2"; (cd $C && PYTHONUNBUFFERED=1 timeout "$1" python3 pytorch_bench.py "$R/py-$2" "${@:3}" > "$R/pytorch-$2.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch-$2.log"); grep -E "ms/step|FAIL|exit" "$R/pytorch-$2.log" | cut -c1-150; tar czf $OUT/results.tgz -C $R .; }
M=adalora,increlora
b old 150 bench.mjs --model small,base --method $M --variant replayed --steps 8 --warmup 3 --no-profile
b new 150 new.mjs --model small,base --method $M --variant replayed --steps 8 --warmup 3 --no-profile
b new-engine 120 new.mjs --model small --method increlora --variant engine --steps 4 --warmup 2
py 100 small-base --models small,base --methods $M --steps 10 --warmup 5
