#!/usr/bin/env bash
# `allm pull` against a loopback hub (hub_server.py) serving a fixture checkpoint.
# Usage: pull_test.sh CASE ALLM DATA_DIR — one CTest per CASE (see CMakeLists.txt).
set -euo pipefail
case_name="$1"; allm="$2"; data="$3"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export HOME="$work/home" ALLM_CONFIG="$work/none.json" HF_HOME="$work/hf"
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN HF_TOKEN_PATH HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HF_ENDPOINT
mkdir -p "$HOME"
fail() { echo "FAIL [$case_name]: $*"; exit 1; }
greedy=(--temperature 0 --repeat-penalty 1 --threads 2 --max-tokens 5 --ignore-eos)

# The served repo: the qwen3 fixture checkpoint plus files a default pull must skip.
repo_src="$work/repo"
mkdir -p "$repo_src/original"
for f in config.json generation_config.json model.safetensors special_tokens_map.json tokenizer.json \
         tokenizer_config.json; do cp "$data/models/qwen3/$f" "$repo_src/"; done
printf '# qwen3 fixture\n' > "$repo_src/README.md"
printf '*.safetensors filter=lfs diff=lfs merge=lfs -text\n' > "$repo_src/.gitattributes"
head -c 4096 /dev/urandom > "$repo_src/original/consolidated.pth"
gguf_src="$work/gguf"
mkdir -p "$gguf_src"
cp "$data/gguf/qwen3-q8_0.gguf" "$gguf_src/Qwen3-Fixture-Q8_0.gguf"
cp "$data/gguf/qwen3-q4_k_m.gguf" "$gguf_src/Qwen3-Fixture-Q4_K_M.gguf"

