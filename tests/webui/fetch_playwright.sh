#!/bin/sh
# Installs playwright-core (the browser driver only, no browser download) and
# axe-core (accessibility rules) into CACHE_DIR with npm, once; the chat-page
# test drives Debian's chromium with the one and checks the page with the other.
# Without npm it only says so (the test then skips); a failed install fails.
# Usage: fetch_playwright.sh CACHE_DIR
set -eu
cache=$1
version=1.65.2
axe=4.14.1
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the chat-page browser test will be skipped"
  exit 0
fi
if grep -qs "\"version\": \"$version\"" "$cache/node_modules/playwright-core/package.json" &&
   grep -qs "\"version\": \"$axe\"" "$cache/node_modules/axe-core/package.json"; then
  exit 0
fi
mkdir -p "$cache"
cd "$cache"
[ -f package.json ] || echo '{"name":"allm-webui-test","private":true}' > package.json
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --no-save "playwright-core@$version" "axe-core@$axe"
echo "installed playwright-core@$version and axe-core@$axe into $cache"
