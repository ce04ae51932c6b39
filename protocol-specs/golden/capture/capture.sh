#!/usr/bin/env bash
# Re-records the golden frames under protocol-specs/golden/ (see README.md there).
# Needs root (tcpdump on lo) and Debian's tcpdump, kcat, python3-kafka,
# python3-snappy, python3-lz4, python3-zstandard.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
golden=$(dirname "$here")
repo=$(cd "$golden/../.." && pwd)
work=$(mktemp -d)
stub_port=${STUB_PORT:-39092}

cargo build --manifest-path "$repo/Cargo.toml" --example golden_capture
tcpdump -i lo -s 0 -U -Z root -w "$work/capture.pcap" tcp 2>"$work/tcpdump.log" &
tcpdump_pid=$!
/usr/bin/python3 "$here/stub_broker.py" "$stub_port" 2>"$work/stub.log" &
stub_pid=$!
cleanup() { kill "$stub_pid" 2>/dev/null || true; kill "$tcpdump_pid" 2>/dev/null || true; }
trap cleanup EXIT
sleep 2
cargo run --manifest-path "$repo/Cargo.toml" --example golden_capture -- "$work" "127.0.0.1:$stub_port" 2>"$work/driver.log" \
  || { tail -30 "$work/driver.log"; exit 1; }
sleep 1
kill "$tcpdump_pid"; wait "$tcpdump_pid" || true
cat "$work/tcpdump.log"
/usr/bin/python3 "$here/extract.py" "$work/capture.pcap" "$work/brokers.txt" "$stub_port" "$golden"
echo "capture work files kept in $work"
