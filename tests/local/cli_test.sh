#!/usr/bin/env bash
# `allm run` and `allm chat` end to end, on a fixture checkpoint (random
# weights: structure is checked, not prose) and on the shipped default model.
set -euo pipefail
allm="$1"; data="$2"; reference="$3"
model="$data/models/qwen3"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export HOME="$work/home" ALLM_CONFIG="$work/none.json"
mkdir -p "$HOME"
fail() { echo "FAIL: $*"; exit 1; }
greedy=(--temperature 0 --repeat-penalty 1 --threads 2)

# --- run: streaming text, --json, stdin ---------------------------------------
out=$("$allm" run "$model" "hello" --max-tokens 6 --ignore-eos "${greedy[@]}") || fail "run text"
[ -n "$out" ] || fail "run printed nothing"
json=$("$allm" run "$model" "hello" --max-tokens 6 --ignore-eos --json "${greedy[@]}") || fail "run --json"
python3 - "$json" "$out" <<'PY' || fail "run --json content"
import json, sys
d = json.loads(sys.argv[1])
assert d["finish_reason"] == "length", d
assert d["usage"]["completion_tokens"] == len(d["token_ids"]) == 6, d
assert d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + 6, d
assert d["usage"]["prompt_tokens"] > 0 and "decode_tokens_per_s" in d["timings"], d
# streamed text = the JSON text (plus the final newline run adds)
assert sys.argv[2].rstrip("\n") == d["text"].rstrip("\n"), (sys.argv[2], d["text"])
PY
piped=$(echo "hello" | "$allm" run "$model" --max-tokens 6 --ignore-eos "${greedy[@]}") || fail "run from stdin"
[ "$piped" = "$out" ] || fail "prompt from stdin differs from the argument: '$piped' vs '$out'"
dash=$(echo "hello" | "$allm" run "$model" - --max-tokens 6 --ignore-eos "${greedy[@]}") || fail "run -"
[ "$dash" = "$out" ] || fail "prompt '-' differs"

