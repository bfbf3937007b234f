#!/usr/bin/env bash
# A checkpoint that ships only tokenizer.model runs end to end: the llama
# fixture (random weights, 512-token vocabulary) with its tokenizer.json
# replaced by the tiny SentencePiece model of the same size. The host picks
# the sentencepiece plugin by can_load; allm tokenize and allm run agree with
# the SentencePiece library's ids (the reference file).
set -euo pipefail
allm="$1"; data="$2"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export HOME="$work/home" ALLM_CONFIG="$work/none.json"
mkdir -p "$HOME"
fail() { echo "FAIL: $*"; exit 1; }

model="$work/llama-spm"
mkdir -p "$model"
for f in config.json generation_config.json model.safetensors; do cp "$data/models/llama/$f" "$model/"; done
cp "$data/tokenizer/spm_tiny/tokenizer.model" "$model/"
ls "$model" | grep -q tokenizer.json && fail "the copy still has tokenizer.json"

# allm tokenize: the library's ids for "Hello world" (reference case).
want=$(jq -c 'select(.text == "Hello world") | .ids' "$data/tokenizer/spm_tiny.sentencepiece.cases.jsonl")
got=$("$allm" tokenize "$model" "Hello world" --json | jq -c '.ids')
[ "$got" = "$want" ] || fail "tokenize: $got, expected $want"

# allm run --raw: the prompt is BOS + those ids, the reply is decoded by the same tokenizer.
out=$("$allm" run "$model" --raw "Hello world" --max-tokens 5 --ignore-eos --temperature 0 --json --show-prompt 2> "$work/err")
[ "$(echo "$out" | jq '.usage.prompt_tokens')" = "$(echo "$want" | jq 'length + 1')" ] || fail "prompt tokens: $out"
[ "$(echo "$out" | jq '.token_ids | length')" = 5 ] || fail "reply: $out"
text=$(echo "$out" | jq -r '.text')
ids=$(echo "$out" | jq -r '.token_ids | map(tostring) | join(",")')
[ "$("$allm" detokenize "$model" "$ids" --skip-special-tokens)" = "$text" ] || fail "reply text differs from detokenize"
# --prompt-tokens decodes its ids with the same tokenizer.
tokens=$("$allm" run "$model" --prompt-tokens "1,$(echo "$want" | jq -r 'map(tostring) | join(",")')" --max-tokens 5 \
  --ignore-eos --temperature 0 --json)
[ "$(echo "$tokens" | jq -c '.token_ids')" = "$(echo "$out" | jq -c '.token_ids')" ] || fail "token mode: $tokens"
[ "$(echo "$tokens" | jq -r '.text')" = "$text" ] || fail "token mode text: $tokens"

# Neither tokenizer file: a model load error naming the registered tokenizers.
rm "$model/tokenizer.model"
set +e; "$allm" run "$model" --raw hi --max-tokens 2 2> "$work/err"; rc=$?; set -e
[ $rc -eq 5 ] || fail "no tokenizer: exit $rc, expected 5 ($(cat "$work/err"))"
grep -q "sentencepiece" "$work/err" || fail "no tokenizer: $(cat "$work/err")"
echo "tokenizer.model-only checkpoint runs"
