#!/usr/bin/env bash
# seg device calls (#12: the segment-mean kernel and chunked submits), TF.js first, then PyTorch, in ONE call each:
#   PART=small: tiny, mini, small (engine, replayed with one submit per step and every 64 dispatches) + PyTorch
#   PART=base:  small aflora-both before/after the segment-mean kernel (old.mjs = d274f8a) + base + PyTorch base
#   PART=tune:  replayed LoRA / frozen AFLoRA at 16, 32, 64, 128 dispatches per command buffer + PyTorch eager
# carry [".device", ".carry/seg"] with bench.mjs, old.mjs, node_modules/webgpu/{index.js,package.json},
# pytorch_bench.py in .carry/seg (BENCHMARKS.md "Reproduce").
# start_record, bench_part, pytorch_part: bench/device-setup.sh (the calls ran the same commands from helpers defined in this file).
set -u
. bench/device-setup.sh && start_record .carry/seg /tmp/r
M=lora-r8,aflora-both,aflora-pm-frozen
if [ "${PART:-small}" = tune ]; then
  bench_part tune 300 bench.mjs --model tiny,small,base --method lora-r8,aflora-pm-frozen --variant replayed --submit-every 16,32,64,128 --steps 20 --warmup 3 --no-profile
  pytorch_part 150 tune --models tiny,small,base --methods lora-r8,aflora-pm-frozen --steps 20 --warmup 5
elif [ "${PART:-small}" = small ]; then
  bench_part head 330 bench.mjs --model tiny,mini,small --method $M --variant engine,replayed --submit-every 0,64 --steps 10 --warmup 3
  pytorch_part 200 head --models tiny,mini,small --methods $M --steps 15 --warmup 5 --compile lora-r8 --compile-models tiny,mini,small
else
  bench_part seg-old 70 old.mjs --model small --method aflora-both --variant engine,replayed --steps 10 --warmup 3
  bench_part seg-new 70 bench.mjs --model small --method aflora-both --variant engine,replayed --submit-every 0 --steps 10 --warmup 3
  bench_part base 250 bench.mjs --model base --method $M --variant engine,replayed --submit-every 0,64 --steps 10 --warmup 3 --no-profile
  pytorch_part 150 base --models base --methods $M --steps 15 --warmup 5
fi
