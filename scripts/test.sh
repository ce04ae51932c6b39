#!/usr/bin/env bash
# Runs every check kafkit has: formatting, lints, rustdoc, the test suite (unit, property,
# golden-frame, live mock-cluster tests; the `kafkit` CLI crate in cli/ too), a
# no-default-features build, the "no C in the library or the CLI" check, the
# examples run to completion on the mock cluster (scripts/examples.sh), the
# CLI's interop run against kcat (scripts/interop_kcat.sh), the NestJS
# request-reply interop (its npm packages installed by scripts/nest_deps.sh) and a short run of
# each fuzz target.
# Usage: scripts/test.sh            (all)
#        KAFKIT_SKIP_FUZZ=1 scripts/test.sh   (without the fuzz step)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, all features: serde too; -D warnings)"
cargo clippy --all-targets --all-features -- -D warnings

step "cargo doc (library; broken or private intra-doc links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features -p kafkit -p kafkit-core --quiet

step "no C in the library or the CLI: cargo tree -e normal lists no *-sys crate"
if cargo tree -e normal --prefix none | grep -E '^[a-z0-9_-]+-sys ' ; then
  echo "library depends on a -sys crate" >&2
  exit 1
fi

step "sans-IO core: cargo tree -p kafkit-core -e normal has no tokio, rustls or *-sys crate"
if cargo tree -p kafkit-core -e normal --prefix none | grep -E '^(tokio|tokio-[a-z-]+|rustls|rustls-[a-z-]+|[a-z0-9_-]+-sys) ' ; then
  echo "kafkit-core depends on an I/O runtime, TLS or a -sys crate" >&2
  exit 1
fi

step "build without default features"
cargo build -p kafkit --lib --no-default-features
cargo build -p kafkit-core --lib --no-default-features

step "ready to publish: cargo package --workspace --no-verify (kafkit-core, kafkit, kafkit-cli; seconds, offline)"
# Checks the manifests (versions on path dependencies, metadata) and what
# each .crate holds; the build from the packages is what `cargo test` does.
package_log="$(mktemp)"
if ! cargo package --workspace --no-verify --offline --allow-dirty --quiet >"$package_log" 2>&1; then
  cat "$package_log" >&2
  exit 1
fi
# The test rig (tests/, benches/, golden frames) stays out of the packages.
grep -v -E '^warning: ignoring (test|benchmark|example) ' "$package_log" || true
rm -f "$package_log"
for crate in kafkit-core kafkit kafkit-cli; do
  test -s "target/package/$crate-$(cargo pkgid -p "$crate" --offline | sed 's/.*[@#]//').crate"
done

step "NestJS peer for the request-reply interop tests (npm)"
scripts/nest_deps.sh

step "Apache Kafka for the run: one node and a 3-node cluster (scripts/kafka.sh)"
# Started once and shared by every test binary (tests/support/kafka.rs reads
# KAFKIT_KAFKA / KAFKIT_KAFKA_CLUSTER; without them each binary starts its
# own). Tests that kill nodes start clusters of their own. A user's
# KAFKA_BROKERS is left alone: the tests then use that cluster.
kafka_run="$(mktemp -d "${TMPDIR:-/tmp}/kafkit-run.XXXXXX")"
stop_kafka() {
  scripts/kafka.sh stop "$kafka_run/single" >/dev/null 2>&1 || true
  scripts/kafka.sh stop "$kafka_run/cluster" >/dev/null 2>&1 || true
}
trap stop_kafka EXIT
if [ -z "${KAFKA_BROKERS:-}" ] && command -v java >/dev/null && command -v mvn >/dev/null; then
  KAFKIT_KAFKA="$(scripts/kafka.sh start "$kafka_run/single" --nodes 1 --watch $$)"
  KAFKIT_KAFKA_CLUSTER="$(scripts/kafka.sh start "$kafka_run/cluster" --nodes 3 --watch $$)"
  export KAFKIT_KAFKA KAFKIT_KAFKA_CLUSTER
  echo "single node: $KAFKIT_KAFKA; cluster: $KAFKIT_KAFKA_CLUSTER (logs: $kafka_run)"
fi

step "cargo test"
cargo test --all-targets --all-features --no-fail-fast
cargo test --doc --all-features

step "every example runs to completion on the mock cluster and on the run's Kafka node"
scripts/examples.sh

step "kafkit CLI against kcat on the mock cluster"
scripts/interop_kcat.sh

if [ "${KAFKIT_SKIP_FUZZ:-0}" != "1" ] && [ -d fuzz ]; then
  step "fuzz targets: build and run each briefly"
  scripts/fuzz.sh "${KAFKIT_FUZZ_SECONDS:-15}"
fi
