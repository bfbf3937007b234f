#!/usr/bin/env bash
# Builds every libFuzzer target with clang (the whole tree but the tests
# instrumented for coverage, ASan and UBSan, in build-fuzz/) and runs each over
# its seed corpus.
# Any crash, leak, sanitizer report, timeout or out-of-memory fails the script.
#
# Two modes:
#  - default (CI): a fixed seed and a fixed number of runs per target (about
#    ten seconds each on a CI core), so the same tree always executes the same
#    inputs: a failure is a regression of this tree, never the luck of a run.
#  - ALLM_FUZZ_SECONDS=N: explore for N seconds per target with a random seed
#    (by hand, to find new bugs; add each reproducer to the target's corpus or
#    a unit test once fixed).
#   scripts/fuzz.sh [TARGET...]   only these targets (e.g. fuzz_jinja)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${ALLM_FUZZ_SECONDS:-}
jobs=$(nproc)

# target -> seed corpus (and libFuzzer options)
declare -A corpus=(
  [fuzz_gguf]=fuzz/gguf/corpus
  [fuzz_grammar]=fuzz/grammar/corpus
  [fuzz_tool_calls]=fuzz/tool_calls/corpus
  [fuzz_jinja]=fuzz/jinja/corpus
  [fuzz_safetensors]=fuzz/safetensors/corpus
  [fuzz_tokenizer]=fuzz/tokenizer/corpus
  [fuzz_provider_request]=fuzz/provider/corpus
  [fuzz_server_request]=fuzz/server/corpus
  [fuzz_media_text]=fuzz/media/corpus_text
  [fuzz_media_image]=fuzz/media/corpus_image
  [fuzz_media_pdf]=fuzz/media/corpus_pdf
)
declare -A extra=([fuzz_jinja]="-dict=fuzz/jinja/jinja.dict")
# runs per target in the deterministic mode: ~10 s at each target's speed on CI
declare -A runs=(
  [fuzz_gguf]=80000 [fuzz_grammar]=12000 [fuzz_jinja]=25000 [fuzz_safetensors]=70000
  [fuzz_tokenizer]=7000 [fuzz_provider_request]=200000 [fuzz_server_request]=60000 [fuzz_media_text]=400000
  [fuzz_media_image]=400000 [fuzz_media_pdf]=3000 [fuzz_tool_calls]=15000
)

targets=("$@")
for t in "${!corpus[@]}"; do
  [ -n "${runs[$t]:-}" ] || { echo "fuzz.sh: $t has no entry in runs (add one: ~10 s on a CI core)" >&2; exit 2; }
done
[ ${#targets[@]} -eq 0 ] && targets=($(printf '%s\n' "${!corpus[@]}" | sort))

# ALLM_FUZZ_BUILT=1: scripts/test.sh built the targets already (and builds
# the rest of build-fuzz/ while they run: a second build here would race it).
if [ "${ALLM_FUZZ_BUILT:-0}" != "1" ]; then
  scripts/configure-fuzz.sh
  cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One target: its report goes to $work/$t.out, its exit status to $work/$t.rc.
run_target() {
  local t=$1 budget
  mkdir -p "$work/$t"
  {
    if [ -n "$seconds" ]; then
      budget=(-max_total_time="$seconds")
      echo "== $t: ${seconds}s, random seed, over ${corpus[$t]}"
    else
      budget=(-runs="${runs[$t]}" -seed=1)
      echo "== $t: ${runs[$t]} runs, seed 1, over ${corpus[$t]}"
    fi
    # New inputs go to a scratch folder; the seed corpus is only read.
    if ! build-fuzz/bin/"$t" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/$t-" ${extra[$t]:-} "$work/$t" "${corpus[$t]}" >"$work/$t.log" 2>&1; then
      echo 1 >"$work/$t.rc"
      echo "FAIL: $t"
      tail -n 60 "$work/$t.log"
      for a in "$work/$t-"*; do [ -f "$a" ] && echo "reproducer $a (base64):" && base64 -w0 "$a" | head -c 4000 && echo; done
    else
      echo 0 >"$work/$t.rc"
      grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work/$t.log" | tail -n 2
    fi
  } >"$work/$t.out"
}
# A libFuzzer process uses one core: the targets run $jobs at a time (each its
# own process, seed and run count, so the same inputs as one at a time; on the
# 2-core CI machine ~85 s instead of ~135 s, each target running 20-40% slower
# beside another). Reports are printed in order, once all have run.
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_target "$t" &
done
wait
failed=0
for t in "${targets[@]}"; do
  cat "$work/$t.out"
  [ "$(cat "$work/$t.rc" 2>/dev/null)" = 0 ] || { failed=1; grep -q '^FAIL' "$work/$t.out" || echo "FAIL: $t (no result)"; }
done
if [ "$failed" = 0 ]; then
  echo "fuzz: all ${#targets[@]} targets ran clean"
  exit 0
fi
exit 1
