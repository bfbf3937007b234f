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
grep -Eq "^load [0-9]+ ms \| prompt [0-9]+ tokens \([0-9]+ processed\) [0-9.]+ tok/s \| reply [0-9]+ tokens [0-9.]+ tok/s \| seed [0-9]+$" \
  "$work/stats.txt" || fail "stats line: $(cat "$work/stats.txt")"

# --- sampling: seeds, stop strings ---------------------------------------------
s1=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed 1 --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
s1b=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed 1 --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
s2=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed 2 --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
[ "$s1" = "$s1b" ] || fail "same seed, different tokens"
[ "$s1" != "$s2" ] || fail "different seeds, same tokens"
# Without --seed one is drawn and reported; giving it back reproduces the sample.
drawn=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --max-tokens 16 --ignore-eos --json)
seed=$(echo "$drawn" | jq -r .seed)
[[ "$seed" =~ ^[0-9]+$ ]] || fail "--json reports no seed: $drawn"
again=$("$allm" run "$model" "dice" --temperature 1 --top-k 0 --top-p 1 --min-p 0 --seed "$seed" --max-tokens 16 --ignore-eos --json | jq -c .token_ids)
[ "$again" = "$(echo "$drawn" | jq -c .token_ids)" ] || fail "the reported seed $seed does not reproduce the sample"
"$allm" run "$model" "dice" --max-tokens 2 --seed 77 --stats > /dev/null 2> "$work/seed.txt"
grep -q "| seed 77$" "$work/seed.txt" || fail "--stats reports no seed: $(cat "$work/seed.txt")"
full=$("$allm" run "$model" "stop" --max-tokens 24 --ignore-eos --json "${greedy[@]}" | jq -r .text)
stop="${full:10:3}"
cut=$("$allm" run "$model" "stop" --max-tokens 24 --ignore-eos --stop "$stop" --json "${greedy[@]}")
python3 - "$full" "$stop" "$cut" <<'PY' || fail "stop string"
import json, sys
full, stop, d = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
assert d["finish_reason"] == "stop", d
assert d["text"] == full[:full.index(stop)], (d["text"], full, stop)
assert d["usage"]["completion_tokens"] == len(d["token_ids"]), d
assert d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + len(d["token_ids"]), d
PY
# The ids kept are those of the kept text: the tokenizer decodes them to a text
# that starts with it, and without the last one to less than it.
cut_ids=$(echo "$cut" | jq -r '.token_ids | map(tostring) | join(",")')
cut_text=$(echo "$cut" | jq -r .text)
kept=$("$allm" detokenize "$model" "$cut_ids" --skip-special-tokens)
[ "${kept:0:${#cut_text}}" = "$cut_text" ] || fail "stop: ids decode to '$kept', not '$cut_text...'"
fewer=$("$allm" detokenize "$model" "${cut_ids%,*}" --skip-special-tokens)
[ "${#fewer}" -lt "${#cut_text}" ] || fail "stop: ids include tokens of the stop string ('$fewer' covers '$cut_text')"

# --- prompt sources: piped stdin with an argument, --file -, process substitution --
printf 'line from a pipe\n' | "$allm" run "$model" "instruction" --raw --show-prompt --max-tokens 1 "${greedy[@]}" \
  > /dev/null 2> "$work/append.txt" || fail "run with an argument and piped stdin"
python3 - "$work/append.txt" <<'PY' || fail "piped stdin not appended to the prompt: $(cat "$work/append.txt")"
import sys
text = open(sys.argv[1]).read()
assert "instruction\n\nline from a pipe\n--- end of prompt" in text, text
PY
# A silent pipe inherited on stdin (never written, never closed) does not hang a run with a prompt.
mkfifo "$work/idle"
sleep 60 > "$work/idle" & holder=$!
timeout 30 "$allm" run "$model" "hello" --max-tokens 1 "${greedy[@]}" < "$work/idle" > /dev/null 2> "$work/idle.txt" ||
  { kill $holder; fail "a silent stdin pipe: $(cat "$work/idle.txt")"; }
