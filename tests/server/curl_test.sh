#!/bin/sh
# allm serve with curl: the routes as docs/server.md shows them.
# Usage: curl_test.sh ALLM MODEL
set -eu
allm=$1
model=$2
command -v curl >/dev/null 2>&1 || { echo "curl not found: skipped"; exit 77; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# A Hugging Face cache holding the same model as "test/tiny": a configured
# place, so requests may name it and it loads on demand.
commit=0123456789abcdef0123456789abcdef01234567
snap="$work/hub/models--test--tiny/snapshots/$commit"
mkdir -p "$work/hub/models--test--tiny/refs" "$snap"
printf %s "$commit" >"$work/hub/models--test--tiny/refs/main"
for f in "$model"/*; do ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$snap/"; done
: >"$work/err"  # exists before the background redirection opens it
HF_HUB_CACHE="$work/hub" "$allm" serve "$model" --port 0 --threads 1 2>"$work/err" &
pid=$!
for _ in $(seq 1 300); do
  url=$(sed -n 's/^allm serve: listening on \(http:[^ ]*\)$/\1/p' "$work/err")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/err"; echo "FAIL: no listening line"; exit 1; }
fail() { echo "FAIL: $1"; cat "$work/err"; exit 1; }

curl -sf "$url/v1/models" | grep -q '"id":"allm-tiny"' || fail "models list"
echo "ok - GET /v1/models"
body='{"model":"allm-tiny","messages":[{"role":"user","content":"Good morning"}],"max_tokens":12,"temperature":0}'
curl -sf "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" >"$work/plain"
grep -q '"object":"chat.completion"' "$work/plain" || fail "chat completion"
echo "ok - POST /v1/chat/completions"
curl -sfN "$url/v1/chat/completions" -d "${body%\}},\"stream\":true}" >"$work/sse"
[ "$(grep -c '^data: ' "$work/sse")" -ge 3 ] || fail "SSE chunks"
[ "$(grep '^data: ' "$work/sse" | tail -1)" = "data: [DONE]" ] || fail "SSE ends with data: [DONE]"
echo "ok - SSE stream ends with data: [DONE]"
code=$(curl -s -o "$work/e404" -w '%{http_code}' "$url/v1/chat/completions" -d '{"model":"nope","messages":[{"role":"user","content":"x"}]}')
[ "$code" = 404 ] && grep -q '"code":"model_not_found"' "$work/e404" || fail "unknown model: $code $(cat "$work/e404")"
echo "ok - unknown model: 404 model_not_found"
code=$(curl -s -o "$work/e400" -w '%{http_code}' "$url/v1/chat/completions" -d '{"model":"allm-tiny","messages":[{"role":"user","content":"x"}],"top_p":"high"}')
[ "$code" = 400 ] && grep -q '"param":"top_p"' "$work/e400" || fail "wrong type: $code $(cat "$work/e400")"
echo "ok - wrong type: 400 naming top_p"
curl -sf "$url/api/generate" -d '{"model":"allm-tiny","prompt":"Hello","options":{"num_predict":5}}' >"$work/nd"
[ "$(tail -1 "$work/nd" | grep -c '"done":true')" = 1 ] || fail "NDJSON ends with done:true"
echo "ok - /api/generate streams NDJSON"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/chat/completions" -H 'Content-Length: 4294967296' -H 'Content-Type: application/json' -d '{}')
[ "$code" = 413 ] || fail "4 GB Content-Length: $code"
echo "ok - 4 GB Content-Length: 413"
curl -sf "$url/v1/chat/completions" -d '{"model":"test/tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":3}' |
  grep -q '"model":"test/tiny"' || fail "on-demand load from the HF cache"
curl -sf "$url/v1/models" | grep -q '"id":"test/tiny"' || fail "the on-demand model is listed"
echo "ok - a Hugging Face cache id loads on demand"
curl -sf "$url/api/generate" -d '{"model":"test/tiny","keep_alive":0}' | grep -q '"done_reason":"unload"' || fail "keep_alive 0"
curl -sf "$url/v1/models" | grep -q '"id":"test/tiny"' && fail "keep_alive 0 did not unload"
echo "ok - keep_alive 0 unloads it"
code=$(curl -s -o "$work/path" -w '%{http_code}' "$url/v1/chat/completions" -d "{\"model\":\"$snap\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")
[ "$code" = 404 ] || fail "a model path in a request: $code"
echo "ok - a model directory path in a request is refused"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
echo "ok - SIGTERM: exit 0"