start_server() {
  rm -f "$work/port"
  python3 "$here/hub_server.py" --port-file "$work/port" --log "$work/log" \
    --repo "tiny-org/qwen3-fixture=$repo_src" --repo "tiny-org/qwen3-gguf=$gguf_src" \
    --repo "tiny-org/gated=$repo_src" --gated tiny-org/gated --token hf_s3cret_t0ken "$@" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || fail "the loopback hub did not start"
  export HF_ENDPOINT="http://127.0.0.1:$(cat "$work/port")"
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
cache="$work/hf/hub"
repo_dir="$cache/models--tiny-org--qwen3-fixture"

# The cache as huggingface_hub lays it out: blobs named by ETag (sha256 for LFS
# files, the git blob oid otherwise), snapshots/<commit>/<file> -> ../../blobs/<etag>
# (relative), refs/<revision> holding the commit without a newline, no .incomplete.
check_layout() {  # repo_dir source_dir revision expected-files...
  python3 - "$@" <<'PY' || fail "layout"
import hashlib, json, os, sys, urllib.request
repo_dir, src, revision, *expected = sys.argv[1:]
endpoint = os.environ["HF_ENDPOINT"]
repo_id = os.path.basename(repo_dir)[len("models--"):].replace("--", "/")
info = json.load(urllib.request.urlopen(f"{endpoint}/api/models/{repo_id}/revision/{revision}"))
commit = info["sha"]
with open(os.path.join(repo_dir, "refs", revision)) as f:
    assert f.read() == commit, "refs/" + revision
snap = os.path.join(repo_dir, "snapshots", commit)
got = sorted(os.path.relpath(os.path.join(r, n), snap) for r, _, ns in os.walk(snap) for n in ns)
assert got == sorted(expected), (got, expected)
lfs_suffixes = (".safetensors", ".gguf")
for rel in expected:
    data = open(os.path.join(src, rel), "rb").read()
    etag = hashlib.sha256(data).hexdigest() if rel.endswith(lfs_suffixes) else \
        hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    link = os.path.join(snap, rel)
    assert os.path.islink(link), rel + " is not a symlink"
    depth = rel.count("/")
    assert os.readlink(link) == "../" * (2 + depth) + "blobs/" + etag, (rel, os.readlink(link))
    assert open(link, "rb").read() == data, rel + " content"
blobs = os.listdir(os.path.join(repo_dir, "blobs"))
assert not [b for b in blobs if b.endswith(".incomplete")], blobs
assert len(blobs) == len(expected), blobs
PY
}
model_files=(config.json generation_config.json model.safetensors special_tokens_map.json tokenizer.json tokenizer_config.json)
cdn_gets() { grep -c '"method": "GET", "path": "/cdn/' "$work/log" || true; }

case "$case_name" in
layout_and_offline_run)
  start_server
  "$allm" pull tiny-org/qwen3-fixture > "$work/out" 2> "$work/err" || fail "pull: $(cat "$work/err")"
  check_layout "$repo_dir" "$repo_src" main "${model_files[@]}"
  grep -q "fetching model.safetensors" "$work/err" || fail "no plain progress lines: $(cat "$work/err")"
  # Pulled again: nothing is downloaded twice.
  before=$(cdn_gets)
  "$allm" pull tiny-org/qwen3-fixture --json > "$work/again.json" 2>/dev/null || fail "second pull"
  [ "$(cdn_gets)" = "$before" ] || fail "second pull fetched blobs again"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["bytes_downloaded"]==0 and not any(f["downloaded"] for f in d["files"]), d' \
    "$work/again.json" || fail "second pull --json"
  # A tag revision gets its own ref to the same commit.
  "$allm" pull tiny-org/qwen3-fixture@v1.0 --quiet > /dev/null || fail "pull @v1.0"
  [ "$(cat "$repo_dir/refs/v1.0")" = "$(cat "$repo_dir/refs/main")" ] || fail "refs/v1.0"
  # Repo info without "siblings": the file list comes from the tree.
  stop_server; start_server --no-siblings
  HF_HOME="$work/hf-tree" "$allm" pull tiny-org/qwen3-fixture --quiet > /dev/null || fail "pull without siblings"
  check_layout "$work/hf-tree/hub/models--tiny-org--qwen3-fixture" "$repo_src" main "${model_files[@]}"
  stop_server
  # Runs with the server gone and HF_HUB_OFFLINE=1, the same as from the fixture directory.
  expected=$("$allm" run "$data/models/qwen3" "hello" "${greedy[@]}") || fail "run fixture"
  got=$(HF_HUB_OFFLINE=1 "$allm" run tiny-org/qwen3-fixture "hello" "${greedy[@]}") || fail "offline run"
  [ "$got" = "$expected" ] || fail "offline run: '$got' vs '$expected'"
  HF_HUB_OFFLINE=1 "$allm" pull tiny-org/qwen3-fixture > "$work/out" 2> "$work/err" || fail "offline pull of a cached repo"
  grep -q "was not contacted" "$work/err" || fail "offline pull note: $(cat "$work/err")"
  set +e
  HF_HUB_OFFLINE=1 "$allm" pull tiny-org/elsewhere 2> "$work/err"; code=$?
  set -e
  [ "$code" -eq 5 ] && grep -q "HF_HUB_OFFLINE" "$work/err" || fail "offline pull of an uncached repo: $code $(cat "$work/err")"
  ;;
gguf_include)
  start_server
  "$allm" pull tiny-org/qwen3-gguf --include '*Q8_0.gguf' --quiet > /dev/null || fail "pull --include"
  check_layout "$cache/models--tiny-org--qwen3-gguf" "$gguf_src" main Qwen3-Fixture-Q8_0.gguf
  # Without --include, the Q4_K_M file of several GGUFs, said in a note.
  HF_HOME="$work/hf2" "$allm" pull tiny-org/qwen3-gguf > /dev/null 2> "$work/err" || fail "pull gguf default"
  grep -q "took Qwen3-Fixture-Q4_K_M.gguf" "$work/err" || fail "default gguf note: $(cat "$work/err")"
  # A catalog name pulls its repo and the GGUF file of the variant asked for.
  cat > "$work/catalog.json" <<JSON
{"models": [{"name": "qwen3-fixture", "params_b": 0.001, "context": 512, "layers": 2, "kv_heads": 2, "head_dim": 16,
  "gguf": {"repo": "tiny-org/qwen3-gguf", "files": {"Q8_0": "Qwen3-Fixture-Q8_0.gguf", "Q4_K_M": "Qwen3-Fixture-Q4_K_M.gguf"}}}]}
