#!/usr/bin/env bash
# Installs every Debian 12 package flashembed needs to build, test and run.
# Idempotent: installs only what is missing, and runs apt-get update only then.
# Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # the layout check (scripts/check_format.sh): clang-format 14
  clang-format
  # libraries (see docs/DESIGN.md: dependencies come from Debian packages only)
  librocksdb-dev libhnswlib-dev nlohmann-json3-dev libcli11-dev libutf8proc-dev libfmt-dev
  # oneDNN; its CMake package (dnnl-config.cmake) requires OpenCL, which
  # libdnnl-dev only recommends, so --no-install-recommends leaves it out
  libdnnl-dev ocl-icd-opencl-dev
  libboost-dev
  libxml2-dev libpoppler-cpp-dev
  libfaiss-dev libopenblas-dev
  # the corpus-trained ("learned") encoder's word vectors
  libfasttext-dev
  # image decoding for the CLIP image encoder (encoders/image_decode.cc)
  libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev
  # tests (python3-numpy: the export tests load the .npy files with numpy)
  libgtest-dev python3-numpy
  # the Python package (python/: pybind11 module, pytest tests, `pip install
  # --no-build-isolation ./python` with Debian's setuptools and wheel)
  pybind11-dev python3-dev python3-pytest python3-setuptools python3-wheel python3-pip
  # HTTP benchmark (tools/bench/http_search_bench); curl for the server's API test
  wrk curl
)
# The server's Milvus SDK test (tests/server/milvus_sdk) runs the official Node
# SDK. Debian's nodejs/npm only when missing: nodesource's nodejs bundles npm,
# and Debian's npm on top of it would conflict.
if ! command -v node >/dev/null; then PACKAGES+=(nodejs); fi
if ! command -v npm >/dev/null; then PACKAGES+=(npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: error: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
