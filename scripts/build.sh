#!/usr/bin/env bash
# Configures and builds flashembed into build/ (or $FLASHEMBED_BUILD_DIR).
# Extra arguments go to cmake's configure step, e.g. -DFLASHEMBED_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FLASHEMBED_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${FLASHEMBED_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
ninja -C "$BUILD_DIR" -j"$(nproc)"
