#!/bin/sh
# Side-by-side speed of allm and llama.cpp on the same GGUF file: prefill and
# decode tokens/s at the same thread counts and prompt/generation lengths, and
# the ratio allm / llama.cpp (> 1: allm is faster).
#
#   bench/gguf/compare_llama_cpp.sh --llama-bench /path/to/llama-bench --model model.gguf \
#       [--allm build/bin/allm] [--threads "1 2"] [--prompt 128] [--gen 64] [--reps 3] [--median] \
#       [--allm-args "--kv-type f16"] [--llama-env "OMP_WAIT_POLICY=passive"] [--same-depth]
#       [--depth D]
#
# llama.cpp is not part of allm: build or download llama-bench yourself.
# Both warm up first (llama-bench's warm-up run; allm bench's warm-up pass).
# allm's decode is measured after the prompt (KV cache of --prompt tokens),
# llama-bench's tg test from an empty cache. Each side reports the best of
# --reps runs (llama-bench: the fastest of its per-repetition samples), which
# is the fairest figure on a machine shared with other work. With --median
# the sides run in turn, one run each per round (allm, then llama-bench -r 1),
# for --reps rounds, and each side reports its median and its range (min-max):
# load from other work then falls on both sides alike.
# --allm-args adds options to `allm bench` (e.g. --kv-type f16, llama.cpp's
# default KV type); --llama-env runs llama-bench under extra environment
# variables (on a loaded machine, OMP_WAIT_POLICY=passive keeps its OpenMP
# workers from spinning at every barrier while the other one is descheduled).
# --same-depth times llama-bench's decode with the prompt's positions already
# in its cache (-d PROMPT, a run of its own), as allm's decode is: without it
# llama-bench decodes from an empty cache and allm after the prompt.
# --depth D fills D positions of the cache first on both sides (allm bench
# --depth D, llama-bench -d D) and times the prompt and the decode after them:
# allm then decodes at D + prompt positions, llama-bench at D. --prompt 0
# times decode alone (allm prefills one token, llama-bench runs no pp test),
# which at a large --depth saves each side a fill of the cache.
set -eu

LLAMA_BENCH="" MODEL="" ALLM="" THREADS="1 2" PROMPT=128 GEN=64 REPS=3 MEDIAN=0 ALLM_ARGS="" LLAMA_ENV="" SAME_DEPTH=0 DEPTH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --llama-bench) LLAMA_BENCH="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --allm) ALLM="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --prompt) PROMPT="$2"; shift 2 ;;
    --gen) GEN="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --median) MEDIAN=1; shift ;;
    --allm-args) ALLM_ARGS="$2"; shift 2 ;;
    --llama-env) LLAMA_ENV="$2"; shift 2 ;;
    --same-depth) SAME_DEPTH=1; shift ;;
    --depth) DEPTH="$2"; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$LLAMA_BENCH" ] && [ -x "$LLAMA_BENCH" ] || { echo "--llama-bench PATH (an executable) is required" >&2; exit 2; }
