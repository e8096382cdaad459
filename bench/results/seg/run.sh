#!/usr/bin/env bash
# seg device calls (#12: the segment-mean kernel and chunked submits), TF.js first, then PyTorch, in ONE call each:
#   PART=small: tiny, mini, small (engine, replayed with one submit per step and every 64 dispatches) + PyTorch
#   PART=base:  small aflora-both before/after the segment-mean kernel (old.mjs = d274f8a) + base + PyTorch base
#   PART=tune:  replayed LoRA / frozen AFLoRA at 16, 32, 64, 128 dispatches per command buffer + PyTorch eager
# carry [".device", ".carry/seg"] with bench.mjs, old.mjs, node_modules/webgpu/{index.js,package.json},
# pytorch_bench.py in .carry/seg (BENCHMARKS.md "Reproduce").
set -u
C=${C:-.carry/seg}
OUT=${OUT:-/tmp/out}; R=/tmp/r; mkdir -p "$OUT" $R
. bench/device-setup.sh && setup_node $C
export DAWN_FLAGS="enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization"
nvidia-smi --query-gpu=name,driver_version --format=csv > "$R/gpu.txt" 2>&1
b() { local name=$1 lim=$2 bundle=$3; shift 3; timeout $lim /tmp/node $C/$bundle "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-170 | tail -n 24; tar czf $OUT/results.tgz -C $R .; }
py() { mkdir -p "$R/py-$2"; (cd $C && PYTHONUNBUFFERED=1 timeout "$1" python3 pytorch_bench.py "$R/py-$2" "${@:3}" > "$R/pytorch-$2.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch-$2.log"); grep -E "ms/step|FAIL|exit" "$R/pytorch-$2.log" | cut -c1-150; tar czf $OUT/results.tgz -C $R .; }
M=lora-r8,aflora-both,aflora-pm-frozen
if [ "${PART:-small}" = tune ]; then
  b tune 300 bench.mjs --model tiny,small,base --method lora-r8,aflora-pm-frozen --variant replayed --submit-every 16,32,64,128 --steps 20 --warmup 3 --no-profile
  py 150 tune --models tiny,small,base --methods lora-r8,aflora-pm-frozen --steps 20 --warmup 5
elif [ "${PART:-small}" = small ]; then
  b head 330 bench.mjs --model tiny,mini,small --method $M --variant engine,replayed --submit-every 0,64 --steps 10 --warmup 3
  py 200 head --models tiny,mini,small --methods $M --steps 15 --warmup 5 --compile lora-r8 --compile-models tiny,mini,small
else
  b seg-old 70 old.mjs --model small --method aflora-both --variant engine,replayed --steps 10 --warmup 3
  b seg-new 70 bench.mjs --model small --method aflora-both --variant engine,replayed --submit-every 0 --steps 10 --warmup 3
  b base 250 bench.mjs --model base --method $M --variant engine,replayed --submit-every 0,64 --steps 10 --warmup 3 --no-profile
  py 150 base --models base --methods $M --steps 15 --warmup 5
fi
