#!/bin/sh
# `allm run PROVIDER:MODEL` against `allm serve` on loopback: each API streams
# the same greedy text that the local engine gives for the same model, and the
# CLI's errors name the URL and the server's message (never the key).
# Usage: cli_test.sh ALLM MODEL_DIR FAKE_API_PY
set -eu
ALLM=$1
MODEL=$2
FAKE=$3
tmp=$(mktemp -d)
spid=""
fpid=""
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
  [ -n "$fpid" ] && kill "$fpid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok - $*"; }
# The user's own config and keys stay out of the test.
export XDG_CONFIG_HOME="$tmp/config" HOME="$tmp"
unset OPENAI_API_KEY OPENAI_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL OLLAMA_HOST || true

"$ALLM" serve "$MODEL" --port 0 --threads 1 2>"$tmp/serve.err" &
spid=$!
python3 -u "$FAKE" >"$tmp/fake.out" &
fpid=$!
i=0
until grep -q "listening on" "$tmp/serve.err" && grep -q PORT "$tmp/fake.out"; do
  i=$((i + 1))
  [ $i -lt 600 ] || fail "servers did not start: $(cat "$tmp/serve.err")"
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/serve.err" | head -1)
fake="http://127.0.0.1:$(sed -n 's/^PORT //p' "$tmp/fake.out")"
id=$(python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/v1/models"))["data"][0]["id"])' "$url")

args="--temperature 0 --max-tokens 12 --system Brief."
"$ALLM" run "$MODEL" "Once upon a time" $args >"$tmp/local.txt"
[ -s "$tmp/local.txt" ] || fail "the local run printed nothing"

OPENAI_BASE_URL="$url/v1" "$ALLM" run "openai:$id" "Once upon a time" $args >"$tmp/openai.txt"
cmp "$tmp/local.txt" "$tmp/openai.txt" || fail "openai:$id differs from the local run"
ok "allm run openai:$id streams the local engine's text"
ANTHROPIC_BASE_URL="$url" "$ALLM" run "anthropic:$id" "Once upon a time" $args >"$tmp/anthropic.txt"
cmp "$tmp/local.txt" "$tmp/anthropic.txt" || fail "anthropic:$id differs from the local run"
ok "allm run anthropic:$id streams the local engine's text"
OLLAMA_HOST="$url" "$ALLM" run "ollama:$id" "Once upon a time" $args >"$tmp/ollama.txt"
cmp "$tmp/local.txt" "$tmp/ollama.txt" || fail "ollama:$id differs from the local run"
ok "allm run ollama:$id streams the local engine's text"

# A lone argument that only looks like PROVIDER:... but has spaces is the prompt.
OPENAI_BASE_URL=http://127.0.0.1:9/v1 "$ALLM" run "openai: say hi" --max-tokens 3 >"$tmp/prompt.txt" \
  || fail "'openai: say hi' was not taken as a prompt for the default model"
[ -s "$tmp/prompt.txt" ] || fail "'openai: say hi' printed nothing"
ok "a lone 'openai: say hi' is a prompt, not a model"

# allm serve fronting a remote model under the id openai:ID, asked through Ollama's API.
OPENAI_BASE_URL="$url/v1" "$ALLM" serve "openai:$id" --port 0 2>"$tmp/front.err" &
frontpid=$!
i=0
until grep -q "listening on" "$tmp/front.err"; do
  i=$((i + 1))
  [ $i -lt 300 ] || { kill $frontpid; fail "allm serve openai:$id did not start: $(cat "$tmp/front.err")"; }
  sleep 0.1
done
front=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/front.err" | head -1)
OLLAMA_HOST="$front" "$ALLM" run "ollama:openai:$id" "Once upon a time" $args >"$tmp/front.txt" || { kill $frontpid; fail "via the front: $(cat "$tmp/front.err")"; }
kill $frontpid
cmp "$tmp/local.txt" "$tmp/front.txt" || fail "allm serve openai:$id gave other text than the local run"
ok "allm serve openai:$id fronts the remote model (asked as ollama:openai:$id)"

OPENAI_BASE_URL="$url/v1" "$ALLM" run "openai:$id" "Hi" --max-tokens 5 --json >"$tmp/json.txt"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); u=r["usage"]; assert u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 5 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], r' "$tmp/json.txt" \
  || fail "--json usage: $(cat "$tmp/json.txt")"
