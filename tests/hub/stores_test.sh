#!/usr/bin/env bash
# Models in other tools' stores run in place: an Ollama store (manifest + blobs
# made from a fixture GGUF) and an LM Studio folder; `allm models list` shows
# them; `allm models rm` refcounts blobs; `allm models search` sizes the catalog.
set -euo pipefail
allm="$1"; data="$2"; catalog="$3"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export HOME="$work/home" ALLM_CONFIG="$work/none.json" HF_HOME="$work/hf"
export OLLAMA_MODELS="$work/ollama" LMSTUDIO_MODELS="$work/lmstudio"
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE ALLM_CATALOG
mkdir -p "$HOME"
fail() { echo "FAIL: $*"; exit 1; }
greedy=(--temperature 0 --repeat-penalty 1 --threads 2 --max-tokens 5 --ignore-eos)
gguf="$data/gguf/qwen3-q8_0.gguf"

# --- Ollama's store, laid out as `ollama pull` leaves it ---------------------
blob() {  # FILE -> prints the digest; stores the file as blobs/sha256-<hex>
  local sha; sha=$(sha256sum "$1" | cut -d' ' -f1)
  mkdir -p "$OLLAMA_MODELS/blobs"; cp "$1" "$OLLAMA_MODELS/blobs/sha256-$sha"; echo "$sha"
}
printf '{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n' > "$work/template"
printf '{"stop":["<|im_end|>"],"temperature":0.6,"top_k":20}' > "$work/params"
printf '{"model_format":"gguf","model_family":"qwen3","model_type":"0.6B","file_type":"Q8_0","architecture":"amd64","os":"linux"}' > "$work/config"
m=$(blob "$gguf"); t=$(blob "$work/template"); p=$(blob "$work/params"); c=$(blob "$work/config")
size() { stat -c %s "$1"; }
mkdir -p "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/qwen3-fixture"
cat > "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/qwen3-fixture/latest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:$c","size":$(size "$work/config")},
 "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:$m","size":$(size "$gguf")},
           {"mediaType":"application/vnd.ollama.image.template","digest":"sha256:$t","size":$(size "$work/template")},
           {"mediaType":"application/vnd.ollama.image.params","digest":"sha256:$p","size":$(size "$work/params")}]}
JSON
expected=$("$allm" run "$gguf" "hello" "${greedy[@]}") || fail "run the gguf"
got=$("$allm" run ollama-local:qwen3-fixture "hello" "${greedy[@]}") || fail "run ollama-local:"
[ "$got" = "$expected" ] || fail "ollama-local run: '$got' vs '$expected'"
got=$("$allm" run qwen3-fixture:latest "hello" "${greedy[@]}") || fail "run a bare Ollama name"
[ "$got" = "$expected" ] || fail "bare name run: '$got' vs '$expected'"
# Ollama's params are the model's defaults (temperature 0.6, top_k 20) unless flags say otherwise.
"$allm" models show ollama-local:qwen3-fixture --json > "$work/show.json" || fail "models show ollama-local"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["generation_defaults"]; assert d["kind"]=="ollama" and g["temperature"]==0.6 and g["top_k"]==20, d' \
  "$work/show.json" || fail "Ollama params as defaults: $(cat "$work/show.json")"
set +e
"$allm" run ollama-local:nosuch "hello" 2> "$work/err"; code=$?
set -e
[ "$code" -eq 5 ] && grep -q "qwen3-fixture:latest" "$work/err" || fail "missing Ollama model: $code $(cat "$work/err")"

# --- LM Studio's folder: publisher/repo/file.gguf -----------------------------
mkdir -p "$LMSTUDIO_MODELS/tiny-pub/Qwen3-Fixture-GGUF"
cp "$gguf" "$LMSTUDIO_MODELS/tiny-pub/Qwen3-Fixture-GGUF/Qwen3-Fixture-Q8_0.gguf"
got=$("$allm" run lmstudio:tiny-pub/Qwen3-Fixture-GGUF "hello" "${greedy[@]}") || fail "run lmstudio:"
[ "$got" = "$expected" ] || fail "lmstudio run"

"$allm" models list --json > "$work/list.json" || fail "models list --json"
python3 - "$work/list.json" "$OLLAMA_MODELS" "$m" "$(size "$gguf")" <<'PY' || fail "models list content: $(cat "$work/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))
o = d["ollama"]["models"]
assert len(o) == 1 and o[0]["name"] == "qwen3-fixture:latest", o
assert o[0]["format"] == "gguf" and o[0]["quantization"] == "Q8_0" and o[0]["size"] == int(sys.argv[4]), o
assert o[0]["path"] == sys.argv[2] + "/blobs/sha256-" + sys.argv[3], o
l = d["lmstudio"]["models"]
assert [x["name"] for x in l] == ["tiny-pub/Qwen3-Fixture-GGUF/Qwen3-Fixture-Q8_0.gguf"] and l[0]["quantization"] == "Q8_0", l
PY
grep -q "qwen3-fixture:latest  *gguf  *Q8_0" <<<"$("$allm" models list)" || fail "models list text: $("$allm" models list)"

