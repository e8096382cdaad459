#!/usr/bin/env bash
# Sourced ON the GPU machine by bench/device-run.sh and the bench/results/*/run.sh records of later calls:
#   setup_node [DIR]   Node (/tmp/node), the GL/Vulkan loader debs, and dawn.node under DIR/node_modules/webgpu
#                      (DIR: where the bench bundle and its node_modules/webgpu lie; default .device).
# Needs .device/ from ../shared/device/prepare.sh (node.xz, gl/*.deb, dawn.node.xz).
setup_node() {
  local dir=${1:-.device}
  if [ ! -x /tmp/node ]; then
    for f in .device/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    xz -d -c .device/node.xz > /tmp/node && chmod +x /tmp/node
  fi
  local dawn=$dir/node_modules/webgpu/dist/linux-x64/dawn.node
  if [ ! -f "$dawn" ]; then
    mkdir -p "$(dirname "$dawn")"
    xz -d -c .device/dawn.node.xz > "$dawn"
  fi
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
}