kill $holder
grep -q "stdin is a pipe that gave nothing for 2 s; not waiting for it" "$work/idle.txt" || fail "silent pipe note: $(cat "$work/idle.txt")"
printf 'attached through stdin\n' | "$allm" run "$model" "summarise" --file - --show-prompt --max-tokens 1 "${greedy[@]}" \
  > /dev/null 2> "$work/stdin_file.txt" || fail "--file -: $(cat "$work/stdin_file.txt")"
grep -q "attached through stdin" "$work/stdin_file.txt" || fail "--file - content missing: $(cat "$work/stdin_file.txt")"
"$allm" run "$model" "summarise" --file <(printf 'from a process substitution\n') --show-prompt --max-tokens 1 \
  "${greedy[@]}" > /dev/null 2> "$work/procsub.txt" || fail "--file <(...): $(cat "$work/procsub.txt")"
grep -q "from a process substitution" "$work/procsub.txt" || fail "--file <(...) content missing"

# --system "" is no system turn (as chat's /system with no text).
"$allm" run "$model" "hi" --system "" --show-prompt --max-tokens 1 "${greedy[@]}" > /dev/null 2> "$work/nosys.txt"
grep -q "<|im_start|>system" "$work/nosys.txt" && fail "--system \"\" rendered a system turn: $(cat "$work/nosys.txt")"
grep -q "<|im_start|>user" "$work/nosys.txt" || fail "--system \"\": no user turn"

printf 'hi\n/save %s\n' "$work/nosys.json" | "$allm" chat "$model" --system "" --max-tokens 1 "${greedy[@]}" > /dev/null 2>&1 ||
  fail "chat --system \"\""
jq -e '.options | has("system_prompt") | not' "$work/nosys.json" > /dev/null ||
  fail "chat --system \"\" kept an empty system prompt: $(jq -c .options "$work/nosys.json")"

# A lone word that is also a local folder: taken as the model, and the error says how to force the prompt.
mkdir -p "$work/cwd/hello"
set +e; (cd "$work/cwd" && "$allm" run hello < /dev/null) 2> "$work/ambig.txt"; rc=$?; set -e
[ $rc -eq 2 ] || fail "ambiguous word: exit $rc"
grep -q "'hello' was taken as the model" "$work/ambig.txt" && grep -q "allm run -- hello" "$work/ambig.txt" ||
  fail "ambiguity not explained: $(cat "$work/ambig.txt")"
(cd "$work/cwd" && "$allm" run --model "$model" hello --raw --show-prompt --max-tokens 1 "${greedy[@]}") > /dev/null \
  2> "$work/forced.txt" || fail "--model MODEL WORD"
grep -qx "hello" "$work/forced.txt" || fail "--model: 'hello' is not the prompt: $(cat "$work/forced.txt")"

# --- context window: chat drops old turns with a notice; a reply hitting the window says so --
for i in $(seq 1 8); do echo "tell me about the weather today number $i"; done |
  "$allm" chat "$model" --ctx 64 --max-tokens 6 --ignore-eos --stop $'\n' "${greedy[@]}" > "$work/long.out" 2> "$work/long.err" ||
  fail "long chat: $(cat "$work/long.err")"
[ "$(wc -l < "$work/long.out")" -eq 8 ] || fail "long chat stopped answering: $(cat "$work/long.out") $(cat "$work/long.err")"
grep -q "oldest messages to fit the context window (64 tokens)" "$work/long.err" || fail "no notice of dropped turns: $(cat "$work/long.err")"
for i in $(seq 1 8); do echo "tell me about the weather today number $i"; done |
  "$allm" chat "$model" --ctx 64 --max-tokens 6 --ignore-eos --truncation error "${greedy[@]}" > /dev/null 2> "$work/strict.err"
grep -q "context window" "$work/strict.err" || fail "--truncation error in chat: $(cat "$work/strict.err")"
for i in $(seq 1 8); do echo "tell me about the weather today number $i"; done |
  ALLM_CHAT_TRUNCATION=error "$allm" chat "$model" --ctx 64 --max-tokens 6 --ignore-eos "${greedy[@]}" > /dev/null 2> "$work/strict.err"
