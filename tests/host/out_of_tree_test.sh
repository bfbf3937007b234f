#!/usr/bin/env bash
# Installs the SDK from the build tree, builds examples/hello_plugin against it
# with find_package(allm-sdk), drops the result into ~/.local/lib/allm/plugins of
# a scratch HOME and checks the (unchanged) host lists it.
set -euo pipefail
build="$1"; example="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work/home/.local/lib/allm/plugins"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$example" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/example" > "$work/build.log"
cp "$work/example/hello_plugin.so" "$work/home/.local/lib/allm/plugins/"
out=$(HOME="$work/home" ALLM_CONFIG=/nonexistent "$work/prefix/bin/allm" plugins --json)
echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
hello = [p for p in d["plugins"] if p.get("name") == "hello"]
assert hello, "hello plugin not listed"
p = hello[0]
assert p["status"] == "loaded" and p["found_via"] == "user", p
assert p["components"][0] == {"kind": "media_handler", "name": "hello", "score": 10, "active": True}, p
print("out-of-tree plugin listed from", p["path"])
'