ok "allm run openai:$id --json reports the server's usage"

# A chat over two turns keeps the history client-side.
printf 'Hello\nAgain\n' | OLLAMA_HOST="$url" "$ALLM" chat "ollama:$id" --max-tokens 4 >"$tmp/chat.txt" 2>"$tmp/chat.err" \
  || fail "allm chat ollama:$id: $(cat "$tmp/chat.err")"
[ -s "$tmp/chat.txt" ] || fail "allm chat printed nothing"
ok "allm chat ollama:$id"

set +e
OPENAI_BASE_URL=http://127.0.0.1:9/v1 "$ALLM" run openai:gpt-4o-mini "hi" >/dev/null 2>"$tmp/refused.err"
rc=$?
OPENAI_BASE_URL="$fake/unauth/v1" OPENAI_API_KEY=sk-secret-4711 "$ALLM" run openai:gpt-4o-mini "hi" >/dev/null 2>"$tmp/401.err"
rc401=$?
ANTHROPIC_BASE_URL= "$ALLM" run anthropic:claude-x "hi" >/dev/null 2>"$tmp/nokey.err"
rcnokey=$?
set -e
[ $rc -eq 10 ] || fail "connection refused: exit $rc, want 10 (io): $(cat "$tmp/refused.err")"
grep -q "connection refused: http://127.0.0.1:9/v1" "$tmp/refused.err" || fail "refused: $(cat "$tmp/refused.err")"
ok "no server: exit 10, 'connection refused' with the URL"
[ $rc401 -eq 3 ] || fail "401: exit $rc401, want 3 (config): $(cat "$tmp/401.err")"
grep -q "401: invalid api key" "$tmp/401.err" || fail "401: $(cat "$tmp/401.err")"
if grep -q "sk-secret-4711" "$tmp/401.err"; then fail "the API key was printed"; fi
ok "wrong key: exit 3, '401: invalid api key', key not printed"
[ $rcnokey -eq 3 ] || fail "no key: exit $rcnokey, want 3: $(cat "$tmp/nokey.err")"
grep -q 'ANTHROPIC_API_KEY' "$tmp/nokey.err" || fail "no key: $(cat "$tmp/nokey.err")"
ok "no key for api.anthropic.com: exit 3 naming \$ANTHROPIC_API_KEY"

OPENAI_API_KEY=sk-secret-4711 OLLAMA_HOST="$url" "$ALLM" info >"$tmp/info.txt"
grep -q "openai: https://api.openai.com/v1, key set (\$OPENAI_API_KEY)" "$tmp/info.txt" || fail "allm info: $(cat "$tmp/info.txt")"
grep -q "anthropic: not configured" "$tmp/info.txt" || fail "allm info anthropic: $(cat "$tmp/info.txt")"
grep -q "ollama: $url" "$tmp/info.txt" || fail "allm info ollama: $(cat "$tmp/info.txt")"
if grep -q "sk-secret-4711" "$tmp/info.txt"; then fail "allm info printed the key"; fi
ok "allm info lists the providers and whether each is configured"
mkdir -p "$tmp/config/allm"
printf '{"providers": {"openai": {"api_key": "sk-secret-4711", "headers": ["Authorization: Bearer sk-secret-4711"]}}}\n' \
  >"$tmp/config/allm/config.json"
"$ALLM" config show >"$tmp/show.txt"
grep -q 'providers.openai.api_key = "(set, hidden)"' "$tmp/show.txt" || fail "config show: $(grep providers "$tmp/show.txt")"
grep -q 'providers.openai.headers = \["Authorization: (hidden)"\]' "$tmp/show.txt" || fail "config show: $(grep providers "$tmp/show.txt")"
if grep -q "sk-secret-4711" "$tmp/show.txt"; then fail "allm config show printed the key"; fi
ok "allm config show hides the key and header values"
echo "all ok"
