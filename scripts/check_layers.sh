#!/usr/bin/env bash
# Fails when an #include crosses a forbidden edge of the layer graph in
# DESIGN.md: storage/, index/ and encoders/ never include one another or the
# layers above; query/ never includes server/ or tools/; server/ and tools/
# use only the public header (query/database.h) and base/ (tools/bench/ may
# also include index/ and encoders/); tools/ may include server/server.h;
# ingest/ (file readers) uses only base/ and query/database.h.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
check() {  # folder, regex of forbidden include prefixes
  local hits
  hits=$(grep -rnE "#include [\"<]($2)" "$1" ${3:+--exclude-dir="$3"} 2>/dev/null || true)
  if [[ -n "$hits" ]]; then
    echo "check_layers: $1/ includes a layer it must not know about:" >&2
    echo "$hits" >&2
    status=1
  fi
}
check storage 'index/|encoders/|query/|server/|tools/'
check index 'storage/|encoders/|query/|server/|tools/'
check encoders 'storage/|index/|query/|server/|tools/'
check query 'server/|tools/'
check server 'storage/|index/|encoders/|query/(collection_impl)|tools/|rocksdb/|hnswlib/|faiss/'
check ingest 'storage/|index/|encoders/|server/|tools/|rocksdb/|hnswlib/|faiss/'
check transfer 'storage/|index/|encoders/|server/|tools/|ingest/|rocksdb/|hnswlib/|faiss/'
check tools 'storage/|index/|encoders/|query/(collection_impl)|rocksdb/|faiss/' bench
# Benchmarks measure one component in isolation (the encoder's forward pass,
# an index against its raw library), so they may reach index/ and encoders/.
check tools/bench 'storage/|query/(collection_impl)|rocksdb/'
# tools/ (benchmarks included) may use the server only through its public
# header server/server.h, never its internals (routes, Beast transport).
server_hits=$(grep -rnE '#include ["<]server/' tools | grep -v 'server/server\.h' || true)
if [[ -n "$server_hits" ]]; then
  echo "check_layers: tools/ may include only server/server.h from server/:" >&2
  echo "$server_hits" >&2
  status=1
fi
# ingest/ sees query/ only through the public header.
ingest_hits=$(grep -rnE '#include ["<]query/' ingest | grep -v 'query/database\.h' || true)
if [[ -n "$ingest_hits" ]]; then
  echo "check_layers: ingest/ may include only query/database.h from query/:" >&2
  echo "$ingest_hits" >&2
  status=1
fi
# transfer/ (export/import) sees query/ only through the public header too.
transfer_hits=$(grep -rnE '#include ["<]query/' transfer | grep -v 'query/database\.h' || true)
if [[ -n "$transfer_hits" ]]; then
  echo "check_layers: transfer/ may include only query/database.h from query/:" >&2
  echo "$transfer_hits" >&2
  status=1
fi
if ((status == 0)); then echo "check_layers: ok"; fi
exit $status
