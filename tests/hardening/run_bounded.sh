#!/usr/bin/env bash
# Runs a command under a CPU-time and an address-space limit and checks how
# it ended: the exit code and a text its stdout or stderr must contain. The
# bound is on CPU time (user + system), so a busy machine does not make the
# test flaky; wall-clock time is cut off at four times the bound (a hang).
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
  exec timeout --signal=KILL $((seconds * 4)) "$@"
) >"$out" 2>&1
code=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# `times` (run in this shell, not a subshell): its second line is the user and
# system time of this shell's finished children.
times >"$out.times"
read -r user sys < <(tail -n 1 "$out.times")
rm -f "$out.times"
to_ms() { [[ $1 =~ ^([0-9]+)m([0-9]+)\.([0-9]+)s$ ]] && echo $(( (10#${BASH_REMATCH[1]} * 60 + 10#${BASH_REMATCH[2]}) * 1000 + 10#${BASH_REMATCH[3]} )); }
cpu_ms=$(( $(to_ms "$user") + $(to_ms "$sys") ))
echo "exit $code after ${elapsed_ms} ms (${cpu_ms} ms CPU): $(head -c 600 "$out")"
if [ "$code" = 137 ]; then
  echo "FAIL: still running after $((seconds * 4))s (or killed for memory)"
  exit 1
fi
if [ "$cpu_ms" -gt $((seconds * 1000)) ]; then
  echo "FAIL: took ${cpu_ms} ms of CPU, over the bound of ${seconds}s"
  exit 1
fi
if [ "$code" != "$want_exit" ]; then
  echo "FAIL: exit code $code, expected $want_exit"
  exit 1
fi
# An empty TEXT checks only the exit code (grep would fail on empty output:
# a one-token reply can be empty).
if [ -n "$want_text" ] && ! grep -qF -- "$want_text" "$out"; then
  echo "FAIL: output lacks '$want_text'"
  exit 1
fi
echo "ok"
