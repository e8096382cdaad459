#!/usr/bin/env bash
# Issue #12 + #10 device call (one H200 session): TF.js plain / engine / replayed vs PyTorch eager + torch.compile.
set -u
C=.carry/replay2
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
for f in .device/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p $C/node_modules/webgpu/dist/linux-x64
xz -d -c .device/dawn.node.xz > $C/node_modules/webgpu/dist/linux-x64/dawn.node
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
b() { local name=$1 lim=$2; shift 2; timeout $lim /tmp/node $C/bench.mjs "$@" --json "$OUT/bench-$name.json" > "$OUT/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$OUT/bench-$name.log" | cut -c1-160 | tail -n 14; }
b head-tiny-mini 125 --model tiny,mini --method aflora-both,aflora-pm-frozen,lora-r8 --variant engine,replayed --steps 10 --warmup 3 --no-profile
b head-small-base 150 --model small,base --method aflora-both,aflora-pm-frozen,lora-r8 --variant engine,replayed --steps 10 --warmup 3 --no-profile
(cd $C && PYTHONUNBUFFERED=1 timeout 160 python3 pytorch_bench.py "$OUT" --steps 15 --warmup 5 --compile aflora-both,lora-r8 --compile-models mini,tiny,small,base > "$OUT/pytorch.log" 2>&1; echo "pytorch exit $?" >> "$OUT/pytorch.log")
grep -v "^\s*$" "$OUT/pytorch.log" | cut -c1-160 | tail -n 42
b methods-mini 60 --model mini --method elora,adalora,increlora,alora,full --variant replayed --steps 10 --warmup 3 --no-profile
b plain 45 --model tiny,mini --method aflora-both --variant plain --steps 10 --warmup 2 --no-profile
ls -la "$OUT"
