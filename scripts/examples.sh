#!/usr/bin/env bash
# Builds every example (debug) and runs each one in examples/ to completion
# with a time limit, exactly as the README gives it (no settings changed:
# the demo runs its default workload): first on the embedded broker
# (KAFKA_BROKERS unset: each starts librdkafka's mock cluster in-process),
# then, when KAFKIT_KAFKA is set (scripts/test.sh starts an Apache Kafka
# node and exports it), against that broker with KAFKA_BROKERS=$KAFKIT_KAFKA.
# Each must finish by itself with status 0; one row per example and broker.
# New files in examples/ are picked up automatically (run without
# arguments); examples that need a cluster neither can be (secure_client:
# TLS + SASL) are only built. A KAFKA_BROKERS of the caller's is used for
# the embedded row too (the examples then all run against that cluster).
# Usage: scripts/examples.sh              (limit per example: KAFKIT_EXAMPLE_TIMEOUT, default 60 s)
#        scripts/examples.sh demo consumer  (only these)
set -euo pipefail
cd "$(dirname "$0")/.."

limit="${KAFKIT_EXAMPLE_TIMEOUT:-60}"
cargo build --examples --quiet

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in examples/*.rs; do names+=("$(basename "$f" .rs)"); done
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
failed=()

# run_one NAME BROKER-LABEL [KAFKA_BROKERS value]
run_one() {
  local name="$1" label="$2" brokers="${3:-}" args=() status start
  case "$name" in
    # Prints its bootstrap servers and exits when stdin closes (here at once).
    mock_cluster)
      [ -n "$brokers" ] && return 0 # it is the embedded broker itself
      args=(--brokers 3 --racks orders:4) ;;
  esac
  local envs=()
  [ -n "$brokers" ] && envs=(KAFKA_BROKERS="$brokers")
  start=$(date +%s%N)
  if env "${envs[@]}" timeout --kill-after=5 "$limit" \
      "target/debug/examples/$name" "${args[@]}" </dev/null >"$log" 2>&1; then
    status=ok
  else
    status="FAILED (exit $?)"
    failed+=("$name ($label)")
  fi
  printf -- '--- %-14s %-7s %-18s %5.1f s\n' "$name" "$label" "$status" \
    "$(( ($(date +%s%N) - start) / 1000000 ))e-3"
  if [ "$status" != ok ]; then
    tail -n 30 "$log" | sed 's/^/    /'
  else
    # The demo's verdict line: how many records were read, removed, lost.
    [ "$name" = demo ] && grep -h 'acknowledged records read' "$log" | sed 's/^/    /'
  fi
  return 0
}

for name in "${names[@]}"; do
  if [ "$name" = secure_client ]; then
    printf -- '--- %-14s %s\n' "$name" "built, not run (needs a TLS/SASL broker: tests/tls_stunnel.rs, sasl_tansu.rs)"
    continue
  fi
  run_one "$name" "$([ -n "${KAFKA_BROKERS:-}" ] && echo brokers || echo embedded)" "${KAFKA_BROKERS:-}"
  if [ -n "${KAFKIT_KAFKA:-}" ] && [ -z "${KAFKA_BROKERS:-}" ]; then
    run_one "$name" kafka "$KAFKIT_KAFKA"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "examples failed: ${failed[*]}" >&2
  exit 1
fi
