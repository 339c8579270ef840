#!/usr/bin/env bash
# Builds the library suites with a sanitizer and runs them:
#   bash scripts/sanitize.sh address   # ASan + UBSan, every C++ suite
#   bash scripts/sanitize.sh thread    # TSan, the suites with concurrency
# Uses build-asan/ or build-tsan/. The CLI suite is left out (it runs the
# normal binary); remote_tests (push / pull against the server, the HTTP
# client) run under ASan with the sanitized server and CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: sanitize.sh address|thread}
case "$kind" in
  address) dir=build-asan; targets="base_tests storage_tests index_tests encoders_tests query_tests ingest_tests remote_tests"
           filter='^(ingest\.|Status|Result|Hash64|Store|Records|HnswIndex|FlatIndex|IvfIndex|HashingEncoder|Chunker|WordPiece|SafeTensors|ModelFolder|Fixtures/BertModel|BertModel|BertText|TextFixture|TransformerEncoder|TextModel|Filter|FilteredSearch|Database|Persistence|Crash|Find|GetMany|DeleteWhere|RangeSearch|GroupedSearch|CollectionSchema|AnalyzeText|TextSearch|FieldIndexTest|Kinds/IndexKindsTest|IndexKinds|DocumentsTest|IngestCrash|tools\.RemoteTest|tools\.HttpClientTest|tools\.MilvusClientText)' ;;
  thread)  dir=build-tsan; targets="encoders_tests query_tests"
           filter='^(HashingEncoder|BertModel|TransformerEncoder|FilteredSearch|Database|Persistence|DocumentsTest|IngestCrash)' ;;
  *) echo "sanitize.sh: error: unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLASHEMBED_SANITIZE="$kind" \
  -DFLASHEMBED_BUILD_TESTS=ON >/dev/null
ninja -C "$dir" -j"$(nproc)" $targets
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0 suppressions=$PWD/tests/tsan.supp"
# Debian's libgomp (OpenMP, under oneDNN and the encoder's loops) is not built
# with -fsanitize=thread, so TSan cannot see its barriers and would report
# every parallel loop; under TSan each OpenMP region runs on its calling
# thread, while the tests' own std::threads still race each other for real.
if [ "$kind" = thread ]; then export OMP_NUM_THREADS=1; fi
cd "$dir"
ctest --output-on-failure -j"$(nproc)" -R "$filter" --timeout 900
