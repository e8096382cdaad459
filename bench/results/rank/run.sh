#!/usr/bin/env bash
# rank device call (#12: AdaLoRA and IncreLoRA replayed), TF.js first, then PyTorch, in ONE call:
#   tiny, mini, small: adalora, increlora (catalog defaults: AdaLoRA masks every step, deltaT 1), engine vs replayed
#   + PyTorch eager on the same shapes; then base (replayed only, fewer steps) + PyTorch base.
# carry [".device", ".carry/rank"] with bench.mjs, node_modules/webgpu/{index.js,package.json} and pytorch_bench.py in
# .carry/rank (BENCHMARKS.md "Reproduce").
# start_record, bench_part, pytorch_part: bench/device-setup.sh (the call ran the same commands from helpers defined in this file).
set -u
. bench/device-setup.sh && start_record .carry/rank /tmp/r
M=adalora,increlora
bench_part head 260 bench.mjs --model tiny,mini,small --method $M --variant engine,replayed --steps 10 --warmup 3
pytorch_part 130 head --models tiny,mini,small --methods $M --steps 15 --warmup 5
bench_part base 110 bench.mjs --model base --method $M --variant replayed --steps 6 --warmup 3 --no-profile
pytorch_part 60 base --models base --methods $M --steps 10 --warmup 5