JSON
  ALLM_CATALOG="$work/catalog.json" HF_HOME="$work/hf3" "$allm" pull qwen3-fixture --quant Q8_0 --json > "$work/cat.json" 2>/dev/null ||
    fail "pull a catalog name"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["repo"]=="tiny-org/qwen3-gguf" and [f["path"] for f in d["files"]]==["Qwen3-Fixture-Q8_0.gguf"], d' \
    "$work/cat.json" || fail "catalog pull result: $(cat "$work/cat.json")"
  stop_server
  expected=$("$allm" run "$gguf_src/Qwen3-Fixture-Q8_0.gguf" "hello" "${greedy[@]}") || fail "run gguf"
  got=$(HF_HUB_OFFLINE=1 "$allm" run tiny-org/qwen3-gguf "hello" "${greedy[@]}") || fail "offline gguf run"
  [ "$got" = "$expected" ] || fail "gguf run: '$got' vs '$expected'"
  ;;
resume)
  # A connection cut half-way is resumed with a Range request, in the same pull.
  start_server --cut-once model.safetensors:200000
  "$allm" pull tiny-org/qwen3-fixture > "$work/out" 2> "$work/err" || fail "pull with a cut: $(cat "$work/err")"
  grep -q "retrying model.safetensors" "$work/err" || fail "no retry line: $(cat "$work/err")"
  python3 - "$work/log" <<'PY' || fail "no 206 Range request after the cut: $(cat "$work/log")"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
cdn = [e for e in log if e["path"].startswith("/cdn/") and e["method"] == "GET"]
assert cdn[0]["range"] is None and cdn[0]["status"] == 200, cdn
assert any(e["range"] and int(e["range"][6:].rstrip("-")) > 0 and e["status"] == 206 for e in cdn[1:]), cdn
PY
  check_layout "$repo_dir" "$repo_src" main "${model_files[@]}"
  # A .incomplete part left by an earlier, killed pull: resumed from its end.
  rm -rf "$repo_dir"
  sha=$(sha256sum "$repo_src/model.safetensors" | cut -d' ' -f1)
  mkdir -p "$repo_dir/blobs"
  head -c 300000 "$repo_src/model.safetensors" > "$repo_dir/blobs/$sha.incomplete"
  : > "$work/log"
  "$allm" pull tiny-org/qwen3-fixture --quiet > /dev/null || fail "pull resuming a .incomplete"
  grep -q '"range": "bytes=300000-", "auth": false' "$work/log" || fail "no Range from the .incomplete: $(cat "$work/log")"
  check_layout "$repo_dir" "$repo_src" main "${model_files[@]}"
  # A stalled connection (open, silent) is dropped after --stall-timeout and resumed.
  stop_server; rm -rf "$repo_dir"; : > "$work/log"
  start_server --stall-once model.safetensors:150000
  timeout 30 "$allm" pull tiny-org/qwen3-fixture --stall-timeout 1 > /dev/null 2> "$work/err" ||
    fail "pull with a stall: $(cat "$work/err")"
  grep -q "retrying model.safetensors from .*: no data for 1 s (stalled)" "$work/err" || fail "no stall retry: $(cat "$work/err")"
  grep -q '"range": "bytes=[1-9][0-9]*-", "auth": false' "$work/log" || fail "no Range after the stall"
  check_layout "$repo_dir" "$repo_src" main "${model_files[@]}"
  ;;
sha256_mismatch)
  start_server --corrupt model.safetensors
  set +e
  "$allm" pull tiny-org/qwen3-fixture --quiet > /dev/null 2> "$work/err"; code=$?
  set -e
  [ "$code" -eq 10 ] || fail "exit code $code: $(cat "$work/err")"
  grep -q "model.safetensors: sha256 mismatch" "$work/err" || fail "message: $(cat "$work/err")"
  sha=$(sha256sum "$repo_src/model.safetensors" | cut -d' ' -f1)
  [ ! -e "$repo_dir/blobs/$sha" ] && [ ! -e "$repo_dir/blobs/$sha.incomplete" ] || fail "corrupted bytes kept"
  [ ! -e "$repo_dir/refs/main" ] || fail "refs/main written for a failed pull"
  # A repo larger than the free disk space is refused before any byte is fetched.
  stop_server; : > "$work/log"
  start_server --claim-size model.safetensors:900000000000000000
  set +e
  "$allm" pull tiny-org/qwen3-fixture --quiet > /dev/null 2> "$work/err"; code=$?
  set -e
  [ "$code" -eq 10 ] && grep -q "not enough disk space in $repo_dir/blobs" "$work/err" || fail "disk space: $code $(cat "$work/err")"
  [ "$(cdn_gets)" = 0 ] || fail "bytes fetched before the disk space check"
  ;;
