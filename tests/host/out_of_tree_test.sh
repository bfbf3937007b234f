#!/usr/bin/env bash
# Installs the SDK from the build tree, builds the examples against it with
# find_package(allm-sdk) — a media handler (hello_plugin), an architecture
# (arch_plugin) and a tokenizer (tokenizer_plugin) — and drops them into
# ~/.local/lib/allm/plugins of a scratch HOME. Checks each links only the SDK
# libraries it needs (the media handler and the tokenizer the contract alone,
# the architecture the engine too), that the (unchanged) host lists them, that
# attachments go through the handler, the tokenizer is picked by can_load and
# a checkpoint of the example architecture runs.
set -euo pipefail
build="$1"; examples="$2"; work="$3"; data="$4"
rm -rf "$work"; mkdir -p "$work/home/.local/lib/allm/plugins"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
fail() { echo "FAIL: $*"; exit 1; }
for ex in hello_plugin:hello_plugin arch_plugin:example_arch tokenizer_plugin:byte_tokenizer; do
  dir=${ex%%:*}; so=${ex##*:}
  cmake -S "$examples/$dir" -B "$work/$dir" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > "$work/$dir.configure.log"
  cmake --build "$work/$dir" > "$work/$dir.build.log"
  cp "$work/$dir/$so.so" "$work/home/.local/lib/allm/plugins/"
  libs=$(ldd "$work/$dir/$so.so" | { grep -o 'liballm-[a-z]*' || true; } | sort -u | tr '\n' ' ')
  echo "$so.so: $(stat -c %s "$work/$dir/$so.so") bytes, links: ${libs:-no allm library}"
  # The linker keeps only the libraries a plugin uses symbols of (--as-needed):
  # an architecture needs the engine; a media handler or tokenizer never may.
  case $so in
    example_arch) [ "$libs" = "liballm-engine liballm-sdk " ] || fail "$so links $libs" ;;
    *) case "$libs" in *engine*|*jinja*|*http*) fail "$so links $libs (the contract at most expected)" ;; esac ;;
  esac
done
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

# The tokenizer: chosen by can_load for a directory holding its marker.
mkdir -p "$work/bytes"; echo '{}' > "$work/bytes/byte_tokenizer.json"
[ "$(allm tokenize "$work/bytes" "hi" --add-special-tokens)" = "256 104 105" ] || fail "byte tokenizer not used"
# The architecture: the llama fixture relabelled model_type example_llama runs through it.
mkdir -p "$work/example_llama"
cp "$data/models/llama/"{model.safetensors,tokenizer.json,tokenizer_config.json,generation_config.json} "$work/example_llama/"
python3 - "$data/models/llama/config.json" "$work/example_llama/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["model_type"] = "example_llama"; c["architectures"] = ["ExampleLlama"]
json.dump(c, open(sys.argv[2], "w"))
PY
want=$(HOME="$work/home" ALLM_CONFIG=/nonexistent "$work/prefix/bin/allm" run "$data/models/llama" --prompt-tokens 1,2,3 \
  --max-tokens 4 --temperature 0 --ignore-eos --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_ids"])')
got=$(allm run "$work/example_llama" --prompt-tokens 1,2,3 --max-tokens 4 --temperature 0 --ignore-eos --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token_ids"])')
[ "$got" = "$want" ] || fail "example_llama gave $got, llama $want"
echo "out-of-tree tokenizer and architecture work"