grep -q "context window" "$work/strict.err" || fail "config chat.truncation error: $(cat "$work/strict.err")"
set +e; echo hi | ALLM_CHAT_TRUNCATION=sometimes "$allm" chat "$model" > /dev/null 2> "$work/err.txt"; rc=$?; set -e
[ $rc -eq 3 ] && grep -q "chat.truncation (environment (ALLM_CHAT_TRUNCATION)) must be error, drop_oldest or truncate_left, got \"sometimes\"" "$work/err.txt" ||
  fail "bad chat.truncation: $rc $(cat "$work/err.txt")"
set +e; "$allm" run "$model" "hi" --truncation sometimes 2> "$work/err.txt"; rc=$?; set -e
[ $rc -eq 2 ] && grep -q -- "--truncation must be error, drop_oldest or truncate_left, got sometimes" "$work/err.txt" ||
  fail "--truncation check: $rc $(cat "$work/err.txt")"
"$allm" run "$model" "hi" --ctx 40 --max-tokens 200 --ignore-eos "${greedy[@]}" > /dev/null 2> "$work/window.txt"
grep -q "the reply stopped because the context window (40 tokens) is full" "$work/window.txt" ||
  fail "a reply cut by the window says nothing: $(cat "$work/window.txt")"

# --- chat: a multi-line message between """ lines ------------------------------
printf '"""\nline one\n\nline three\n"""\n/save %s\n' "$work/multi.json" |
  "$allm" chat "$model" --max-tokens 2 "${greedy[@]}" > /dev/null 2> "$work/multi.err" || fail "multi-line chat"
python3 - "$work/multi.json" <<'PY' || fail "multi-line message: $(cat "$work/multi.json")"
import json, sys
m = json.load(open(sys.argv[1]))["messages"]
assert m[0] == {"role": "user", "content": "line one\n\nline three"} or m[0]["content"] == "line one\n\nline three", m
PY
# On a terminal: Ctrl-C at the prompt, history across sessions.
python3 "$(dirname "$0")/chat_tty_test.py" "$allm" "$model" "$HOME" || fail "chat on a terminal"

# --- errors: one line, typed exit codes ------------------------------------------
for t in -0.5 nan abc; do
  set +e; "$allm" run "$model" "hi" --temperature "$t" 2> "$work/err.txt"; rc=$?; set -e
  [ $rc -eq 2 ] || fail "--temperature $t: exit $rc, expected 2"
  [ "$(wc -l < "$work/err.txt")" -eq 1 ] || fail "--temperature $t: not a one-line error: $(cat "$work/err.txt")"
  grep -q "temperature" "$work/err.txt" || fail "--temperature $t: error does not name the option"
done
# Validation: one style naming the flag the user typed, with the value as typed.
expect_error() {  # EXPECTED-EXIT EXPECTED-MESSAGE COMMAND...
  local want=$1 msg=$2; shift 2
  set +e; "$@" > /dev/null 2> "$work/err.txt" < /dev/null; local rc=$?; set -e
  [ $rc -eq "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$work/err.txt")"
  grep -qF -- "$msg" "$work/err.txt" || fail "$*: expected '$msg', got: $(cat "$work/err.txt")"
}
expect_error 2 "allm: invalid argument: --top-p must be in (0, 1], got 2" "$allm" run "$model" hi --top-p 2
expect_error 2 "--min-p must be in [0, 1], got 1.5" "$allm" run "$model" hi --min-p 1.5
expect_error 2 "--max-tokens must be between 1 and 2147483647, got 99999999999" "$allm" run "$model" hi --max-tokens 99999999999
expect_error 2 "--max-tokens is out of range, got 999999999999999999999" "$allm" run "$model" hi --max-tokens 999999999999999999999
expect_error 2 "'--temperature' before the command is not a common option" "$allm" --temperature 1 run "$model" hi
expect_error 2 "the prompt read from stdin is not valid UTF-8 at byte 3 (0xFF)" sh -c "printf 'ab\377cd' | '$allm' run '$model'"
expect_error 2 "the prompt is not valid UTF-8 at byte 2 (0xFE)" "$allm" run "$model" "$(printf 'a\376b')"
# --threads above the logical cores: a warning, and the run goes on with the cap.
"$allm" run "$model" hi --threads 100000 --max-tokens 1 > /dev/null 2> "$work/threads.txt" || fail "--threads 100000"
grep -q "^allm: warning: --threads 100000 is more than the [0-9]* logical cores of this machine; using" "$work/threads.txt" ||
  fail "--threads: no warning: $(cat "$work/threads.txt")"
