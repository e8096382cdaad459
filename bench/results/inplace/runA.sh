#!/usr/bin/env bash
# Call A (#12, 2026-12-04 late): in-place AdamW + direct uploads (bench.mjs, this build) against the headline's
# build (old.mjs = 55191b0), replayed, tiny..small, same call; then one profiled engine step of tiny and mini per
# method (GPU ms per kernel: where the scored AFLoRA step's extra GPU wait goes). carry [".device", ".carry/c4"].
set -u
. bench/device-setup.sh && start_record .carry/c4 /tmp/r
M=lora-r8,aflora-both,aflora-pm-frozen
bench_part new 110 bench.mjs --model tiny,mini,small --method $M --variant replayed --steps 10 --warmup 3 --no-profile
bench_part old 110 old.mjs --model tiny,mini,small --method $M --variant replayed --steps 10 --warmup 3 --no-profile
bench_part prof 90 bench.mjs --model tiny,mini --method $M --variant engine --steps 2 --warmup 1
tar czf "$OUT/results.tgz" -C "$R" .
