#!/usr/bin/env bash
# Builds every example (debug) and runs each one in examples/ to completion
# with a time limit: without KAFKA_BROKERS each starts librdkafka's mock
# cluster in-process and must finish by itself with status 0. New files in
# examples/ are picked up automatically (run without arguments); examples
# that need a cluster the mock cannot be (secure_client: TLS + SASL) are
# only built.
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
for name in "${names[@]}"; do
  args=()
  envs=()
  stdin=/dev/null
  case "$name" in
    secure_client)
      printf -- '--- %-14s %s\n' "$name" "built, not run (needs a TLS/SASL broker: tests/tls_stunnel.rs, sasl_tansu.rs)"
      continue ;;
    demo) envs=(DEMO_RECORDS="${DEMO_RECORDS:-20000}") ;;
    # Prints its bootstrap servers and exits when stdin closes (here at once).
    mock_cluster) args=(--brokers 3 --racks orders:4) ;;
  esac
  start=$(date +%s%N)
  if env "${envs[@]}" timeout --kill-after=5 "$limit" \
      "target/debug/examples/$name" "${args[@]}" <"$stdin" >"$log" 2>&1; then
    status=ok
  else
    status="FAILED (exit $?)"
    failed+=("$name")
  fi
  printf -- '--- %-14s %-18s %5.1f s\n' "$name" "$status" "$(( ($(date +%s%N) - start) / 1000000 ))e-3"
  if [ "$status" != ok ]; then
    tail -n 30 "$log" | sed 's/^/    /'
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "examples failed: ${failed[*]}" >&2
  exit 1
fi
