#!/usr/bin/env bash
# rank call 3 (#12): IncreLoRA's score through the two-pass abs-dot kernel and AdaLoRA's masking round in one submit
# (new3.mjs) against call 2's build (new.mjs), replayed, small and base, same call. carry [".device", ".carry/rank"].
# start_record, bench_part, pytorch_part: bench/device-setup.sh (the call ran the same commands from helpers defined in this file).
set -u
. bench/device-setup.sh && start_record .carry/rank /tmp/r3
M=adalora,increlora
bench_part before 150 new.mjs --model small,base --method $M --variant replayed --steps 10 --warmup 3 --no-profile
bench_part after 150 new3.mjs --model small,base --method $M --variant replayed --steps 10 --warmup 3 --no-profile
bench_part after-engine 100 new3.mjs --model small --method increlora --variant engine --steps 4 --warmup 2
