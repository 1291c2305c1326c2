#!/usr/bin/env bash
# Fails when gen/ differs from what `npm run gen` produces from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PATH="$PWD/node_modules/.bin:$PATH" buf lint
PATH="$PWD/node_modules/.bin:$PATH" buf generate -o "$tmp"
if ! diff -r "$tmp/gen" gen >/dev/null; then
  diff -r "$tmp/gen" gen | head -20
  echo "gen/ is stale: run 'npm run gen' and commit the result" >&2
  exit 1
fi
echo "gen/ is up to date"
