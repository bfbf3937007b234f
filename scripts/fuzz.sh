#!/usr/bin/env bash
# Builds every libFuzzer target with clang (the whole tree instrumented for
# coverage, ASan and UBSan, in build-fuzz/) and runs each for a short budget
# over its seed corpus, so that a regression any seed or a few seconds of
# mutation reaches fails CI. Any crash, leak, sanitizer report, timeout or
# out-of-memory fails the script.
#   ALLM_FUZZ_SECONDS  seconds per target (default 15)
#   scripts/fuzz.sh [TARGET...]   only these targets (e.g. fuzz_jinja)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${ALLM_FUZZ_SECONDS:-15}
jobs=$(nproc)

# target -> seed corpus (and libFuzzer options)
declare -A corpus=(
  [fuzz_gguf]=fuzz/gguf/corpus
  [fuzz_grammar]=fuzz/grammar/corpus
  [fuzz_jinja]=fuzz/jinja/corpus
  [fuzz_safetensors]=fuzz/safetensors/corpus
  [fuzz_tokenizer]=fuzz/tokenizer/corpus
  [fuzz_provider_request]=fuzz/provider/corpus
  [fuzz_media_text]=fuzz/media/corpus_text
  [fuzz_media_image]=fuzz/media/corpus_image
  [fuzz_media_pdf]=fuzz/media/corpus_pdf
)
declare -A extra=([fuzz_jinja]="-dict=fuzz/jinja/jinja.dict")

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(printf '%s\n' "${!corpus[@]}" | sort))

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g" \
  -DALLM_BUILD_FUZZ=ON -DALLM_BUILD_TESTS=OFF -DALLM_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  echo "== $t: ${seconds}s over ${corpus[$t]}"
  # New inputs go to a scratch folder; the seed corpus is only read.
  if ! build-fuzz/bin/"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/$t-" ${extra[$t]:-} "$work/$t" "${corpus[$t]}" >"$work/$t.log" 2>&1; then
    failed=1
    echo "FAIL: $t"
    tail -n 60 "$work/$t.log"
    for a in "$work/$t-"*; do [ -f "$a" ] && echo "reproducer $a (base64):" && base64 -w0 "$a" | head -c 4000 && echo; done
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work/$t.log" | tail -n 2
  fi
done
if [ "$failed" = 0 ]; then
  echo "fuzz: all ${#targets[@]} targets ran clean"
  exit 0
fi
exit 1