gated)
  start_server
  set +e
  "$allm" pull tiny-org/gated > /dev/null 2> "$work/err"; code=$?
  set -e
  [ "$code" -eq 5 ] || fail "gated without token: exit $code $(cat "$work/err")"
  grep -q "tiny-org/gated needs a token" "$work/err" && grep -q "$HF_ENDPOINT/tiny-org/gated" "$work/err" ||
    fail "gated message: $(cat "$work/err")"
  set +e
  HF_TOKEN=wrong "$allm" pull tiny-org/gated > /dev/null 2> "$work/err"; code=$?
  set -e
  [ "$code" -eq 5 ] && grep -q "has no access to tiny-org/gated" "$work/err" || fail "wrong token: $(cat "$work/err")"
  grep -q wrong "$work/err" && fail "the token was printed"
  HF_TOKEN=hf_s3cret_t0ken "$allm" pull tiny-org/gated > "$work/out" 2> "$work/err" || fail "with HF_TOKEN: $(cat "$work/err")"
  check_layout "$cache/models--tiny-org--gated" "$repo_src" main "${model_files[@]}"
  grep -q hf_s3cret "$work/out" "$work/err" && fail "the token was printed"
  # The token file ($HF_TOKEN_PATH, else $HF_HOME/token) works the same.
  rm -rf "$cache/models--tiny-org--gated"
  printf 'hf_s3cret_t0ken\n' > "$work/tok"
  HF_TOKEN_PATH="$work/tok" "$allm" pull tiny-org/gated --quiet > /dev/null || fail "with HF_TOKEN_PATH"
  rm -rf "$cache/models--tiny-org--gated"
  printf 'hf_s3cret_t0ken\n' > "$HF_HOME/token"
  "$allm" pull tiny-org/gated --quiet > /dev/null || fail "with \$HF_HOME/token"
  # The token went to the hub only, never to the CDN.
  ! grep '"path": "/cdn/' "$work/log" | grep -q '"auth": true' || fail "token sent to the CDN"
  ;;
unreachable)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  set +e
  HF_ENDPOINT="http://127.0.0.1:$port" "$allm" pull tiny-org/qwen3-fixture > /dev/null 2> "$work/err"; code=$?
  set -e
  [ "$code" -eq 10 ] && grep -q "cannot reach the Hugging Face hub at http://127.0.0.1:$port" "$work/err" ||
    fail "unreachable: $code $(cat "$work/err")"
  ;;
concurrent)
  # Two pulls of one repo at once: both succeed, the repo lock makes the
  # second wait, and each blob is fetched once. The second starts once the
  # first is fetching its blob (inside the lock), which a slowed CDN stretches
  # to ~4 s: started together, a loaded machine could start the second after
  # the first had finished.
  start_server --throttle 150000
  "$allm" pull tiny-org/qwen3-fixture > "$work/out1" 2> "$work/err1" & p1=$!
  for _ in $(seq 600); do grep -q '"path": "/cdn/' "$work/log" 2>/dev/null && break; sleep 0.05; done
  grep -q '"path": "/cdn/' "$work/log" || fail "the first pull never reached the blob"
  "$allm" pull tiny-org/qwen3-fixture > "$work/out2" 2> "$work/err2" & p2=$!
  wait $p1 || fail "first pull: $(cat "$work/err1")"
  wait $p2 || fail "second pull: $(cat "$work/err2")"
  cat "$work/err1" "$work/err2" | grep -q "another pull of tiny-org/qwen3-fixture is running" || fail "no lock wait"
  [ "$(grep -c '"path": "/cdn/' "$work/log")" -eq 1 ] || fail "blob fetched more than once: $(cat "$work/log")"
  check_layout "$repo_dir" "$repo_src" main "${model_files[@]}"
  ;;
*) fail "unknown case" ;;
esac
echo "pull test $case_name passed"
