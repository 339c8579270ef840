#!/usr/bin/env bash
# CTest driver: the native API examples of docs/API.md, and its error cases,
# sent with curl to a real `flashembed serve --port 0` on a temporary folder.
# Every request checks the HTTP status and a fragment of the body.
#   curl_api_test.sh FLASHEMBED_BINARY
set -euo pipefail
cli=$1
# The CLIP model folder and images of the encoder tests (image search).
testdata=$(cd "$(dirname "$0")/../encoders/testdata" && pwd)

if ! command -v curl >/dev/null; then
  echo "curl_api_test: curl is not installed (scripts/setup.sh installs it)" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/flashembed-curl-test-XXXXXX)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$cli" serve --db "$tmp/db" --port 0 --no-access-log --allow-model "$testdata" \
  >"$tmp/stdout" 2>"$tmp/stderr" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/stdout" | head -1)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/stderr" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "curl_api_test: no port printed" >&2; exit 1; }
base="http://127.0.0.1:$port"

failures=0
# check METHOD PATH BODY WANT_STATUS WANT_FRAGMENT
check() {
  local method=$1 path=$2 body=$3 want_status=$4 want=$5 status
  if [[ -n "$body" ]]; then
    status=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" "$base$path" -d "$body")
  else
    status=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" "$base$path")
  fi
  if [[ "$status" != "$want_status" ]] || ! grep -qF -- "$want" "$tmp/body"; then
    echo "FAIL: $method $path -> $status (want $want_status containing '$want'):" >&2
    head -c 500 "$tmp/body" >&2
    echo >&2
    failures=$((failures + 1))
  fi
}

# Collections.
check POST /api/v1/collections '{"name": "notes"}' 201 '"name":"notes"'
check POST /api/v1/collections '{"name": "vecs", "dim": 4, "metric": "l2", "encoder": "none",
  "index": "hnsw", "hnsw": {"m": 16, "ef_construction": 200, "ef_search": 100}}' 201 '"metric":"l2"'
check GET /api/v1/collections '' 200 '"collections":['
check GET /api/v1/collections/vecs '' 200 '"dim":4'
# Documents.
check POST /api/v1/collections/notes/documents '{"documents": [
  {"id": 1, "text": "the quick brown fox", "metadata": {"lang": "en", "year": 2020}},
  {"id": "doc-2", "text": "der schnelle braune Fuchs", "metadata": {"lang": "de"}},
  {"id": 3, "text": "an old fox story", "metadata": {"lang": "en", "year": 1990}}]}' 200 '"written":3'
check POST /api/v1/collections/vecs/documents '{"upsert": true,
  "documents": [{"id": 7, "vector": [0.1, 0.2, 0.3, 0.4], "metadata": {"tag": "a"}},
                {"id": 8, "vector": [0.2, 0.2, 0.3, 0.4], "metadata": {"tag": "a"}},
                {"id": 9, "vector": [0.9, 0.2, 0.3, 0.4], "metadata": {"tag": "b"}}]}' 200 '"written":3'
check POST /api/v1/collections/notes/get '{"ids": [1, "doc-2", 99], "with_vector": false}' 200 \
  '"text":"the quick brown fox"'
check GET /api/v1/collections/notes/documents/1 '' 200 '"lang":"en"'
check GET /api/v1/collections/notes/stats '' 200 '"count":3'
# Search: filter with a template, grouping.
check POST /api/v1/collections/notes/search '{"text": "fast fox", "k": 5,
  "filter": "lang == \"en\" and year >= {y}", "filter_params": {"y": 2000}}' 200 '"id":1'
check POST /api/v1/collections/vecs/search '{"vector": [0.1, 0.2, 0.3, 0.4], "k": 3,
  "group_by": "tag", "group_size": 2, "with_vector": true}' 200 '"group":"a"'
# Full-text and hybrid search, find and count (collection with a BM25 index).
check POST /api/v1/collections '{"name": "kb", "text_index": true,
  "indexed_fields": ["lang", "year"]}' 201 '"indexed_fields":["lang","year"]'
