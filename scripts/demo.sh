#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to search results: installs the
# dependencies, builds, ingests the bundled sample corpus into an embedded
# database folder (./flashembed-demo.db) with the default hashing encoder, and
# prints search results for the sample queries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DFLASHEMBED_BUILD_TESTS=OFF
exec "${FLASHEMBED_BUILD_DIR:-build}/tools/flashembed" demo "$@"
