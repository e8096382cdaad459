#!/usr/bin/env bash
# Planned device call (#12; written 2026-12-04 when no device was lent, not run yet). carry [".device", ".carry/c4"]:
# bench.mjs = this build (sh bench/bundle.sh .carry/c4/bench.mjs), old.mjs = the headline's build 55191b0 (the same
# from a checkout of it), node_modules/webgpu/{index.js,package.json} and bench/pytorch_bench.py copied into .carry/c4.
#  1. in-place AdamW + direct uploads (new) against 55191b0 (old), replayed, tiny..base, same call;
#  2. the freezing share, TF.js replayed and PyTorch eager, each as aflora-both / aflora-pm-frozen side by side in
#     ABBA rounds (--freeze-pairs): the one-after-the-other rows of the headline moved with the call's drift;
#  3. one profiled engine step of tiny and mini per method (GPU ms per kernel): where the scored AFLoRA step's
#     extra GPU wait (tiny 5.0 against 1.0 ms frozen in the headline's call 2) goes.
set -u
. bench/device-setup.sh && start_record .carry/c4 /tmp/r
M=lora-r8,aflora-both,aflora-pm-frozen
bench_part new 150 bench.mjs --model tiny,mini,small,base --method $M --variant replayed --steps 10 --warmup 3 --no-profile
bench_part old 150 old.mjs --model tiny,mini,small,base --method $M --variant replayed --steps 10 --warmup 3 --no-profile
bench_part pairs 120 bench.mjs --model tiny,mini,small,base --variant replayed --steps 5 --warmup 3 --freeze-pairs 8
pytorch_part 100 pairs --models tiny,mini,small,base --steps 5 --warmup 3 --freeze-pairs 8
bench_part prof 60 bench.mjs --model tiny,mini --method $M --variant engine --steps 2 --warmup 1
tar czf "$OUT/results.tgz" -C "$R" .
