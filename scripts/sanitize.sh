#!/usr/bin/env bash
# Builds the test suites with a sanitizer and runs them:
#   bash scripts/sanitize.sh address   # ASan + UBSan: every suite labelled asan
#   bash scripts/sanitize.sh thread    # TSan: every suite labelled tsan
# Uses build-asan/ or build-tsan/. Suites are chosen by CTest label, not by
# name: every GoogleTest suite carries both labels unless its CMakeLists.txt
# opts it out (flashembed_add_gtest in tests/CMakeLists.txt), and the target
# flashembed_tests_<kind> builds exactly those suites with the CLI and helper
# binaries they run, all sanitized.
#
# The library is built at -O1 -g1 (line tables only: full -g made GCC's
# variable tracking take 235 s instead of 65 s for one server test file under
# ASan+UBSan), the test code at -O0.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: sanitize.sh address|thread}
# Before OMP_NUM_THREADS is set below: nproc honours it (and printed 1 there,
# which ran the TSan suites one at a time).
jobs=$(nproc)
# TSan leaves out the tests labelled slow: recall sweeps against brute force
# (one thread) and SIGKILL loops (separate processes): 230 of its 530
# test-seconds, with no thread of their own to race. ASan runs them.
exclude=()
case "$kind" in
  address) dir=build-asan; label=asan ;;
  thread)  dir=build-tsan; label=tsan; exclude=(-LE '^slow$') ;;
  *) echo "sanitize.sh: error: unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DFLASHEMBED_SANITIZE="$kind" \
  -DFLASHEMBED_BUILD_TESTS=ON >/dev/null
ninja -C "$dir" -j"$jobs" "flashembed_tests_$kind"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0 suppressions=$PWD/tests/tsan.supp"
# Debian's libgomp (OpenMP, under oneDNN and the encoder's loops) is not built
# with -fsanitize=thread, so TSan cannot see its barriers and would report
# every parallel loop; under TSan each OpenMP region runs on its calling
# thread, while the tests' own std::threads still race each other for real.
if [ "$kind" = thread ]; then export OMP_NUM_THREADS=1; fi
cd "$dir"
ctest --output-on-failure --no-tests=error -j"$jobs" -L "^$label\$" "${exclude[@]}" --timeout 900
