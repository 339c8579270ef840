#!/usr/bin/env bash
# CTest driver for the tests that drive `flashembed serve` with an official
# Node client (the Milvus SDK, the `openai` client): starts the server with
# `--port 0` on a temporary database, installs the client's pinned packages
# (npm ci) into WORK_DIR (a folder in the build tree, reused between runs)
# when missing, and runs `node SCRIPT URL CLI` there. Exit 77 (CTest:
# skipped) without node/npm.
#   node_client_test.sh FLASHEMBED_BINARY SOURCE_DIR WORK_DIR SCRIPT [SERVE_ARGS...]
set -euo pipefail
cli=$1 src=$2 work=$3 script=$4
shift 4
name=$(basename "$src")

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "$name: node/npm not installed (scripts/setup.sh installs them); skipping" >&2
  exit 77
fi
mkdir -p "$work"
# npm ci only when the pinned lock file changed or node_modules is missing,
# so repeated runs work offline.
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/$script" "$work/"

tmp=$(mktemp -d "/tmp/flashembed-$name-XXXXXX")
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$cli" serve --db "$tmp/db" --port 0 --no-access-log "$@" >"$tmp/stdout" 2>"$tmp/stderr" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/stdout" | head -1)
  [[ -n "$port" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "$name: flashembed serve exited early:" >&2
    cat "$tmp/stderr" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$port" ]] || { echo "$name: no port printed by flashembed serve" >&2; exit 1; }

status=0
(cd "$work" && node "$script" "http://127.0.0.1:$port" "$cli") || status=$?

# Graceful shutdown on SIGTERM must exit 0.
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
if ((server_status != 0)); then
  echo "$name: flashembed serve exited with $server_status after SIGTERM:" >&2
  cat "$tmp/stderr" >&2
  exit 1
fi
exit $status
