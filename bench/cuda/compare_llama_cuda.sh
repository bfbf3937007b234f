#!/bin/sh
# allm's CUDA backend side by side with llama.cpp's CUDA build on the same GPU
# and the same GGUF files: prefill (ppP) and decode (tgG) tokens/s of
# cuda_model_bench and of llama-bench (-ngl 99 -fa 1), and batched decode
# (aggregate tokens/s of N sequences decoding together) of
# cuda_model_bench --batch and llama-batched-bench (S_TG) on --batch-model;
# the ratios allm / llama.cpp (> 1: allm is faster) of the medians over
# --rounds rounds. Within a round the programs run in turn, file by file, so
# a machine's drift falls on both alike; each run is itself the median of 3
# repetitions (cuda_model_bench --rounds 3, llama-bench -r 3).
#
#   bench/cuda/compare_llama_cuda.sh --tree DIR --llama-bin DIR --model A.gguf [--model B.gguf ...]
#       [--batch-model A.gguf] [--batch "8 32"] [--rounds 2] [--pp 512] [--tg 128]
#       [--batch-pp 128] [--batch-tg 128] [--allm-env "ALLM_CUDA_GRAPH=0"]
#
# --tree: a build tree, or the folder tools/pack-cuda-tree.sh packs (bin/ with
# cuda_model_bench, lib/ with the engine and lib/allm/plugins the model
# plugins). --llama-bin: a folder holding llama-bench and llama-batched-bench
# built with CUDA (llama.cpp is not part of allm: build them yourself, with
# -DGGML_CUDA=ON). Both sides read the same file and feed random token ids while
# decoding (neither samples); the KV cache is F16 on both. --allm-env runs
# cuda_model_bench under extra environment variables (docs/cuda.md lists the
# backend's), for A/B runs against the same peer figures.
set -eu

TREE="" LLAMA_BIN="" MODELS="" BATCH_MODEL="" BATCH="8 32" ROUNDS=2 PP=512 TG=128 BATCH_PP=128 BATCH_TG=128 ALLM_ENV=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tree) TREE="$2"; shift 2 ;;
    --llama-bin) LLAMA_BIN="$2"; shift 2 ;;
    --model) MODELS="$MODELS $2"; shift 2 ;;
    --batch-model) BATCH_MODEL="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --pp) PP="$2"; shift 2 ;;
    --tg) TG="$2"; shift 2 ;;
    --batch-pp) BATCH_PP="$2"; shift 2 ;;
    --batch-tg) BATCH_TG="$2"; shift 2 ;;
    --allm-env) ALLM_ENV="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$TREE" ] && [ -x "$TREE/bin/cuda_model_bench" ] || { echo "--tree DIR with bin/cuda_model_bench is required" >&2; exit 2; }
for t in llama-bench llama-batched-bench; do
  [ -n "$LLAMA_BIN" ] && [ -x "$LLAMA_BIN/$t" ] || { echo "--llama-bin DIR with $t is required" >&2; exit 2; }
done
[ -n "$MODELS" ] || { echo "at least one --model FILE.gguf is required" >&2; exit 2; }
for m in $MODELS $BATCH_MODEL; do [ -f "$m" ] || { echo "no file $m" >&2; exit 2; }; done
TREE=$(cd "$TREE" && pwd)
export LD_LIBRARY_PATH="$TREE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2086  # BATCH, MODELS: lists of words
NPL=$(echo $BATCH | tr ' ' ',')
MAXB=1
for b in $BATCH; do [ "$b" -gt "$MAXB" ] && MAXB=$b; done
CTX=$(( (BATCH_PP + BATCH_TG) * MAXB + 256 ))

