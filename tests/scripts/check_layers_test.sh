#!/usr/bin/env bash
# check_layers_test.sh SOURCE_DIR: scripts/check_layers.sh can fail. It must
# pass on a copy of the tree's C++ files; then every case below plants one
# include in that copy (a new file per case, or a line appended to a file
# that has a row of its own, like query/database.h) and one run must refuse
# exactly the "fail" cases, each by file and line. New files keep the cases
# true while files move; the milvus/ and filter/ cases hold whether or not
# those folders exist yet.
set -euo pipefail
src=$(cd "$1" && pwd)
script="$src/scripts/check_layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tree="$tmp/tree"
mkdir "$tree"
(cd "$src" && find . \( -path './.?*' -o -path ./tests -o -name node_modules \
  -o -type d -exec test -e '{}/CMakeCache.txt' ';' \) -prune -o -type f \
  \( -name '*.h' -o -name '*.cc' \) -print | tar -cf - -T -) | tar -xf - -C "$tree"

if ! bash "$script" "$tree" >"$tmp/out" 2>&1; then
  echo "FAIL: the unchanged copy is refused:" >&2
  cat "$tmp/out" >&2
  exit 1
fi

cases=()
# expect pass|fail|norow FILE INCLUDE-LINE: FILE (under the copy's root; a
# new planted_N file when FILE ends in "/") gets INCLUDE-LINE appended.
expect() {
  local verdict=$1 file=$2 line=$3
  if [[ $file == */ ]]; then file="${file}planted_${#cases[@]}.cc"; fi
  mkdir -p "$tree/$(dirname "$file")"
  printf '%s\n' "$line" >>"$tree/$file"
  cases+=("$verdict $file:$(wc -l <"$tree/$file") $line")
}

# base/ is the standard library only.
expect fail base/ '#include "storage/store.h"'
expect fail base/ '#include <nlohmann/json.hpp>'
expect fail base/ '#include <utf8proc.h>'
expect pass base/ '#include <pthread.h>'
# The three lower modules never include one another or anything above.
expect fail storage/ '#include "index/vector_index.h"'
expect fail index/ '#include "encoders/encoder.h"'
expect fail encoders/ '#include "query/database.h"'
# fastText only in the learned encoder's .cc, so in no header.
expect fail encoders/ '#include <fasttext/fasttext.h>'
expect fail encoders/learned_encoder.h '#include <fasttext/args.h>'
# query/: no server, tools or Boost; the public header uses base/status.h only.
expect fail query/ '#include "server/server.h"'
expect fail query/ '#include <boost/asio/io_context.hpp>'
expect fail query/database.h '#include "query/validate.h"'
expect fail query/database.h '#include <nlohmann/json_fwd.hpp>'
expect pass query/ '#include "storage/store.h"'
# server/ and tools/ (not tools/bench/) use query/ only through database.h.
expect fail server/ '#include "query/collection_impl.h"'
expect fail server/ '#include "query/validate.h"'
expect fail server/ '#include "encoders/encoder.h"'
expect fail server/ '#include <boost/beast/http.hpp>'
expect fail tools/ '#include "query/text_model.h"'
expect fail tools/ '#include "server/router.h"'
expect fail tools/ '#include <faiss/IndexFlat.h>'
expect pass tools/ '#include "server/server.h"'
expect pass tools/bench/ '#include "index/hnsw_index.h"'
expect pass tools/bench/ '#include <faiss/IndexFlat.h>'
expect fail tools/bench/ '#include "storage/store.h"'
expect fail tools/bench/ '#include "query/collection_impl.h"'
expect fail tools/bench/ '#include <rocksdb/db.h>'
# ingest/ and transfer/ see query/ only through the public header.
expect fail ingest/ '#include "query/filter_rows.h"'
expect fail transfer/ '#include "ingest/readers.h"'
# milvus/ (base/, the public header, nlohmann) is shared by server/ and transfer/.
expect pass milvus/ '#include <nlohmann/json.hpp>'
expect fail milvus/ '#include "query/collection_impl.h"'
expect fail milvus/ '#include "server/json_util.h"'
expect pass server/ '#include "milvus/schema.h"'
expect pass transfer/ '#include "milvus/schema.h"'
expect fail query/ '#include "milvus/schema.h"'
# filter/ (the filter language) uses base/ only and is used by query/.
expect fail filter/ '#include "query/database.h"'
expect fail filter/ '#include "storage/store.h"'
expect pass query/ '#include "filter/filter.h"'
expect fail server/ '#include "filter/filter.h"'
# A folder without a row is refused, whatever it includes.
expect norow newfolder/ '#include <string>'
# tests/ and build trees are not checked.
expect pass tests/planted/planted_test.cc '#include "query/collection_impl.h"'
mkdir -p "$tree/build-planted" && touch "$tree/build-planted/CMakeCache.txt"
expect pass build-planted/planted.cc '#include "query/collection_impl.h"'

status=0
bash "$script" "$tree" >"$tmp/out" 2>&1 || status=$?
failures=0
for entry in "${cases[@]}"; do
  read -r verdict where line <<<"$entry"
  case $verdict in
    fail) grep -qF "check_layers: $where: includes" "$tmp/out" ;;
    norow) grep -qF "check_layers: ${where%:*}: no row" "$tmp/out" ;;
    pass) ! grep -qF "${where%:*}" "$tmp/out" ;;
  esac || {
    echo "FAIL: expected $verdict for '$line' in $where" >&2
    failures=$((failures + 1))
  }
done
if ((status != 1)); then
  echo "FAIL: check_layers.sh exited $status, not 1" >&2
  failures=$((failures + 1))
fi
if ((failures > 0)); then
  echo "check_layers_test: $failures of ${#cases[@]} case(s) failed; check_layers.sh said:" >&2
  cat "$tmp/out" >&2
  exit 1
fi
echo "check_layers_test: ok (${#cases[@]} cases)"
