#!/bin/sh
# Batched decode side by side with llama.cpp: N sequences decoding together
# (one forward pass per step for all of them), aggregate decode tokens/s of
# allm (`allm bench --batch N`) and of llama.cpp's llama-batched-bench (S_TG at
# -npl N) on the same GGUF, threads and lengths, and the ratios issue 24 asks
# for: allm's N sequences against its one, and allm against llama.cpp at N.
#
#   bench/engine/compare_llama_batched.sh --llama-batched-bench /path/to/llama-batched-bench \
#       --model model.gguf [--allm build/bin/allm] [--threads 2] [--batch "1 8"] \
#       [--prompt 64] [--gen 32] [--rounds 5] [--cpus 0,1] [--allm-args "--kv-type f16"]
#
# llama.cpp is not part of allm: build llama-batched-bench yourself. Each round
# runs allm once per batch size, then llama-batched-bench once for all of them
# (the sides in turn, so load from other work falls on both alike); the table
# gives each side's median over the rounds with the range, and the ratios of
# the medians. --cpus pins both sides to those CPUs with taskset. --allm-args
# adds options to `allm bench`: `--kv-type f16` stores the KV cache as
# llama.cpp does by default (allm's default is F32, twice the bytes, and with
# 8 sequences their caches are read at every step).
set -eu

PEER="" MODEL="" ALLM="" THREADS=2 BATCH="1 8" PROMPT=64 GEN=32 ROUNDS=5 CPUS="" ALLM_ARGS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --llama-batched-bench) PEER="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --allm) ALLM="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --prompt) PROMPT="$2"; shift 2 ;;
    --gen) GEN="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --cpus) CPUS="$2"; shift 2 ;;
    --allm-args) ALLM_ARGS="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$PEER" ] && [ -x "$PEER" ] || { echo "--llama-batched-bench PATH (an executable) is required" >&2; exit 2; }
[ -n "$MODEL" ] && [ -f "$MODEL" ] || { echo "--model FILE.gguf is required" >&2; exit 2; }
if [ -z "$ALLM" ]; then ALLM="$(dirname "$0")/../../build/bin/allm"; fi
[ -x "$ALLM" ] || { echo "allm not found at $ALLM (use --allm)" >&2; exit 2; }
PIN=""
[ -z "$CPUS" ] || PIN="taskset -c $CPUS"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
NPL=$(echo $BATCH | tr ' ' ',')
MAXB=0
for b in $BATCH; do [ "$b" -gt "$MAXB" ] && MAXB=$b; done
CTX=$(( (PROMPT + GEN) * MAXB + 64 ))

printf '%s\n' "model: $MODEL  threads: $THREADS  prompt: $PROMPT  gen: $GEN per sequence  rounds: $ROUNDS${CPUS:+  cpus: $CPUS}${ALLM_ARGS:+  allm bench extra: $ALLM_ARGS}"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  for b in $BATCH; do
    # shellcheck disable=SC2086  # PIN, ALLM_ARGS: several words or none
    $PIN "$ALLM" bench "$MODEL" --threads "$THREADS" --batch "$b" --prompt-tokens "$PROMPT" --gen-tokens "$GEN" \
      --no-bandwidth --json $ALLM_ARGS 2>/dev/null | tr -d '\n' >> "$TMP/allm.jsonl"
    echo >> "$TMP/allm.jsonl"
  done
  # shellcheck disable=SC2086
  $PIN "$PEER" -m "$MODEL" -c "$CTX" -b 512 -ub 512 -npp "$PROMPT" -ntg "$GEN" -npl "$NPL" -t "$THREADS" -tb "$THREADS" \
    --output-format jsonl 2>/dev/null | grep '^{' >> "$TMP/llama.jsonl" || true
  printf '  round %d done, load %s\n' "$((r + 1))" "$(cut -d' ' -f1-3 /proc/loadavg)"
  r=$((r + 1))
done

python3 - "$TMP/allm.jsonl" "$TMP/llama.jsonl" "$BATCH" <<'PY'
import json, statistics, sys
allm_file, llama_file, batches = sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3].split()]
allm, llama = {b: [] for b in batches}, {b: [] for b in batches}
for line in open(allm_file):
    if line.strip():
        r = json.loads(line)
        allm[r["batch"]].append(r["decode_aggregate_tokens_per_s"])
for line in open(llama_file):
    r = json.loads(line)
    if r.get("pl") in llama: llama[r["pl"]].append(r["speed_tg"])
med = lambda v: statistics.median(v) if v else float("nan")
span = lambda v: f"{min(v):.1f}-{max(v):.1f}" if v else "-"
base_a, base_l = med(allm[batches[0]]), med(llama[batches[0]])
print(f"{'batch':>5} {'allm tg/s':>10} {'(range)':>13} {'x allm@' + str(batches[0]):>10} {'llama tg/s':>11} {'(range)':>13} {'x llama@' + str(batches[0]):>11} {'allm/llama':>10}")
for b in batches:
    a, l = med(allm[b]), med(llama[b])
    print(f"{b:>5} {a:10.2f} {span(allm[b]):>13} {a / base_a:10.2f} {l:11.2f} {span(llama[b]):>13} {l / base_l:11.2f} {a / l:10.2f}")
PY