# A bare name two stores hold is ambiguous, and the error names both.
mkdir -p "$LMSTUDIO_MODELS/other/qwen3-fixture:latest"
cp "$gguf" "$LMSTUDIO_MODELS/other/qwen3-fixture:latest/x.gguf"
set +e
"$allm" run "qwen3-fixture:latest" "hello" 2> "$work/err"; code=$?
set -e
[ "$code" -eq 5 ] && grep -q "ambiguous" "$work/err" && grep -q "lmstudio:other/qwen3-fixture:latest/x.gguf" "$work/err" ||
  fail "ambiguous name: $code $(cat "$work/err")"

# --- models rm: huggingface_hub's delete strategy ------------------------------
# Two revisions share config.json; removing one keeps the shared blob.
repo="$HF_HOME/hub/models--tiny-org--two-revs"
c1=1111111111111111111111111111111111111111; c2=2222222222222222222222222222222222222222
mkdir -p "$repo/blobs" "$repo/refs" "$repo/snapshots/$c1" "$repo/snapshots/$c2"
printf 'shared' > "$repo/blobs/aaaa"; printf 'only-old-1' > "$repo/blobs/bbbb"; printf 'only-new-22' > "$repo/blobs/cccc"
ln -s ../../blobs/aaaa "$repo/snapshots/$c1/config.json"; ln -s ../../blobs/bbbb "$repo/snapshots/$c1/model.safetensors"
ln -s ../../blobs/aaaa "$repo/snapshots/$c2/config.json"; ln -s ../../blobs/cccc "$repo/snapshots/$c2/model.safetensors"
printf '%s' "$c2" > "$repo/refs/main"; printf '%s' "$c1" > "$repo/refs/old"
"$allm" models rm tiny-org/two-revs@old --dry-run > /dev/null || fail "rm --dry-run"
[ -e "$repo/blobs/bbbb" ] || fail "--dry-run removed something"
"$allm" models rm tiny-org/two-revs@old --json > "$work/rm.json" || fail "rm @old"
[ -e "$repo/blobs/aaaa" ] && [ -e "$repo/blobs/cccc" ] && [ ! -e "$repo/blobs/bbbb" ] || fail "blob refcounting"
[ ! -e "$repo/snapshots/$c1" ] && [ ! -e "$repo/refs/old" ] && [ -e "$repo/refs/main" ] || fail "snapshot/ref removal"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["freed_bytes"] == 10' "$work/rm.json" || fail "freed bytes"
"$allm" models rm tiny-org/two-revs > /dev/null || fail "rm repo"
[ ! -e "$repo" ] || fail "repo not removed"

# --- catalog search: weights (params x bits) + f32 KV cache vs --memory --------
"$allm" models search qwen3-0.6b --memory 1400000000 --context 4096 --json > "$work/search.json" || fail "search"
python3 - "$work/search.json" "$catalog" <<'PY' || fail "search content: $(cat "$work/search.json")"
import json, sys
d = json.load(open(sys.argv[1]))
cat = {m["name"]: m for m in json.load(open(sys.argv[2]))["models"]}
r = [x for x in d["results"] if x["name"] == "qwen3-0.6b"][0]
m = cat["qwen3-0.6b"]
kv = 2 * m["layers"] * m["kv_heads"] * m["head_dim"] * 4096 * 4
assert r["kv_cache_bytes"] == kv, (r["kv_cache_bytes"], kv)
bits = {"Q8_0": 8.5, "Q4_K_M": 4.89, "BF16": 16}
for v in r["variants"]:
    if v["quantization"] in bits:
        w = int(m["params_b"] * 1e9 * bits[v["quantization"]] / 8)
        assert v["weight_bytes"] == w and v["fits"] == (w + kv <= 1.4e9), v
# 1.4 GB with 0.94 GB of KV cache: BF16 (1.2 GB) and Q8_0 (0.64 GB) do not fit, Q4_K_M (0.37 GB) does.
assert r["fits"]["quantization"] == "Q4_K_M", r["fits"]
PY
"$allm" models search --fits --memory 3000000000 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); n=[r["name"] for r in d["results"]]; assert all(r["fits"] for r in d["results"]) and "qwen3-0.6b" in n and "qwen3-8b" not in n, n' ||
  fail "--fits filter"
grep -q "gemma-3-4b-it" <<<"$("$allm" models search vision)" || fail "search by capability"
echo "stores tests passed"
