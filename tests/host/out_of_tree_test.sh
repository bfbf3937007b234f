#!/usr/bin/env bash
# Installs the SDK from the build tree, builds examples/hello_plugin against it
# with find_package(allm-sdk), drops the result into ~/.local/lib/allm/plugins of
# a scratch HOME, checks the (unchanged) host lists it and that attachments go
# through it: a .hello file to the example, any other file to its own handler.
set -euo pipefail
build="$1"; example="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work/home/.local/lib/allm/plugins"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$example" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/example" > "$work/build.log"
cp "$work/example/hello_plugin.so" "$work/home/.local/lib/allm/plugins/"
allm() { HOME="$work/home" ALLM_CONFIG=/nonexistent "$work/prefix/bin/allm" "$@"; }
out=$(allm plugins --json)
echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
hello = [p for p in d["plugins"] if p.get("name") == "hello"]
assert hello, "hello plugin not listed"
p = hello[0]
assert p["status"] == "loaded" and p["found_via"] == "user", p
assert p["components"][0] == {"kind": "media_handler", "name": "hello", "score": 10, "active": True,
                              "handles": "hello (.hello files as UTF-8 text)"}, p
print("out-of-tree plugin listed from", p["path"])
'
# --file through the installed host and the shipped model: the rendered prompt
# (stderr) holds each file under its name, loaded by the handler that fits it.
printf 'greetings from a hello file\n' > "$work/note.hello"
printf 'plain text notes\n' > "$work/notes.txt"
allm run --raw "Read these" --file "$work/note.hello" --file "$work/notes.txt" --show-prompt --max-tokens 1 \
  --temperature 0 > /dev/null 2> "$work/prompt.txt" || { echo "FAIL: run --file: $(cat "$work/prompt.txt")"; exit 1; }
grep -q -- "--- file: note.hello ---" "$work/prompt.txt" || { echo "FAIL: .hello file missing: $(cat "$work/prompt.txt")"; exit 1; }
grep -q "greetings from a hello file" "$work/prompt.txt" || { echo "FAIL: .hello content missing"; exit 1; }
grep -q "plain text notes" "$work/prompt.txt" || { echo "FAIL: .txt content missing"; exit 1; }
echo "attachments through the out-of-tree plugin work"
