#!/usr/bin/env bash
# check_layers.sh [ROOT]: fails when an #include crosses a forbidden edge of
# the layer graph (docs/DESIGN.md, "Layers"). ROOT is the source tree to check
# (default: the repository this script is in). CTest runs it as the test
# layers.check_layers; tests/scripts/check_layers_test.sh plants forbidden
# includes in a copy of the tree and expects it to fail.
#
# The two tables below are the rules; the code after them only applies them.
#
# LAYERS: per source folder (or single file), what it may include from the
# project besides the headers of its own folder, and whether it may include
# headers from outside the project at all. The most specific row applies
# (tools/bench/ over tools/, query/database.h over query/); a file row allows
# only what it lists. In the last column a name ending in "/" is a folder,
# anything else one header; "-" is nothing. In the "outside" column, "std"
# allows only the standard library (the C++ headers and the POSIX ones in
# STD_HEADERS), "any" allows any header not CONFINED elsewhere. Every .h / .cc
# outside tests/ must fall under a row: a new folder needs one.
#
# In words: base/ is the standard library only; storage/, index/, encoders/
# and filter/ use base/ and never one another; query/ wires them together;
# the public header query/database.h uses base/status.h only (it is installed
# with it as <flashembed/database.h>); everything above query/ (milvus/,
# ingest/, transfer/, server/, tools/) uses query/ only through that header;
# server/ and transfer/ share milvus/; mcp/ (the MCP tools) reads files
# through ingest/, and server/ and tools/ use it only through
# mcp/mcp_server.h; python/ (the Python module) sees the public header and
# ingest/ like tools/; tools/ uses the server only through server/server.h;
# benchmarks may also measure one lower module alone.
LAYERS='
# path              outside   may include from the project
base/               std       -
storage/            any       base/
index/              any       base/
encoders/           any       base/
filter/             any       base/
query/              any       base/ storage/ index/ encoders/ filter/
query/database.h    std       base/status.h
milvus/             any       base/ query/database.h
ingest/             any       base/ query/database.h
mcp/                any       base/ query/database.h ingest/
transfer/           any       base/ query/database.h milvus/
server/             any       base/ query/database.h milvus/ mcp/mcp_server.h
tools/              any       base/ query/database.h ingest/ transfer/ server/server.h mcp/mcp_server.h
python/             any       base/ query/database.h ingest/
tools/bench/        any       base/ query/database.h index/ encoders/ filter/ ingest/ transfer/ server/server.h
'
# CONFINED: third-party libraries whose headers only these files or folders
# include, so that no header of ours carries their types (and no Boost
# outside the two HTTP transports: not in query/, nor anywhere else).
CONFINED='
# header prefix     may be included only in
rocksdb/            storage/store.cc
hnswlib/            index/hnsw_index.cc tools/bench/
faiss/              index/ivf_index.cc tools/bench/
oneapi/             encoders/linear.cc
fasttext/           encoders/learned_encoder.cc encoders/learned_model_format.cc
boost/              server/http_server.cc transfer/http_client.cc
jpeglib.h           encoders/image_decode.cc
jerror.h            encoders/image_decode.cc
png.h               encoders/image_decode.cc
webp/               encoders/image_decode.cc
gif_lib.h           encoders/image_decode.cc
'
# "std": a C++ standard header (no extension), or one of these POSIX headers.
STD_HEADERS='^([a-z_0-9]+|(pthread|unistd|fcntl|errno|sched|signal|time)\.h|sys/[a-z_0-9]+\.h)$'

set -uo pipefail
root=${1:-"$(dirname "$0")/.."}
if ! cd "$root" 2>/dev/null; then
  echo "check_layers: no source tree at $root" >&2
  exit 2
fi

declare -A outside=() allowed=() project=([tests]=1)
rows=()
while read -r path out allow; do
  [[ -z "$path" || "$path" == \#* ]] && continue
  rows+=("$path")
  outside[$path]=$out
  allowed[$path]=${allow/#-/}
  project[${path%%/*}]=1
done <<<"$LAYERS"
declare -A confined=()
while read -r prefix places; do
  [[ -z "$prefix" || "$prefix" == \#* ]] && continue
  confined[$prefix]=$places
done <<<"$CONFINED"

# row_of FILE: sets `row` to the most specific row covering FILE (a folder
# row covers the files below it, a file row only itself), or "" for none.
row_of() {
  local candidate
  row=""
  for candidate in "${rows[@]}"; do
    if [[ "$1" == "$candidate" || ("$candidate" == */ && "$1" == "$candidate"*) ]] &&
      ((${#candidate} > ${#row})); then
      row=$candidate
    fi
  done
}

# under HEADER_OR_FILE LIST: whether it is one of LIST's entries or lies in
# one of its folders.
under() {
  local entry
  for entry in $2; do
    if [[ "$1" == "$entry" || ("$entry" == */ && "$1" == "$entry"*) ]]; then return 0; fi
  done
  return 1
}

violations=0
refuse() {  # FILE:LINE, message
  echo "check_layers: $1: $2" >&2
  violations=$((violations + 1))
}

# Sources: every C++ file outside tests/, hidden folders, node_modules and
# build trees (any folder holding a CMakeCache.txt).
mapfile -t files < <(find . \( -path './.?*' -o -path ./tests -o -name node_modules \
  -o -type d -exec test -e '{}/CMakeCache.txt' ';' \) -prune -o -type f \
  \( -name '*.h' -o -name '*.cc' -o -name '*.hpp' -o -name '*.cpp' \) -print | sed 's|^\./||' | sort)
declare -A row_for=()
for file in "${files[@]}"; do
  row_of "$file"
  row_for[$file]=$row
  if [[ -z "$row" ]]; then
    refuse "$file" "no row of LAYERS in scripts/check_layers.sh covers this file's folder"
  fi
done

include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"]'
includes=0
while IFS=: read -r file line text; do
  [[ "$text" =~ $include_re ]] || continue
  header=${BASH_REMATCH[1]}
  row=${row_for[$file]}
  includes=$((includes + 1))
  [[ -z "$row" ]] && continue
  if [[ "$header" == */* && -n "${project[${header%%/*}]:-}" ]]; then
    if [[ "$row" == */ && "$header" == "$row"* ]] || under "$header" "${allowed[$row]}"; then
      continue
    fi
    may=${allowed[$row]}
    [[ "$row" == */ ]] && may="$row $may"
    refuse "$file:$line" "includes $header; from the project, $row may include only ${may% }"
    continue
  fi
  if [[ "${outside[$row]}" == std && ! "$header" =~ $STD_HEADERS ]]; then
    refuse "$file:$line" "includes $header; $row may include only the standard library"
    continue
  fi
  for prefix in "${!confined[@]}"; do
    if [[ "$header" == "$prefix"* ]] && ! under "$file" "${confined[$prefix]}"; then
      refuse "$file:$line" "includes $header; $prefix headers belong only in ${confined[$prefix]}"
    fi
  done
done < <(((${#files[@]} > 0)) && grep -nHE "$include_re" -- "${files[@]}")

if ((violations > 0)); then
  echo "check_layers: $violations forbidden include(s); the rules are the tables in" \
    "scripts/check_layers.sh (docs/DESIGN.md explains them)" >&2
  exit 1
fi
echo "check_layers: ok (${#files[@]} files, $includes includes)"