# A Hugging Face cache id names the model; alone, it is the model and the prompt comes from stdin.
commit=0123456789abcdef0123456789abcdef01234567
repo="$work/hub/models--tiny-org--qwen3-fixture"
mkdir -p "$repo/refs" "$repo/snapshots/$commit"
printf '%s' "$commit" > "$repo/refs/main"
for f in "$(cd "$model" && pwd)"/*; do ln -s "$f" "$repo/snapshots/$commit/"; done
hf=$(HF_HUB_CACHE="$work/hub" "$allm" run tiny-org/qwen3-fixture "hello" --max-tokens 6 --ignore-eos "${greedy[@]}") ||
  fail "run with a HF cache id"
[ "$hf" = "$out" ] || fail "HF cache id: '$hf' vs '$out'"
hf=$(echo hello | HF_HUB_CACHE="$work/hub" "$allm" run tiny-org/qwen3-fixture --max-tokens 6 --ignore-eos "${greedy[@]}") ||
  fail "run with a HF cache id and stdin"
[ "$hf" = "$out" ] || fail "HF cache id + stdin: '$hf' vs '$out'"

# A GGUF file: tokenizer and template from the file.
gg=$("$allm" run "$data/gguf/qwen3-f32.gguf" "hello" --max-tokens 4 --ignore-eos --json "${greedy[@]}") || fail "run a .gguf"
[ "$(echo "$gg" | jq '.token_ids | length')" = 4 ] || fail "gguf run: $gg"

# --- system prompt, files, raw, stats ----------------------------------------
echo "the moon is made of basalt" > "$work/notes.txt"
"$allm" run "$model" "summarise" --system "You are a pirate." --file "$work/notes.txt" --show-prompt \
  --max-tokens 2 "${greedy[@]}" > /dev/null 2> "$work/prompt.txt" || fail "run --system --file"
grep -q "<|im_start|>system" "$work/prompt.txt" || fail "system turn missing: $(cat "$work/prompt.txt")"
grep -q "You are a pirate." "$work/prompt.txt" || fail "system prompt missing"
grep -q "the moon is made of basalt" "$work/prompt.txt" || fail "file content missing"
grep -q "notes.txt" "$work/prompt.txt" || fail "file name missing"
"$allm" run "$model" "plain text" --raw --show-prompt --max-tokens 2 "${greedy[@]}" > /dev/null 2> "$work/raw.txt"
grep -q "<|im_start|>" "$work/raw.txt" && fail "--raw still used the template"
grep -qx "plain text" "$work/raw.txt" || fail "--raw prompt: $(cat "$work/raw.txt")"
"$allm" run "$model" "hi" --stats --max-tokens 4 "${greedy[@]}" > /dev/null 2> "$work/stats.txt" || fail "--stats"
grep -Eq "^load [0-9]+ ms \| prompt [0-9]+ tokens \([0-9]+ processed\) [0-9.]+ tok/s \| reply [0-9]+ tokens [0-9.]+ tok/s$" \
  "$work/stats.txt" || fail "stats line: $(cat "$work/stats.txt")"

# --- sampling: seeds, stop strings ---------------------------------------------
s1=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed 1 --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
s1b=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed 1 --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
s2=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed 2 --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
[ "$s1" = "$s1b" ] || fail "same seed, different tokens"
[ "$s1" != "$s2" ] || fail "different seeds, same tokens"
full=$("$allm" run "$model" "stop" --max-tokens 24 --ignore-eos --json "${greedy[@]}" | jq -r .text)
stop="${full:10:3}"
cut=$("$allm" run "$model" "stop" --max-tokens 24 --ignore-eos --stop "$stop" --json "${greedy[@]}")
python3 - "$full" "$stop" "$cut" <<'PY' || fail "stop string"
import json, sys
full, stop, d = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
assert d["finish_reason"] == "stop", d
assert d["text"] == full[:full.index(stop)], (d["text"], full, stop)
PY

# --- errors: one line, typed exit codes ------------------------------------------
for t in -0.5 nan abc; do
  set +e; "$allm" run "$model" "hi" --temperature "$t" 2> "$work/err.txt"; rc=$?; set -e
  [ $rc -eq 2 ] || fail "--temperature $t: exit $rc, expected 2"
  [ "$(wc -l < "$work/err.txt")" -eq 1 ] || fail "--temperature $t: not a one-line error: $(cat "$work/err.txt")"
  grep -q "temperature" "$work/err.txt" || fail "--temperature $t: error does not name the option"
done
long=$(printf 'word %.0s' $(seq 1 80))
set +e; "$allm" run "$model" "$long" --ctx 32 --max-tokens 4 2> "$work/err.txt"; rc=$?; set -e
[ $rc -eq 7 ] || fail "context overflow: exit $rc, expected 7"
grep -q "context window is 32 tokens" "$work/err.txt" || fail "context overflow text: $(cat "$work/err.txt")"
grep -Eq "prompt is [0-9]+ tokens" "$work/err.txt" || fail "context overflow names no prompt length"

# --- token-id mode unchanged ---------------------------------------------------
ids=$("$allm" run "$model" --prompt-tokens 1,2,3 --max-tokens 4 --temperature 0 --ignore-eos --json)
python3 - "$ids" <<'PY' || fail "--prompt-tokens --json fields"
import json, sys
d = json.loads(sys.argv[1])
assert set(d) == {"token_ids", "text", "finish_reason", "usage", "timings"}, d.keys()
assert set(d["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
assert set(d["timings"]) == {"load_ms", "prefill_tokens_per_s", "decode_tokens_per_s"}
assert len(d["token_ids"]) == 4 and d["usage"]["prompt_tokens"] == 3
PY

# --- chat through a pipe: three turns, commands, save/load ----------------------
printf 'hello there\nhow are you\n/stats\ntell me more\n/save %s\n/exit\nnot read\n' "$work/chat.json" |
  "$allm" chat "$model" --stats --max-tokens 6 --ignore-eos --stop $'\n' "${greedy[@]}" > "$work/chat.out" 2> "$work/chat.err" ||
  fail "chat: $(cat "$work/chat.err")"
[ "$(grep -c '^\[load' "$work/chat.err")" -eq 4 ] || fail "chat: expected 3 stats lines + /stats: $(cat "$work/chat.err")"
grep -q '^> ' "$work/chat.out" && fail "chat printed a prompt on a pipe"
[ "$(wc -l < "$work/chat.out")" -eq 3 ] || fail "chat: expected 3 answer lines: $(cat "$work/chat.out")"
python3 - "$work/chat.err" <<'PY' || fail "chat KV reuse: $(cat "$work/chat.err")"
import re, sys
turns = [tuple(map(int, m)) for m in re.findall(r"prompt (\d+) tokens \((\d+) processed\)", open(sys.argv[1]).read())]
first, second, third = turns[0], turns[1], turns[3]
assert first[0] == first[1], turns          # nothing cached before the first turn
assert second[1] < second[0] and third[1] < third[0], turns  # follow-ups prefill only new tokens
assert second[0] > first[0] and third[0] > second[0], turns
PY
python3 - "$work/chat.json" <<'PY' || fail "chat /save"
import json, sys
d = json.load(open(sys.argv[1]))
assert [m["role"] for m in d["messages"]] == ["user", "assistant"] * 3, d["messages"]
assert "cache_state" in d
PY
printf '/load %s\none more\n' "$work/chat.json" |
  "$allm" chat "$model" --stats --max-tokens 4 "${greedy[@]}" > /dev/null 2> "$work/load.err" || fail "chat /load"
grep -q "KV cache restored" "$work/load.err" || fail "chat /load did not restore the KV cache: $(cat "$work/load.err")"
python3 - "$work/load.err" <<'PY' || fail "resumed chat reprocessed its history: $(cat "$work/load.err")"
import re, sys
p, n = map(int, re.search(r"prompt (\d+) tokens \((\d+) processed\)", open(sys.argv[1]).read()).groups())
assert n < p / 2, (p, n)
PY
set +e; printf '/bogus\n' | "$allm" chat "$model" > /dev/null 2> "$work/bogus.err"; rc=$?; set -e
[ $rc -eq 0 ] && grep -q "unknown command '/bogus'" "$work/bogus.err" || fail "chat: unknown command"

# --- the shipped default model ----------------------------------------------------
"$allm" run "Once upon a time" --max-tokens 40 --seed 1 > "$work/tiny.txt" || fail "default model run"
python3 - "$work/tiny.txt" <<'PY' || fail "default model output is not English-like: $(cat "$work/tiny.txt")"
import re, sys
words = open(sys.argv[1]).read().split()
good = [w for w in words if re.fullmatch(r"[\"'(]*[A-Za-z][A-Za-z'-]*[,.;:!?\"')]*", w)]
assert len(words) >= 3 and len(good) >= 0.8 * len(words), words
PY
prompt=$(jq -r .prompt "$reference")
"$allm" run --raw "$prompt" --temperature 0 --repeat-penalty 1 --max-tokens 24 --ignore-eos --json > "$work/greedy.json"
python3 - "$work/greedy.json" "$reference" <<'PY' || fail "shipped model greedy ids differ from transformers"
import json, sys
got, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["usage"]["prompt_tokens"] == len(ref["prompt_ids"]), got["usage"]
n = 0
while n < len(ref["greedy_ids"]) and ref["greedy_margins"][n] >= 0.05:
    n += 1
assert got["token_ids"][:n] == ref["greedy_ids"][:n], (got["token_ids"], ref["greedy_ids"], n)
PY
"$allm" run --help | grep -q "allm run \[MODEL\] \[PROMPT\]" || fail "run --help"
"$allm" chat --help | grep -q "/save FILE" || fail "chat --help"
echo "local CLI: all checks passed"
