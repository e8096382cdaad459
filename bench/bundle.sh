#!/usr/bin/env sh
# Bundles bench/run.ts (engine, kernels, tfjs, webgpu backend) into one ESM file for Node 20.
#   bench/bundle.sh                 -> .device/bench.mjs + .device/node_modules/webgpu/{index.js,package.json}
#                                      (the device machine has no node_modules; device-run.sh adds dawn.node)
#   bench/bundle.sh path/out.mjs    -> just the bundle (local runs resolve `webgpu` from ./node_modules)
#   ENTRY=bench/matmul.ts bench/bundle.sh path/out.mjs   -> another entry point (the matmul microbenchmark)
# Needs .device/ from ../shared/device/prepare.sh for the device run (node.xz, gl/*.deb, dawn.node.xz).
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-.device/bench.mjs}
mkdir -p "$(dirname "$OUT")"
# `webgpu` stays external: it loads dawn.node relative to its own index.js.
npx esbuild "${ENTRY:-bench/run.ts}" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --outfile="$OUT" --log-level=warning \
  --banner:js="import { createRequire as __benchCreateRequire } from 'module'; const require = __benchCreateRequire(import.meta.url);"
if [ "$OUT" = ".device/bench.mjs" ]; then
  mkdir -p .device/node_modules/webgpu
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json .device/node_modules/webgpu/
  if [ ! -f .device/dawn.node.xz ]; then
    xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .device/dawn.node.xz
  fi
fi
ls -la "$OUT"
