#!/usr/bin/env bash
# A third, short call (#12): the tiled up-projection (lowRankProducts.ts upProgram) and the replay's host-cache drop,
# new2.mjs (this build) against bench.mjs (1abaa67, the headline's build), replayed small and base, then one profiled
# base LoRA step of each. Results in call3/.
set -u
. bench/device-setup.sh && start_record .carry/head /tmp/r
bench_part new 60 new2.mjs --model small,base --method lora-r8,aflora-both --variant replayed --steps 10 --warmup 3 --no-profile
bench_part old 60 bench.mjs --model small,base --method lora-r8,aflora-both --variant replayed --steps 10 --warmup 3 --no-profile
bench_part prof 35 new2.mjs --model base --method lora-r8 --variant engine --steps 2 --warmup 1
bench_part prof-old 35 bench.mjs --model base --method lora-r8 --variant engine --steps 2 --warmup 1