check POST /api/v1/collections/kb/documents '{"documents": [
  {"id": 1, "text": "the quick brown fox", "metadata": {"lang": "en", "year": 2020}},
  {"id": 2, "text": "a fox and a dog", "metadata": {"lang": "en", "year": 2012}},
  {"id": 3, "text": "der schnelle braune Fuchs", "metadata": {"lang": "de", "year": 2021}},
  {"id": 4, "text": "stock markets fell", "metadata": {"lang": "en", "year": 1999}}]}' 200 '"written":4'
check POST /api/v1/collections/kb/search '{"ranking": "text", "keywords": "fox", "k": 5}' 200 \
  '"text_score":'
check POST /api/v1/collections/kb/search '{"ranking": "hybrid", "text": "quick fox",
  "fusion": "rrf", "rrf_k": 60, "k": 5}' 200 '"vector_score":'
check POST /api/v1/collections/kb/search '{"ranking": "hybrid", "text": "a fast animal",
  "keywords": "dog", "fusion": "weighted", "text_weight": 0.7, "filter": "lang == \"en\""}' 200 '"id":2'
check POST /api/v1/collections/kb/search '{"ranking": "bm25", "text": "fox"}' 400 'ranking'
check POST /api/v1/collections/notes/search '{"ranking": "text", "keywords": "fox"}' 400 'text index'
check POST /api/v1/collections/kb/find '{"filter": "lang == \"en\" and year >= {y}",
  "filter_params": {"y": 2010}, "offset": 0, "limit": 2, "with_text": true, "with_metadata": true}' \
  200 '"documents":[{"id":1,'
check POST /api/v1/collections/kb/count '{"filter": "lang == \"en\""}' 200 '{"count":3}'
check POST /api/v1/collections/kb/count '{}' 200 '{"count":4}'
check POST /api/v1/collections/kb/find '{"limit": 0}' 400 'limit'
# Model folders need --allow-model.
check POST /api/v1/collections '{"name": "m", "encoder": "model:/etc"}' 403 'allow-model'
# Images (a CLIP model folder): a record from base64, a search with the image as the raw body.
png="$testdata/images/png_rgb8_37x29.png"
check POST /api/v1/collections "{\"name\": \"pics\", \"encoder\": \"model:$testdata/clip_folder\"}" \
  201 '"embeds_images":true'
check POST /api/v1/collections/pics/documents "{\"documents\": [{\"id\": 1,
  \"image\": \"$(base64 -w0 "$png")\", \"image_source\": \"a.png\"}]}" 200 '"written":1'
status=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: image/png' --data-binary "@$png" \
  "$base/api/v1/collections/pics/search?k=2&filter=kind%20%3D%3D%20%22image%22")
if [[ "$status" != 200 ]] || ! grep -qF '"hits":[{"id":1,' "$tmp/body"; then
  echo "FAIL: POST /api/v1/collections/pics/search (image/png body) -> $status:" >&2
  head -c 500 "$tmp/body" >&2
  echo >&2
  failures=$((failures + 1))
fi
# HEAD: the GET headers, no body.
head_out=$(curl -s -I "$base/health")
if ! grep -q '^HTTP/1.1 200' <<<"$head_out" || ! grep -qi '^content-length: 15' <<<"$head_out"; then
  echo "FAIL: HEAD /health: $head_out" >&2
  failures=$((failures + 1))
fi
# Delete by filter, then by ids.
check POST /api/v1/collections/notes/delete '{"filter": "year < 2000"}' 200 '"deleted":1'
check POST /api/v1/collections/notes/delete '{"ids": [1, "doc-2"]}' 200 '"deleted":2'
check GET /api/v1/collections/notes/stats '' 200 '"count":0'
# Long documents: put (added, then unchanged), get, the chunk records, search, delete.
guide='{"documents": [
  {"id": "guide.md", "text": "# Setup\n\nInstall the package with apt. Then start the server with flashembed serve. It listens on port 19530 by default.\n\n# Backups\n\nStop writes before you copy the folder. Or run flashembed export, which reads one point in time.\n\n# Upgrades\n\nNewer builds open older folders. Read the changes before you upgrade.",
   "source": "docs/guide.md", "title": "Operations guide", "metadata": {"lang": "en", "year": 2024}}],
  "chunk_tokens": 16, "overlap_tokens": 4}'
