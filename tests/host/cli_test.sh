#!/usr/bin/env bash
# End-to-end CLI checks: a plugin dir holding good and broken plugins.
set -euo pipefail
allm="$1"; plugins="$2"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export HOME="$work/home" ALLM_CONFIG="$work/none.json"
mkdir -p "$HOME" "$work/dir"
cp "$plugins/good_a.so" "$plugins/abi_major.so" "$work/dir/"
: > "$work/dir/zero.so"
printf "%0200d\nnot a library\n" 0 > "$work/dir/x.so"

fail() { echo "FAIL: $*"; exit 1; }

out=$("$allm" plugins --json --plugin-dir "$work/dir")
python3 - "$out" <<'PY' || fail "plugins --json content"
import json, sys
d = json.loads(sys.argv[1])
by_file = {p["path"].rsplit("/", 1)[1]: p for p in d["plugins"]}
assert d["search_dirs"][0]["source"] == "--plugin-dir", d["search_dirs"]
assert by_file["good_a.so"]["status"] == "loaded"
assert "tokenizer" in by_file["good_a.so"]["kinds"] and "architecture" in by_file["good_a.so"]["kinds"]
assert by_file["abi_major.so"]["status"] == "failed" and "ABI major" in by_file["abi_major.so"]["reason"]
assert by_file["zero.so"]["status"] == "failed" and "file too short" in by_file["zero.so"]["reason"]
assert by_file["x.so"]["status"] == "failed" and "invalid ELF header" in by_file["x.so"]["reason"]
PY

# Text listing shows the search order and the failures.
grep -q "FAILED  $work/dir/x.so" <<<"$("$allm" plugins --plugin-dir "$work/dir")" || fail "text listing"
grep -q "architecture test-arch-a" <<<"$("$allm" plugins info test-good-a --plugin-dir "$work/dir")" || fail "plugins info"

# Errors: one line on stderr and a documented exit code; nothing on stdout.
set +e
"$allm" nosuchcommand >"$work/out" 2>"$work/err"; code=$?
set -e
[ "$code" -eq 2 ] || fail "unknown command exit code $code"
[ ! -s "$work/out" ] || fail "stdout not empty on error"
[ "$(wc -l < "$work/err")" -eq 1 ] || fail "error is not one line: $(cat "$work/err")"

printf '{\n "threads": 2,\n "oops" 1\n}\n' > "$work/bad.json"
set +e
"$allm" --config "$work/bad.json" config show >"$work/out" 2>"$work/err"; code=$?
set -e
[ "$code" -eq 3 ] || fail "malformed config exit code $code"
grep -q "$work/bad.json:3:" "$work/err" || fail "config error lacks file:line: $(cat "$work/err")"

# Flags beat the environment in config show.
grep -q 'generation.top_k = 9    # environment (ALLM_GENERATION_TOP_K)' <<<"$(ALLM_GENERATION_TOP_K=9 "$allm" config show)" \
  || fail "env layer in config show"

# `allm config` alone shows the configuration, as `models` and `plugins` list.
[ "$("$allm" config)" = "$("$allm" config show)" ] || fail "allm config is not allm config show"
# Errors keep their reason; a missing --plugin-dir is named as missing.
set +e
"$allm" plugins --plugin-dir "$work/no-such-dir" >/dev/null 2>"$work/err"; code=$?
set -e
[ "$code" -eq 2 ] && grep -q -- "--plugin-dir $work/no-such-dir: no such directory" "$work/err" ||
  fail "missing --plugin-dir: $code $(cat "$work/err")"
set +e
(cd "$work" && "$allm" plugins inspect media-text) 2>"$work/err"; code=$?
set -e
[ "$code" -eq 4 ] && grep -q "media-text: cannot open: No such file or directory" "$work/err" &&
  grep -q "allm plugins info NAME" "$work/err" || fail "inspect of a name: $code $(cat "$work/err")"
set +e
"$allm" bench 2>"$work/err"; code=$?
set -e
[ "$code" -eq 2 ] && grep -q -- "--no-bandwidth" "$work/err" || fail "bench usage error: $(cat "$work/err")"
grep -q '^allm ' <<<"$("$allm" --version)" || fail "--version"
for cmd in plugins info config; do grep -q "Usage: allm $cmd" <<<"$("$allm" "$cmd" --help)" || fail "$cmd --help"; done
"$allm" info --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["logical_cores"] >= 1 and "simd" in d' \
  || fail "info --json"
# Metadata is readable without loading the plugin; non-plugins are refused clearly.
grep -qx 'name=test-good-a\|name: test-good-a' <<<"$("$allm" plugins inspect "$plugins/good_a.so")" || fail "inspect"
set +e
"$allm" plugins inspect "$work/dir/x.so" 2>"$work/err"; code=$?
set -e
[ "$code" -eq 4 ] && grep -q "x.so: not an ELF file" "$work/err" || fail "inspect of a text file: $code $(cat "$work/err")"
echo "cli tests passed"
