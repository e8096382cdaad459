#!/usr/bin/env bash
# kern3 device call 3 (#12 headline with the tiled matmul): TF.js engine / replayed, tiny..base, and PyTorch eager
# (+ torch.compile lora-r8 up to small) in ONE call; then the matmul microbenchmark (reps back to back).
set -u
C=${C:-.carry/kern3}
OUT=${OUT:-/tmp/out}; R=/tmp/r; mkdir -p "$OUT" $R
for f in .device/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p $C/node_modules/webgpu/dist/linux-x64
xz -d -c .device/dawn.node.xz > $C/node_modules/webgpu/dist/linux-x64/dawn.node
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export DAWN_FLAGS="enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization"
nvidia-smi --query-gpu=name,driver_version --format=csv > "$R/gpu.txt" 2>&1
b() { local name=$1 lim=$2; shift 2; timeout $lim /tmp/node $C/bench.mjs "$@" --json "$R/bench-$name.json" > "$R/bench-$name.log" 2>&1; echo "== $name exit $?"; grep -E "ms/step|FAIL|rror" "$R/bench-$name.log" | cut -c1-150 | tail -n 18; }
b head 115 --model tiny,mini,small,base --method lora-r8,aflora-pm-frozen --variant engine,replayed --steps 10 --warmup 3
tar czf $OUT/results.tgz -C $R .
(cd $C && PYTHONUNBUFFERED=1 timeout 115 python3 pytorch_bench.py "$R" --methods lora-r8,aflora-pm-frozen --steps 15 --warmup 5 --compile lora-r8 --compile-models tiny,mini,small > "$R/pytorch.log" 2>&1; echo "pytorch exit $?" >> "$R/pytorch.log")
grep -E "ms/step|FAIL|exit" "$R/pytorch.log" | cut -c1-150
tar czf $OUT/results.tgz -C $R .
timeout 35 /tmp/node $C/matmul.mjs --models base --reps 20 --tilings t64x64,t128x64,t32x64,t64x128,t128x128,t128x128k16,t64x128r8,t128x64k32 --json $R/matmul.json > $R/matmul.log 2>&1; echo "== matmul exit $?"
grep -v XDG $R/matmul.log | cut -c1-330
tar czf $OUT/results.tgz -C $R .
