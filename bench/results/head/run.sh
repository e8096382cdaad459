#!/usr/bin/env bash
# The headline device call (#12): every shape and method of BENCHMARKS.md's headline table in ONE call, TF.js
# (engine, replayed) first, then PyTorch eager + torch.compile, then the previous build (old.mjs = 945ffaf, before
# the rank-r product programs of engine/kernels/lowRankProducts.ts) on the rows they change, the plain path where it
# fits the call (tiny, mini: 0.3-1.2 s a step), one profiled step per build (GPU ms per kernel), and a CPU profile of
# replayed tiny and mini LoRA. carry [".device", ".carry/head"] with bench.mjs, old.mjs,
# node_modules/webgpu/{index.js,package.json}, pytorch_bench.py in .carry/head (BENCHMARKS.md "Reproduce");
# table.py joins the results into table.txt. (A first call, with plain on every model, ran out of time in its first part.)
set -u
. bench/device-setup.sh && start_record .carry/head /tmp/r
M=lora-r8,aflora-both,aflora-pm-frozen
bench_part head 240 bench.mjs --model tiny,mini,small,base --method $M --variant engine,replayed --steps 10 --warmup 3 --no-profile
pytorch_part 180 head --models tiny,mini,small,base --methods $M --steps 15 --warmup 5 --compile lora-r8 --compile-models tiny,mini,small,base
bench_part old 80 old.mjs --model small,base --method lora-r8,aflora-both --variant replayed --steps 10 --warmup 3 --no-profile
bench_part plain 110 bench.mjs --model tiny,mini --method $M --variant plain --steps 10 --warmup 3 --no-profile
bench_part prof 50 bench.mjs --model small,base --method lora-r8 --variant engine --steps 2 --warmup 1 --verify 3
bench_part prof-old 50 old.mjs --model small,base --method lora-r8 --variant engine --steps 2 --warmup 1
mkdir -p "$R/cpuprof"
timeout 40 /tmp/node --cpu-prof --cpu-prof-dir="$R/cpuprof" "$C/bench.mjs" --model tiny,mini --method lora-r8 --variant replayed --steps 30 --warmup 3 --no-profile > "$R/cpuprof.log" 2>&1
echo "== cpuprof exit $?"; tar czf "$OUT/results.tgz" -C "$R" .
