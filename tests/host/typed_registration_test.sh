#!/usr/bin/env bash
# The SDK's typed component helpers: a correct media-handler registration
# compiles; a plain struct, a raw allm_component table and a handler
# registered as another kind are compile errors (not a crash at run time).
set -euo pipefail
cxx="$1"; src="$2"; shift 2   # the rest: -I flags for the SDK headers
flags=("$@")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
compile() { "$cxx" -std=c++20 -fsyntax-only "${flags[@]}" "$@" "$src" > "$work/log" 2>&1; }
compile || { echo "FAIL: the correct registration does not compile:"; cat "$work/log"; exit 1; }
rejected() {  # VARIANT TEXT-EXPECTED-IN-THE-DIAGNOSTIC
  if compile "-D$1"; then echo "FAIL: $1 compiled"; exit 1; fi
  grep -q -- "$2" "$work/log" || { echo "FAIL: $1 failed for another reason:"; cat "$work/log"; exit 1; }
  echo "$1: rejected at compile time"
}
rejected REGISTER_PLAIN_STRUCT "media_handler_component"
rejected REGISTER_RAW_TABLE "typed helpers"
rejected REGISTER_WRONG_KIND "tokenizer_component"
echo "typed registration checks passed"
