#!/usr/bin/env bash
# install_test.sh BUILD_DIR CXX: installs BUILD_DIR into a temporary prefix,
# then builds tests/install/consumer.cc against the installed tree twice, as
# a CMake project (find_package(flashembed CONFIG), this folder's
# CMakeLists.txt) and as a plain compile with pkg-config, with the compiler
# CXX, and runs both programs. Warnings are not errors for the consumer.
set -euo pipefail
build=$1
cxx=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || {
  cat "$tmp/install.log"
  exit 1
}
for file in include/flashembed/database.h include/flashembed/base/status.h; do
  [[ -f "$prefix/$file" ]] || { echo "FAIL: $file is not installed" >&2; exit 1; }
done
# Nothing of the source or build tree may leak into the installed package.
if grep -rlF -e "$(cd "$here/../.." && pwd)" -e "$(cd "$build" && pwd)" "$prefix" \
  --include='*.cmake' --include='*.pc'; then
  echo "FAIL: the files above name the source or build tree" >&2
  exit 1
fi

echo "== CMake consumer (find_package)"
cmake -S "$here" -B "$tmp/cmake-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/configure.log" || {
  cat "$tmp/configure.log"
  exit 1
}
cmake --build "$tmp/cmake-build"
"$tmp/cmake-build/consumer"

echo "== pkg-config consumer"
pc_dir=$(dirname "$(find "$prefix" -name flashembed.pc)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs flashembed)
echo "$cxx -std=c++20 consumer.cc $flags"
# shellcheck disable=SC2086  # the flags are words
"$cxx" -std=c++20 "$here/consumer.cc" -o "$tmp/consumer-pc" $flags
"$tmp/consumer-pc"
echo "install_test: ok"
