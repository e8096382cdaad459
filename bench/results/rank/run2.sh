#!/usr/bin/env bash
# rank call 2 (#12): AdaLoRA / IncreLoRA replayed with tf.matMul (old.mjs = bench.mjs of call 1) against the engine's
# tiled matMul in their adapters (new.mjs), small and base, same call, + PyTorch eager. carry [".device", ".carry/rank"].
# start_record, bench_part, pytorch_part: bench/device-setup.sh (the call ran the same commands from helpers defined in this file).
set -u
. bench/device-setup.sh && start_record .carry/rank /tmp/r2
M=adalora,increlora
bench_part old 150 bench.mjs --model small,base --method $M --variant replayed --steps 8 --warmup 3 --no-profile
bench_part new 150 new.mjs --model small,base --method $M --variant replayed --steps 8 --warmup 3 --no-profile
bench_part new-engine 120 new.mjs --model small --method increlora --variant engine --steps 4 --warmup 2
pytorch_part 100 small-base --models small,base --methods $M --steps 10 --warmup 5
