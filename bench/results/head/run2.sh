#!/usr/bin/env bash
# A second headline call (#12): the same build, TF.js (engine, replayed) and PyTorch only, to show how much the
# ratios move between calls. Results in call2/ (table.py reads both).
set -u
. bench/device-setup.sh && start_record .carry/head /tmp/r
M=lora-r8,aflora-both,aflora-pm-frozen
bench_part head 240 bench.mjs --model tiny,mini,small,base --method $M --variant engine,replayed --steps 10 --warmup 3 --no-profile
pytorch_part 180 head --models tiny,mini,small,base --methods $M --steps 15 --warmup 5 --compile lora-r8 --compile-models tiny,mini,small,base
