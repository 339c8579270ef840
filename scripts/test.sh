#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite: installs
# the dependencies, checks the layer graph, builds with warnings as errors, and runs every GoogleTest
# suite through CTest, the slow ones included (`ctest -LE slow` in build/ leaves
# them out; `ctest -L index` runs one suite). CTest runs check_layers.sh too
# (label layers); it runs here first as well because it takes a second and a
# forbidden include is then reported before, not after, the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check_layers.sh
bash scripts/build.sh -DFLASHEMBED_BUILD_TESTS=ON -DFLASHEMBED_WERROR=ON
cd "${FLASHEMBED_BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 600
