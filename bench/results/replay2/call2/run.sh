#!/usr/bin/env bash
# Issue #12 + #10 device call 2: pipelined + synced TF.js engine / replayed and PyTorch eager + torch.compile.
set -u
C=.carry/replay2
OUT=${OUT:-/tmp/out}; R=/tmp/r; mkdir -p "$OUT" $R
for f in .device/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p $C/node_modules/webgpu/dist/linux-x64
xz -d -c .device/dawn.node.xz > $C/node_modules/webgpu/dist/linux-x64/dawn.node
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv > "$R/gpu.txt" 2>&1
b() { local name=$1 lim=$2; shift 2; timeout $lim /tmp/node $C/bench.mjs "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-150 | tail -n 18; }
b head 215 --model tiny,mini,small,base --method lora-r8,aflora-pm-frozen --variant engine,replayed --steps 10 --warmup 3 --no-profile
tar czf $OUT/results.tgz -C $R .
(cd $C && PYTHONUNBUFFERED=1 timeout 170 python3 pytorch_bench.py "$R" --steps 15 --warmup 5 --compile lora-r8,aflora-both --compile-models mini,tiny,small,base > "$R/pytorch.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch.log")
grep -E "ms/step|FAIL|exit" "$R/pytorch.log" | cut -c1-150
tar czf $OUT/results.tgz -C $R .
b full-mini 40 --model mini --method full --variant engine,replayed --steps 10 --warmup 3 --no-profile
tar czf $OUT/results.tgz -C $R .
ls -la $R
