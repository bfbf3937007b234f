#!/bin/sh
# Installs the official API clients the server tests drive allm serve with
# (openai@7, @anthropic-ai/sdk@1, ollama@0.6) into CACHE_DIR with npm, once.
# Without npm it only says so (the client tests then skip); a failed install fails.
# Usage: fetch_clients.sh CACHE_DIR
set -eu
cache=$1
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the server's client tests will be skipped"
  exit 0
fi
if [ -f "$cache/node_modules/openai/package.json" ] &&
   [ -f "$cache/node_modules/@anthropic-ai/sdk/package.json" ] &&
   [ -f "$cache/node_modules/ollama/package.json" ]; then
  exit 0
fi
mkdir -p "$cache"
cd "$cache"
[ -f package.json ] || echo '{"name":"allm-server-test-clients","private":true}' > package.json
npm install --silent --no-audit --no-fund --no-save openai@7 @anthropic-ai/sdk@1 ollama@0.6
echo "installed the API clients into $cache"
