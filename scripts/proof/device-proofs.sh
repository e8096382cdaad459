#!/usr/bin/env sh
# Runs ON the device machine (one H200, no Node, no network), from the repository root, with
# carry [".device", "DIR"] prepared by scripts/proof/device-bundle.sh DIR:
#   sh DIR/device-proofs.sh DIR [sanity] [finetune] [compare] [lora]     (default: the first three)
# lora: only the LoRA arm of the compare grid (its 3 seeds, its own adapter LR), into compare-lora/ (issue #11).
# Writes into $OUT: gpu.txt, finetune-{pretrained,random}.json, compare.log, sanity.txt and proofs.tar.gz with
# everything (sanity-{cpu,webgpu}/, compare/compare-spam-ham.{json,md,csv}, the logs): the device tool returns at
# most 8 files. Each proof is its own process with a time limit; the compare grid rewrites its JSON after every run.
# The two fine-tuning halves run side by side (independent, seeded: the numbers are those of one process); the
# compare grid runs alone, so its ms/step has the GPU to itself.
set -u
DIR=${1:?usage: device-proofs.sh DIR [sanity] [finetune] [compare]}
shift
PARTS=${*:-sanity finetune compare}
OUT=${OUT:-/tmp/proof-out}
mkdir -p "$OUT"

. bench/device-setup.sh && setup_node "$DIR"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1 || true
/tmp/node --version >> "$OUT/gpu.txt"

# 3 epochs of spam-ham at batch 16 = 282 steps; t_i 47, t_f 70, ΔT 10: 17 masking rounds on the ramp (steps 47..212).
FINETUNE="--dataset spam-ham --epochs 3 --batch 16 --max-length 64 --ti-steps 47 --tf-steps 70 --delta-t 10 --optimizer adamw_hf --backend webgpu"
# The whole train split (1500 rows), 3 epochs at batch 16 (282 steps per run), t_i / t_f 1/8 and 1/4 of the run, ΔT 10.
COMPARE="--dataset spam-ham --train all --validation all --epochs 3 --batch 16 --max-length 64 --seeds 1,2,3 --delta-t 10 --arms aflora,pm-trainable,lora,elora,adalora --backend webgpu"

# Without dropout (its masks come from other generators on the two backends) 8 steps on this GPU must match cpu's.
SANITY="--dataset spam-ham --train 64 --validation 32 --epochs 2 --batch 16 --max-length 32 --seeds 1 --arms aflora,lora --delta-t 2 --dropout 0"

for part in $PARTS; do
  case $part in
    sanity)
      echo "== sanity: $SANITY on cpu and webgpu"
      for backend in cpu webgpu; do
        # shellcheck disable=SC2086
        timeout "${SANITY_LIMIT:-120}" /tmp/node "$DIR/compare.mjs" $SANITY --backend $backend \
          --out "$OUT/sanity-$backend" > "$OUT/sanity-$backend.log" 2>&1 &
      done
      wait
      grep -h 'seed 1:' "$OUT"/sanity-*.log
      # Largest step-loss difference per arm between the two backends.
      /tmp/node -e '
        const fs = require("fs");
        const runs = (b) => JSON.parse(fs.readFileSync(process.argv[1] + "/sanity-" + b + "/compare-spam-ham.json", "utf8")).runs;
        const cpu = runs("cpu"), gpu = runs("webgpu");
        for (const c of cpu) {
          const g = gpu.find((r) => r.arm === c.arm);
          if (!g) continue;
          const d = Math.max(...c.losses.map((l, i) => Math.abs(l - g.losses[i])));
          console.log(c.arm + ": " + c.losses.length + " steps, max |loss cpu - loss webgpu| " + d.toExponential(2));
        }' "$OUT" | tee "$OUT/sanity.txt" ;;
    finetune)
      echo "== finetune: $FINETUNE"
      for half in pretrained random; do
        # shellcheck disable=SC2086
        timeout "${FINETUNE_LIMIT:-100}" /tmp/node "$DIR/finetune.mjs" $FINETUNE --only $half \
          --out "$OUT/finetune-$half.json" > "$OUT/finetune-$half.log" 2>&1 &
      done
      wait
      tail -n 6 "$OUT"/finetune-*.log ;;
    compare)
      echo "== compare: $COMPARE"
      # shellcheck disable=SC2086
      timeout "${COMPARE_LIMIT:-260}" /tmp/node "$DIR/compare.mjs" $COMPARE --out "$OUT/compare" > "$OUT/compare.log" 2>&1
      echo "   exit $?"
      grep -v '^$' "$OUT/compare.log" | tail -n 24 ;;
    lora)
      echo "== compare, LoRA arm only: $COMPARE --arms lora"
      # shellcheck disable=SC2086
      timeout "${COMPARE_LIMIT:-260}" /tmp/node "$DIR/compare.mjs" $COMPARE --arms lora --out "$OUT/compare-lora" > "$OUT/compare-lora.log" 2>&1
      echo "   exit $?"
      grep -v '^$' "$OUT/compare-lora.log" | tail -n 16 ;;
    *) echo "unknown part $part (sanity | finetune | compare | lora)"; exit 2 ;;
  esac
done
tar czf /tmp/proofs.tar.gz -C "$OUT" . && mv /tmp/proofs.tar.gz "$OUT"/ &&
  (cd "$OUT" && rm -rf sanity-cpu sanity-webgpu compare compare-lora sanity-*.log finetune-*.log)
ls -la "$OUT"
