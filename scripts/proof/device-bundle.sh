#!/usr/bin/env sh
# Bundles the two training proofs (finetune-builtin.ts, compare-builtin.ts) for the device machine (no Node, no
# node_modules, no network), next to the runner that executes them there:
#   scripts/proof/device-bundle.sh [DIR]     DIR default .carry/proof (git-ignored)
# -> DIR/finetune.mjs, DIR/compare.mjs, DIR/node_modules/webgpu/{index.js,package.json},
#    DIR/device-proofs.sh. Needs .device/ (../shared/device/prepare.sh: node.xz, gl/*.deb, dawn.node.xz).
# Device call (from the repository root, carry [".device", "DIR"]):  sh DIR/device-proofs.sh DIR
# The model and the data are the tracked public/models/builtin and public/datasets (in the device's copy already).
set -eu
cd "$(dirname "$0")/../.."
DIR=${1:-.carry/proof}
mkdir -p "$DIR/node_modules/webgpu"
for name in finetune compare; do
  # `webgpu` stays external: it loads dawn.node relative to its own index.js.
  npx esbuild "scripts/proof/$name-builtin.ts" --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --outfile="$DIR/$name.mjs" --log-level=warning \
    --banner:js="import { createRequire as __proofCreateRequire } from 'module'; const require = __proofCreateRequire(import.meta.url);"
done
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$DIR/node_modules/webgpu/"
cp scripts/proof/device-proofs.sh "$DIR/device-proofs.sh"
du -sh "$DIR"