check POST /api/v1/collections/notes/long_documents "$guide" 200 '"outcome":"added"'
check POST /api/v1/collections/notes/long_documents "$guide" 200 '"outcome":"unchanged"'
check GET /api/v1/collections/notes/long_documents/guide.md '' 200 '"chunks":[{"begin":0,"chunk":0,'
check GET '/api/v1/collections/notes/long_documents/guide.md?with_vector=true' '' 200 '"vector":['
check GET /api/v1/collections/notes/documents/guide.md%230 '' 200 \
  '"text":"# Setup\n\nInstall the package with apt.'
check GET /api/v1/collections/notes/stats '' 200 '"documents":1'
check POST /api/v1/collections/notes/long_documents/search '{"text": "how do I back up the folder",
  "k": 3, "passages": 2, "neighbors": 1, "filter": "lang == \"en\""}' 200 \
  '"before":[{"begin":61,"chunk":1,'
check POST /api/v1/collections/notes/long_documents/search '{"text": "upgrade",
  "pooled": true, "with_text": false}' 200 '"id":"guide.md"'
check POST /api/v1/collections/notes/long_documents '{"documents": [{"id": "x"}]}' 400 'is required'
check POST /api/v1/collections/notes/long_documents \
  '{"documents": [{"id": "x", "text": "a b", "metadata": [1]}]}' 400 'must be an object'
check POST /api/v1/collections/notes/long_documents/search '{"text": "x", "passages": 0}' 400 'passages'
check POST /api/v1/collections/vecs/long_documents '{"documents": [{"id": "x", "text": "a b"}]}' 501 \
  'no encoder'
check POST /api/v1/collections/missing/long_documents/search '{"text": "x"}' 404 'missing'
check POST /api/v1/collections/notes/documents '{"upsert": true,
  "documents": [{"id": "guide.md#0", "text": "x"}]}' 400 'chunk'
check DELETE /api/v1/collections/notes/long_documents/guide.md '' 200 '"deleted":1'
check GET /api/v1/collections/notes/long_documents/guide.md '' 404 'guide.md'
check POST /api/v1/collections/notes/long_documents/delete '{"ids": ["a.md", "b.md"]}' 200 '"deleted":0'
check GET /api/v1/collections/notes/stats '' 200 '"count":0'
# Errors name what was wrong and change nothing.
check POST /api/v1/collections/vecs/documents '{"documents": [{"id": 10, "vector": [1, 2]}]}' 400 'dim'
check POST /api/v1/collections/vecs/documents '{"documents": [' 400 'JSON'
check POST /api/v1/collections/vecs/search '{"vector": [0.1, 0.2, 0.3, 0.4], "filter": "tag =="}' 400 \
  'column'
check POST /api/v1/collections/vecs/documents '{"documents": [{"id": 7, "vector": [1, 2, 3, 4]}]}' \
  409 '7'
check GET /api/v1/collections/missing '' 404 'missing'
check GET /api/v1/nothing/here '' 404 ''
check GET /api/v1/collections/vecs/stats '' 200 '"count":3'
# Health, metrics, drop.
check GET /health '' 200 '"status":"ok"'
check GET /metrics '' 200 'flashembed_http_requests_total'
check DELETE /api/v1/collections/vecs '' 200 '"dropped":"vecs"'
check GET /api/v1/collections/vecs '' 404 ''

kill -TERM "$server_pid"
wait "$server_pid" || { echo "curl_api_test: serve exited $? after SIGTERM" >&2; exit 1; }
server_pid=""
if ((failures > 0)); then
  echo "curl_api_test: $failures request(s) failed" >&2
  exit 1
fi
echo "curl_api_test: all requests answered as documented"