# A model's config.json: every problem is a model load error (5) naming the key.
cp -r "$model" "$work/neg"; python3 - "$work/neg/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["hidden_size"] = -c["hidden_size"]; json.dump(c, open(sys.argv[1], "w"))
PY
expect_error 5 "config key 'hidden_size' must be positive, got -" "$allm" run "$work/neg" hi
cp -r "$model" "$work/nolayers"; python3 - "$work/nolayers/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["num_hidden_layers"]; json.dump(c, open(sys.argv[1], "w"))
PY
expect_error 5 "config key 'num_hidden_layers' is missing" "$allm" run "$work/nolayers" hi
cp -r "$model" "$work/badjson"; echo '{"a":' > "$work/badjson/config.json"
expect_error 5 "config.json: malformed JSON" "$allm" run "$work/badjson" hi
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
# Bundled models by name, from any folder; --prompt-tokens without a model uses the default.
(cd / && "$allm" run allm-tiny "Once upon a time" --max-tokens 3 --seed 1 > /dev/null) || fail "bundled model by name from /"
(cd / && "$allm" models show allm-tiny --json | jq -e '.model_type == "qwen3"' > /dev/null) || fail "models show allm-tiny"
ids=$("$allm" run --prompt-tokens 1,2,3 --max-tokens 2 --temperature 0 --ignore-eos --json) || fail "--prompt-tokens without a model"
[ "$(echo "$ids" | jq '.token_ids | length')" = 2 ] || fail "--prompt-tokens default model: $ids"
# One model resolution per invocation, whichever way the model is named: the
# CLI chooses it once and hands the result to the local provider (the resolver
# logs each resolution at debug level).
resolved_once() {  # LABEL, then the command's stderr in $work/resolve.log
  local n; n=$(grep -c "model '.*' resolved to" "$work/resolve.log" || true)
  [ "$n" = 1 ] || fail "$1 resolved the model $n times: $(grep "resolved to" "$work/resolve.log")"
}
echo hello | "$allm" --log-level debug run "$model" --max-tokens 1 "${greedy[@]}" > /dev/null 2> "$work/resolve.log" ||
  fail "run MODEL (debug log)"
resolved_once "run MODEL (prompt on stdin)"
"$allm" --log-level debug run "$model" "hello" --max-tokens 1 "${greedy[@]}" > /dev/null 2> "$work/resolve.log" ||
  fail "run MODEL PROMPT (debug log)"
resolved_once "run MODEL PROMPT"
(cd / && "$allm" --log-level debug run allm-tiny "hello" --max-tokens 1 > /dev/null 2> "$work/resolve.log") ||
  fail "run allm-tiny (debug log)"
resolved_once "run BUNDLED PROMPT"
"$allm" --log-level debug run --prompt-tokens 1,2 --max-tokens 1 > /dev/null 2> "$work/resolve.log" ||
  fail "run --prompt-tokens (debug log)"
resolved_once "run --prompt-tokens (default model)"
echo hi | "$allm" --log-level debug chat "$model" --max-tokens 1 "${greedy[@]}" > /dev/null 2> "$work/resolve.log" ||
  fail "chat MODEL (debug log)"
resolved_once "chat MODEL"
"$allm" --log-level debug logits "$model" --tokens 1,2 --out "$work/logits.safetensors" > /dev/null 2> "$work/resolve.log" || fail "logits (debug log)"
resolved_once "logits MODEL"

grep -q "allm run \[MODEL\] \[PROMPT\]" <<<"$("$allm" run --help)" || fail "run --help"
grep -q "/save FILE" <<<"$("$allm" chat --help)" || fail "chat --help"
echo "local CLI: all checks passed"
