#!/usr/bin/env bash
# The headline device call (#12): every shape, method and variant of BENCHMARKS.md's headline table in ONE call,
# TF.js first, then PyTorch eager + torch.compile, then the previous build (old.mjs = 945ffaf, before the rank-r
# product programs of engine/kernels/lowRankProducts.ts) on the rows they change, then one profiled step of each build.
# carry [".device", ".carry/head"] with bench.mjs, old.mjs, node_modules/webgpu/{index.js,package.json},
# pytorch_bench.py in .carry/head (BENCHMARKS.md "Reproduce"); table.py joins the results into table.txt.
set -u
. bench/device-setup.sh && start_record .carry/head /tmp/r
M=lora-r8,aflora-both,aflora-pm-frozen
bench_part head 300 bench.mjs --model tiny,mini,small,base --method $M --variant plain,engine,replayed --steps 10 --warmup 3 --no-profile
pytorch_part 200 head --models tiny,mini,small,base --methods $M --steps 15 --warmup 5 --compile lora-r8 --compile-models tiny,mini,small,base
bench_part old 100 old.mjs --model small,base --method lora-r8,aflora-both --variant replayed --steps 10 --warmup 3 --no-profile
bench_part prof 60 bench.mjs --model small,base --method lora-r8 --variant engine --steps 2 --warmup 1 --verify 3
bench_part prof-old 60 old.mjs --model small,base --method lora-r8 --variant engine --steps 2 --warmup 1
# Where a replayed step's JavaScript time goes (tiny's enqueue exceeds mini's with half the dispatches): a CPU profile.
NODE_OPTIONS="--cpu-prof --cpu-prof-dir=$R/cpuprof" bench_part cpuprof 80 bench.mjs --model tiny,mini --method lora-r8 --variant replayed --steps 30 --warmup 3 --no-profile
