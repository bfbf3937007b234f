#!/bin/sh
# Installs ajv@8 (a JSON Schema validator, the oracle of the constrained
# decoding test) into CACHE_DIR with npm, once. Without npm it only says so
# (the test then skips); a failed install fails.
# Usage: fetch_ajv.sh CACHE_DIR
set -eu
cache=$1
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the constrained decoding test will be skipped"
  exit 0
fi
[ -f "$cache/node_modules/ajv/package.json" ] && exit 0
mkdir -p "$cache"
cd "$cache"
[ -f package.json ] || echo '{"name":"allm-grammar-test-ajv","private":true}' > package.json
npm install --silent --no-audit --no-fund --no-save ajv@8
echo "installed ajv into $cache"
