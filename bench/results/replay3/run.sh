#!/usr/bin/env bash
# Issue #12 device call (replay3), TF.js then PyTorch (one at a time on the GPU): AFLoRA while scoring replayed vs engine, A/B frozen, and PyTorch eager; tiny/mini/small.
set -u
C=.carry/replay3
OUT=${OUT:-/tmp/out}; R=/tmp/r; mkdir -p "$OUT" $R
for f in .device/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p $C/node_modules/webgpu/dist/linux-x64
xz -d -c .device/dawn.node.xz > $C/node_modules/webgpu/dist/linux-x64/dawn.node
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv > "$R/gpu.txt" 2>&1
timeout 85 /tmp/node $C/bench.mjs --model tiny,mini,small --method aflora-both,aflora-pm-frozen --variant engine,replayed --steps 10 --warmup 3 --no-profile --json "$R/bench-aflora.json" > "$R/bench-aflora.log" 2>&1; echo "== bench exit $?"
(cd $C && PYTHONUNBUFFERED=1 timeout 45 python3 pytorch_bench.py "$R" --models tiny,mini,small --methods aflora-both,aflora-pm-frozen --steps 15 --warmup 5 > "$R/pytorch.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch.log")
grep -E "ms/step|FAIL|rror" "$R/bench-aflora.log" | cut -c1-200 | tail -n 20
grep -E "ms/step|FAIL|exit" "$R/pytorch.log" | cut -c1-160
cp $R/* "$OUT/"
ls -la "$OUT"