[ -n "$MODEL" ] && [ -f "$MODEL" ] || { echo "--model FILE.gguf is required" >&2; exit 2; }
if [ -z "$ALLM" ]; then ALLM="$(dirname "$0")/../../build/bin/allm"; fi
[ -x "$ALLM" ] || { echo "allm not found at $ALLM (use --allm)" >&2; exit 2; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf '%s\n' "model: $MODEL  prompt: $PROMPT  gen: $GEN  reps: $REPS  $( [ "$MEDIAN" = 1 ] && echo 'median of runs in turn' || echo 'best run' )"
[ -z "$ALLM_ARGS$LLAMA_ENV" ] || printf '%s\n' "allm bench extra: ${ALLM_ARGS:-none}  llama-bench env: ${LLAMA_ENV:-none}"
[ "$DEPTH" = 0 ] || printf '%s\n' "both sides start with $DEPTH positions in the cache (allm --depth, llama-bench -d)"
[ "$SAME_DEPTH" = 0 ] || printf '%s\n' "llama-bench decodes at depth $PROMPT (-d), as allm after the prompt"
printf '%-8s %12s %12s %7s   %12s %12s %7s\n' threads "allm pp/s" "llama pp/s" ratio "allm tg/s" "llama tg/s" ratio
for t in $THREADS; do
  : > "$TMP/allm.jsonl"
  : > "$TMP/llama.jsonl"
  allm_run() {
    # shellcheck disable=SC2086  # ALLM_ARGS: several words
    "$ALLM" bench "$MODEL" --threads "$t" --prompt-tokens "$((PROMPT > 0 ? PROMPT : 1))" --gen-tokens "$GEN" --depth "$DEPTH" --no-bandwidth --json $ALLM_ARGS \
      2>/dev/null | tr -d '\n' >> "$TMP/allm.jsonl"
    echo >> "$TMP/allm.jsonl"
  }
  llama_run() {  # $1: repetitions
    # shellcheck disable=SC2086  # LLAMA_ENV: several VAR=VALUE words
    if [ "$SAME_DEPTH" = 1 ]; then
      env $LLAMA_ENV "$LLAMA_BENCH" -m "$MODEL" -t "$t" -p "$PROMPT" -n 0 -r "$1" -o json 2>/dev/null | tr -d '\n' >> "$TMP/llama.jsonl"
      echo >> "$TMP/llama.jsonl"
      env $LLAMA_ENV "$LLAMA_BENCH" -m "$MODEL" -t "$t" -p 0 -n "$GEN" -d "$PROMPT" -r "$1" -o json 2>/dev/null | tr -d '\n' >> "$TMP/llama.jsonl"
    else
      env $LLAMA_ENV "$LLAMA_BENCH" -m "$MODEL" -t "$t" -p "$PROMPT" -n "$GEN" -d "$DEPTH" -r "$1" -o json 2>/dev/null | tr -d '\n' >> "$TMP/llama.jsonl"
    fi
    echo >> "$TMP/llama.jsonl"
  }
  r=0
  if [ "$MEDIAN" = 1 ]; then
    while [ "$r" -lt "$REPS" ]; do allm_run; llama_run 1; r=$((r + 1)); done
  else
    while [ "$r" -lt "$REPS" ]; do allm_run; r=$((r + 1)); done
    llama_run "$REPS"
  fi
  python3 - "$t" "$TMP/allm.jsonl" "$TMP/llama.jsonl" "$MEDIAN" "$PROMPT" <<'PY'
import json, statistics, sys
t, allm_file, llama_file, median, prompt = sys.argv[1:]
pick = statistics.median if median == "1" else max
runs = [json.loads(l) for l in open(allm_file) if l.strip()]
a_pp_all = [r["prefill_tokens_per_s"] for r in runs] if prompt != "0" else []
a_tg_all = [r["decode_tokens_per_s"] for r in runs]
l_pp_all, l_tg_all = [], []
for line in open(llama_file):
    if not line.strip(): continue
    for e in json.loads(line):
        samples = e.get("samples_ts") or [e["avg_ts"]]
        if e.get("n_prompt", 0) > 0 and e.get("n_gen", 0) == 0: l_pp_all += samples
        if e.get("n_gen", 0) > 0 and e.get("n_prompt", 0) == 0: l_tg_all += samples
a_pp, a_tg, l_pp, l_tg = (pick(v) if v else float("nan") for v in (a_pp_all, a_tg_all, l_pp_all, l_tg_all))
print(f"{t:<8} {a_pp:12.1f} {l_pp:12.1f} {a_pp / l_pp:7.2f}   {a_tg:12.2f} {l_tg:12.2f} {a_tg / l_tg:7.2f}")
if median == "1":
    span = lambda v: f"{min(v):.1f}-{max(v):.1f}" if v else "-"
    print(f"{'':8} range: allm pp {span(a_pp_all)}, llama pp {span(l_pp_all)}, allm tg {span(a_tg_all)}, llama tg {span(l_tg_all)}")
PY
done
