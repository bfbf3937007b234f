#!/usr/bin/env bash
# Checks tests/hub/hub_server.py against the real client: huggingface_hub's
# snapshot_download, pointed at it with HF_ENDPOINT, must accept its protocol
# and write the same cache allm pull wrote from the same repo.
#
#   1. here:         tools/hub_check/compare_with_huggingface_hub.sh prepare ALLM OUT_DIR
#                    (serves a fixture repo, runs allm pull, packs repo + cache into OUT_DIR)
#   2. with python3 + huggingface_hub (the GPU machine has it):
#                    tools/hub_check/compare_with_huggingface_hub.sh compare OUT_DIR
set -euo pipefail
mode="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
server="$root/tests/hub/hub_server.py"
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

serve() {  # repo_dir [server options]
  local src="$1"; shift
  python3 "$server" --port-file "$work/port" --log "$work/log" --repo "tiny-org/qwen3-fixture=$src" \
    --repo "tiny-org/gated=$src" --gated tiny-org/gated --token hf_check_token "$@" &
  pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  export HF_ENDPOINT="http://127.0.0.1:$(cat "$work/port")"
}

# Tree of a cache: every path, symlink target, ref content, blob size. Left
# out: .locks/, and trees/<commit>.json, a listing cache huggingface_hub 1.x
# keeps for itself; CACHEDIR.TAG is compared by presence (its comment differs).
listing() {
  (cd "$1" && find . \( -path ./.locks -o -path './*/trees' \) -prune -o -print | LC_ALL=C sort | while read -r p; do
    if [ "$p" = ./CACHEDIR.TAG ]; then echo "$p (present)"
    elif [ -L "$p" ]; then echo "$p -> $(readlink "$p")"
    elif [ -f "$p" ] && [[ "$p" == */refs/* ]]; then echo "$p = $(cat "$p")"
    elif [ -f "$p" ]; then echo "$p ($(stat -c %s "$p") bytes)"
    else echo "$p/"; fi
  done)
}

case "$mode" in
prepare)
  allm="$2"; out="$3"
  mkdir -p "$out/repo/original"
  for f in config.json generation_config.json model.safetensors special_tokens_map.json tokenizer.json \
           tokenizer_config.json; do cp "$root/tests/data/models/qwen3/$f" "$out/repo/"; done
  printf '# qwen3 fixture\n' > "$out/repo/README.md"
  head -c 4096 /dev/zero > "$out/repo/original/consolidated.pth"
  serve "$out/repo"
  HF_HUB_CACHE="$out/allm-cache" "$allm" pull tiny-org/qwen3-fixture --quiet
  listing "$out/allm-cache" > "$out/allm-listing.txt"
  ;;
compare)
  out="$2"
  serve "$out/repo" --cut-once model.safetensors:200000
  python3 - "$work/hf-cache" <<'PY'
import os, sys
import huggingface_hub
from huggingface_hub import snapshot_download
from huggingface_hub.errors import GatedRepoError
print("huggingface_hub", huggingface_hub.__version__)
files = ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
         "tokenizer.json", "tokenizer_config.json"]
path = snapshot_download("tiny-org/qwen3-fixture", cache_dir=sys.argv[1], allow_patterns=files)
print("snapshot_download ->", path)
try:
    snapshot_download("tiny-org/gated", cache_dir=sys.argv[1] + "-gated", allow_patterns=files, token=False)
    print("FAIL: gated repo downloaded without a token")
    sys.exit(1)
except GatedRepoError as e:
    print("gated without token -> GatedRepoError:", str(e).splitlines()[0])
snapshot_download("tiny-org/gated", cache_dir=sys.argv[1] + "-gated", allow_patterns=files, token="hf_check_token")
print("gated with token -> ok")
PY
  listing "$work/hf-cache" > "$work/hf-listing.txt"
  echo "--- requests huggingface_hub made (method path status range):"
  python3 -c 'import json,sys; [print(e["method"], e["path"], e["status"], e["range"] or "") for e in map(json.loads, open(sys.argv[1]))]' "$work/log"
  if diff -u "$out/allm-listing.txt" "$work/hf-listing.txt"; then
    echo "SAME: huggingface_hub's cache equals allm's"
  else
    echo "DIFFERENT (above)"; exit 1
  fi
  ;;
*) echo "usage: $0 prepare ALLM OUT_DIR | compare OUT_DIR"; exit 2 ;;
esac
