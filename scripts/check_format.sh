#!/usr/bin/env bash
# Checks that every C++ file of the tree follows .clang-format, or with --fix
# rewrites the files that do not. Uses clang-format 14 (Debian 12's, which
# scripts/setup.sh installs): other versions lay some lines out differently.
#   bash scripts/check_format.sh [--fix] [ROOT]
set -euo pipefail
fix=0
if [[ "${1:-}" == "--fix" ]]; then
  fix=1
  shift
fi
cd "${1:-$(dirname "$0")/..}"
tool=$(command -v clang-format-14 || command -v clang-format || true)
if [[ -z "$tool" ]]; then
  echo "check_format: clang-format not found (scripts/setup.sh installs it)" >&2
  exit 1
fi
if ! "$tool" --version | grep -q 'version 14\.'; then
  echo "check_format: needs clang-format 14, found: $("$tool" --version)" >&2
  exit 1
fi
mapfile -t files < <(find base storage index encoders filter query milvus ingest server transfer \
  tools tests packaging python \( -name node_modules -prune \) -o \( -name '*.cc' -o -name '*.h' \) -print |
  sort)
if ((fix)); then
  "$tool" -i --style=file "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  if ! "$tool" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if ((${#bad[@]} > 0)); then
  echo "check_format: ${#bad[@]} of ${#files[@]} files do not follow .clang-format" \
    "(bash scripts/check_format.sh --fix rewrites them):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check_format: ok (${#files[@]} files)"
