#!/usr/bin/env bash
# Runs a command under a wall-clock and an address-space limit and checks how
# it ended: the exit code and a text its stdout or stderr must contain.
# Usage: run_bounded.sh SECONDS MEGABYTES EXIT_CODE TEXT -- COMMAND...
# MEGABYTES 0 means no memory limit (sanitizer builds reserve terabytes of
# address space for their shadow memory).
set -uo pipefail
seconds=$1 megabytes=$2 want_exit=$3 want_text=$4
shift 5
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One malloc arena per thread reserves 64 MiB of address space each: keep
# the count small so the limit measures what the command allocates.
export MALLOC_ARENA_MAX=2
start=$(date +%s%N)
(
  [ "$megabytes" != 0 ] && ulimit -v $((megabytes * 1024))
  exec timeout --signal=KILL "$seconds" "$@"
) >"$out" 2>&1
code=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "exit $code after ${elapsed_ms} ms: $(head -c 600 "$out")"
if [ "$code" = 137 ]; then
  echo "FAIL: still running after ${seconds}s (or killed for memory)"
  exit 1
fi
if [ "$code" != "$want_exit" ]; then
  echo "FAIL: exit code $code, expected $want_exit"
  exit 1
fi
if ! grep -qF -- "$want_text" "$out"; then
  echo "FAIL: output lacks '$want_text'"
  exit 1
fi
echo "ok"
