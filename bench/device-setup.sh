#!/usr/bin/env bash
# Sourced ON the GPU machine by bench/device-run.sh and the bench/results/*/run.sh records of later calls:
#   setup_node [DIR]   Node (/tmp/node), the GL/Vulkan loader debs, and dawn.node under DIR/node_modules/webgpu
#                      (DIR: where the bench bundle and its node_modules/webgpu lie; default .device).
# Needs .device/ from ../shared/device/prepare.sh (node.xz, gl/*.deb, dawn.node.xz).
setup_node() {
  local dir=${1:-.device}
  if [ ! -x /tmp/node ]; then
    for f in .device/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node
  fi
  local dawn=$dir/node_modules/webgpu/dist/linux-x64/dawn.node
  if [ ! -f "$dawn" ]; then
    mkdir -p "$(dirname "$dawn")"
    xz -d -c .device/dawn.node.xz > "$dawn"
  fi
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
}

# For the bench/results/*/run.sh records (after setup_node; C = the carry folder, R = results, OUT = the tool's):
#   bench_part NAME LIMIT BUNDLE ARGS...    one TF.js bench process -> $R/bench-NAME.{json,log}, its rows printed
#   pytorch_part LIMIT NAME ARGS...         bench/pytorch_bench.py (copied into $C) -> $R/py-NAME/pytorch.json
# Each packs $R into $OUT/results.tgz, so a later part that runs out of time leaves the earlier ones.
bench_part() {
  local name=$1 limit=$2 bundle=$3
  shift 3
  timeout "$limit" /tmp/node "$C/$bundle" "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1
  echo "== $name exit $?"
  grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-170 | tail -n 24
  tar czf "$OUT/results.tgz" -C "$R" .
}
pytorch_part() {
  local limit=$1 name=$2
  shift 2
  mkdir -p "$R/py-$name"
  (cd "$C" && PYTHONUNBUFFERED=1 timeout "$limit" python3 pytorch_bench.py "$R/py-$name" "$@" > "$R/pytorch-$name.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch-$name.log")
  grep -E "ms/step|FAIL|exit" "$R/pytorch-$name.log" | cut -c1-150
  tar czf "$OUT/results.tgz" -C "$R" .
}
#   start_record CARRY RESULTS              setup_node, C (default CARRY), R = RESULTS, OUT, exact GPU timestamps, gpu.txt
start_record() {
  C=${C:-$1}
  R=$2
  OUT=${OUT:-/tmp/out}
  mkdir -p "$OUT" "$R"
  setup_node "$C"
  export DAWN_FLAGS="enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization"
  nvidia-smi --query-gpu=name,driver_version --format=csv > "$R/gpu.txt" 2>&1
}
