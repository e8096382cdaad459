#!/usr/bin/env bash
# rank device call (#12: AdaLoRA and IncreLoRA replayed), TF.js first, then PyTorch, in ONE call:
#   tiny, mini, small: adalora, increlora (catalog defaults: AdaLoRA masks every step, deltaT 1), engine vs replayed
#   + PyTorch eager on the same shapes; then base (replayed only, fewer steps) + PyTorch base.
# carry [".device", ".carry/rank"] with bench.mjs, node_modules/webgpu/{index.js,package.json} and pytorch_bench.py in
# .carry/rank (BENCHMARKS.md "Reproduce").
set -u
C=${C:-.carry/rank}
OUT=${OUT:-/tmp/out}; R=/tmp/r; mkdir -p "$OUT" $R
. bench/device-setup.sh && setup_node $C
export DAWN_FLAGS="enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization"
nvidia-smi --query-gpu=name,driver_version --format=csv > "$R/gpu.txt" 2>&1
b() { local name=$1 lim=$2; shift 2; timeout $lim /tmp/node $C/bench.mjs "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-170 | tail -n 24; tar czf $OUT/results.tgz -C $R .; }
py() { mkdir -p "$R/py-$2"; (cd $C && PYTHONUNBUFFERED=1 timeout "$1" python3 pytorch_bench.py "$R/py-$2" "${@:3}" > "$R/pytorch-$2.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch-$2.log"); grep -E "ms/step|FAIL|exit" "$R/pytorch-$2.log" | cut -c1-150; tar czf $OUT/results.tgz -C $R .; }
M=adalora,increlora
b head 260 --model tiny,mini,small --method $M --variant engine,replayed --steps 10 --warmup 3
py 130 head --models tiny,mini,small --methods $M --steps 15 --warmup 5
b base 110 --model base --method $M --variant replayed --steps 6 --warmup 3 --no-profile
py 60 base --models base --methods $M --steps 10 --warmup 5
