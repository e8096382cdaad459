#!/usr/bin/env bash
# rank call 3 (#12): IncreLoRA's score through the two-pass abs-dot kernel and AdaLoRA's masking round in one submit
# (new3.mjs) against call 2's build (new.mjs), replayed, small and base, same call. carry [".device", ".carry/rank"].
set -u
C=${C:-.carry/rank}
OUT=${OUT:-/tmp/out}; R=/tmp/r3; mkdir -p "$OUT" $R
. bench/device-setup.sh && setup_node $C
export DAWN_FLAGS="enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization"
b() { local name=$1 lim=$2 bundle=$3; shift 3; timeout $lim /tmp/node $C/$bundle "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-170 | tail -n 24; tar czf $OUT/results.tgz -C $R .; }
M=adalora,increlora
b before 150 new.mjs --model small,base --method $M --variant replayed --steps 10 --warmup 3 --no-profile
b after 150 new3.mjs --model small,base --method $M --variant replayed --steps 10 --warmup 3 --no-profile
b after-engine 100 new3.mjs --model small --method increlora --variant engine --steps 4 --warmup 2
