#!/usr/bin/env bash
# Runs ON the GPU machine (lent device, no Node, no network), from the repository root, with
# carry [".device"] prepared here by ../shared/device/prepare.sh + bench/bundle.sh.
#   bash bench/device-run.sh PART...      PART = mini | flags | all | pytorch | smoke
# Writes into $OUT: bench-<part>.json (+ .log) for the TF.js parts, pytorch.json for PyTorch, gpu.txt.
# Each part is a separate process with its own time limit, so a slow part still leaves the others' JSON
# (the bench rewrites its JSON after every config). Limits per call of the device tool (600 s) hold for the
# groups: "smoke mini" (<= 540 s), "pytorch flags" (<= 580 s), "all" (<= 570 s).
set -u
OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
PARTS=${*:-mini pytorch}

. "$(dirname "$0")/device-setup.sh"

# bench NAME LIMIT_S ARGS...: one TF.js bench process, JSON + log into $OUT.
bench() {
  local name=$1 limit=$2
  shift 2
  echo "== bench $name: $*"
  timeout "$limit" /tmp/node .device/bench.mjs "$@" --json "$OUT/bench-$name.json" > "$OUT/bench-$name.log" 2>&1
  echo "   exit $? ($(grep -c 'ms/step' "$OUT/bench-$name.log") configs)"
  tail -n 14 "$OUT/bench-$name.log"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1 || true
for part in $PARTS; do
  case $part in
    smoke) # seconds: proves node + dawn + Vulkan + the bundle work on this machine
      setup_node
      bench smoke "${SMOKE_LIMIT:-120}" --model tiny --method aflora-both --batch 2 --seq 16 --steps 2 --warmup 1 --verify 2 ;;
    mini) # the issue's target: BERT-mini, every method, plain vs fused, fused verified against plain
      setup_node
      bench mini "${MINI_LIMIT:-420}" --model mini --verify 3 --steps 10 --warmup 3 ;;
    flags) # TF.js webgpu flags on the mini AFLoRA step, plain and fused
      setup_node
      bench flags-default 70 --model mini --method aflora-both --steps 6 --warmup 2 --no-profile
      bench flags-submit64 70 --model mini --method aflora-both --steps 6 --warmup 2 --no-profile \
        --flags WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64 --label submit64
      bench flags-submit256 70 --model mini --method aflora-both --steps 6 --warmup 2 --no-profile \
        --flags WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=256 --label submit256
      bench flags-cpuforward 70 --model mini --method aflora-both --steps 6 --warmup 2 --no-profile \
        --flags WEBGPU_CPU_FORWARD=true --label cpu-forward ;;
    all) # the other sizes, fewer steps (base plain is ~4 s/step)
      setup_node
      bench tiny "${TINY_LIMIT:-120}" --model tiny --steps 6 --warmup 2
      bench small "${SMALL_LIMIT:-150}" --model small --steps 6 --warmup 2
      bench base "${BASE_LIMIT:-300}" --model base --steps 4 --warmup 2 --no-profile ;;
    pytorch)
      echo "== pytorch"
      timeout "${PYTORCH_LIMIT:-300}" python3 bench/pytorch_bench.py "$OUT" > "$OUT/pytorch.log" 2>&1
      echo "   exit $?"
      tail -n 30 "$OUT/pytorch.log" ;;
    *) echo "unknown part $part (mini | flags | all | pytorch | smoke)"; exit 2 ;;
  esac
done
ls -la "$OUT"