allm_run() {  # $1: file, $2: output, then cuda_model_bench's options
  f=$1 out=$2; shift 2
  # shellcheck disable=SC2086  # ALLM_ENV: several VAR=VALUE words or none
  env $ALLM_ENV "$TREE/bin/cuda_model_bench" "$f" "$TREE/lib/allm/plugins" cuda --rounds 3 "$@" >> "$out" 2>&1 ||
    { echo "cuda_model_bench failed on $f:" >&2; tail -5 "$out" >&2; exit 1; }
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
printf '%s\n' "rounds: $ROUNDS  pp$PP tg$TG  batched: $BATCH sequences on ${BATCH_MODEL:-none} (pp$BATCH_PP, tg$BATCH_TG each)${ALLM_ENV:+  allm env: $ALLM_ENV}"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  i=0
  for m in $MODELS; do
    allm_run "$m" "$TMP/allm.$i.txt" --pp "$PP" --tg "$TG"
    "$LLAMA_BIN/llama-bench" -m "$m" -ngl 99 -fa 1 -p "$PP" -n "$TG" -r 3 -o jsonl 2>/dev/null | grep '^{' >> "$TMP/llama.$i.jsonl"
    i=$((i + 1))
  done
  if [ -n "$BATCH_MODEL" ]; then
    allm_run "$BATCH_MODEL" "$TMP/allm.batch.txt" --pp 1 --tg "$BATCH_TG" --batch "$NPL" --batch-pp "$BATCH_PP"
    "$LLAMA_BIN/llama-batched-bench" -m "$BATCH_MODEL" -ngl 99 -fa 1 -c "$CTX" -b 2048 -ub 512 -npp "$BATCH_PP" \
      -ntg "$BATCH_TG" -npl "$NPL" --output-format jsonl 2>/dev/null | grep '^{' >> "$TMP/llama.batch.jsonl" || true
  fi
  printf '  round %d done\n' "$((r + 1))"
  r=$((r + 1))
done

# shellcheck disable=SC2086
python3 - "$TMP" "$PP" "$TG" "$BATCH" "$BATCH_MODEL" $MODELS <<'PY'
import json, os, re, statistics, sys
tmp, pp, tg, batches, batch_model, models = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(b) for b in sys.argv[4].split()], sys.argv[5], sys.argv[6:]
med = lambda v: statistics.median(v) if v else float("nan")
fmt = lambda v: " / ".join(f"{x:,.1f}" for x in v) if v else "-"
def ratio(a, b): return f"{a / b:.2f}x" if a == a and b == b and b > 0 else "-"

print(f"\n| file | pp{pp} allm | pp{pp} llama.cpp | ratio | tg{tg} allm | tg{tg} llama.cpp | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for i, m in enumerate(models):
    text = open(os.path.join(tmp, f"allm.{i}.txt")).read()
    a_pp = [float(x) for x in re.findall(rf"pp{pp}: ([0-9.]+) tok/s", text)]
    a_tg = [float(x) for x in re.findall(rf"tg{tg}: ([0-9.]+) tok/s", text)]
    l_pp, l_tg = [], []
    path = os.path.join(tmp, f"llama.{i}.jsonl")
    for line in open(path) if os.path.exists(path) else []:
        row = json.loads(line)
        if row.get("n_prompt") == pp and row.get("n_gen") == 0: l_pp.append(row["avg_ts"])
        if row.get("n_gen") == tg and row.get("n_prompt") == 0: l_tg.append(row["avg_ts"])
    print(f"| {os.path.basename(m)} | {fmt(a_pp)} | {fmt(l_pp)} | {ratio(med(a_pp), med(l_pp))} "
          f"| {fmt(a_tg)} | {fmt(l_tg)} | {ratio(med(a_tg), med(l_tg))} |")

if batch_model:
    text = open(os.path.join(tmp, "allm.batch.txt")).read()
    allm = {b: [float(x) for x in re.findall(rf"batched decode, {b} sequences [^:]*: ([0-9.]+) tok/s", text)] for b in batches}
    llama = {b: [] for b in batches}
    path = os.path.join(tmp, "llama.batch.jsonl")
    for line in open(path) if os.path.exists(path) else []:
        row = json.loads(line)
        if row.get("pl") in llama: llama[row["pl"]].append(row["speed_tg"])
    print(f"\n| {os.path.basename(batch_model)} batched decode (aggregate t/s) | allm | llama-batched-bench | ratio |")
    print("| --- | --- | --- | --- |")
    for b in batches:
        print(f"| {b} sequences | {fmt(allm[b])} | {fmt(llama[b])} | {ratio(med(allm[b]), med(llama[b]))} |")
PY
