#!/usr/bin/env bash
# End-to-end interop of the `kafkit` CLI with kcat (librdkafka) on librdkafka's
# mock cluster (examples/mock_cluster.rs, 3 brokers in racks rack1..rack3):
#  1. kafkit produce (-K : keys incl. empty and missing ones, -H headers incl. a
#     null one, every -z codec, acks 1/-1/all/0) -> kcat -C reads every record
#     back: same key, value and headers, each key in one partition and in order;
#     kafkit's delivered/failed count and `metadata -O` offsets agree.
#  2. kcat -P writes -> `kafkit metadata` lists brokers with racks and every
#     topic; `-t TOPIC -O` shows its partitions and the record count.
#  3. kcat -P writes -> `kafkit consume -G` reads every record (values, keys,
#     headers), stops at the end (-e) and commits: a kcat -G consumer in the
#     same group then reads only what was written afterwards; `-c` stops early.
#  4. kafkit produce (the topics of 1.) -> `kafkit consume -e -J` prints the
#     same JSON as `kcat -C -e -J`, compared field by field (python3 json).
#  5. failures: a nonexistent partition, an unknown -X property, an unknown
#     topic each exit non-zero.
# Exits non-zero on the first mismatch; stops the mock cluster on exit.
# Usage: scripts/interop_kcat.sh        (N records per codec: KAFKIT_INTEROP_N, default 200)
set -euo pipefail
cd "$(dirname "$0")/.."

n="${KAFKIT_INTEROP_N:-200}"
codecs=(none gzip snappy lz4 zstd)
acks_for=(1 -1 all 0 all)

fail() { echo "interop_kcat: FAIL: $*" >&2; exit 1; }
say() { printf -- '--- %s\n' "$*"; }

if ! command -v kcat >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y kcat >/dev/null || { apt-get update >/dev/null && apt-get install -y kcat >/dev/null; }
  else
    fail "kcat is not installed (Debian: apt-get install kcat)"
  fi
fi

cargo build --bin kafkit --example mock_cluster
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
kafkit="$target_dir/debug/kafkit"
mock_bin="$target_dir/debug/examples/mock_cluster"
[ -x "$kafkit" ] && [ -x "$mock_bin" ] || fail "built binaries not found under $target_dir"

work="$(mktemp -d)"
mock_pid=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$mock_pid" ]; then
    # Closing its stdin stops the mock; kill it if it lingers.
    for _ in $(seq 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

topics=(rev:3 kc:4)
for c in "${codecs[@]}"; do topics+=("k-$c:4"); done
mkfifo "$work/ctl"
"$mock_bin" --brokers 3 --racks "${topics[@]}" <"$work/ctl" >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
exec 3>"$work/ctl"
for _ in $(seq 300); do
  grep -qx ready "$work/mock.out" 2>/dev/null && break
  kill -0 "$mock_pid" 2>/dev/null || { cat "$work/mock.err" >&2; fail "mock cluster exited"; }
  sleep 0.1
done
grep -qx ready "$work/mock.out" || fail "mock cluster not ready"
brokers="$(head -n1 "$work/mock.out")"
say "mock cluster at $brokers"

# Sum of HIGH-LOW over the `offsets: LOW..HIGH` fields of `kafkit metadata -O`.
stored_records() {
  sed -n 's/.*, offsets: \([0-9]*\)\.\.\([0-9]*\)$/\1 \2/p' | awk '{s += $2 - $1} END {print s + 0}'
}

# --- 1. kafkit produce -> kcat consume -------------------------------------
run="run$$"
headers_expected="src=kafkit,run=$run,flag=NULL"
for i in "${!codecs[@]}"; do
  codec="${codecs[$i]}"
  acks="${acks_for[$i]}"
  topic="k-$codec"
  input="$work/$topic.in"
  expected="$work/$topic.expected"
  : >"$input"
  : >"$expected"
  for j in $(seq 1 "$n"); do
    case $((j % 50)) in
      7) line="no key in line $j"; key=""; klen=-1; value="$line" ;;
      8) line=":empty key $j"; key=""; klen=0; value="empty key $j" ;;
      *) key="user-$((j % 13))"; klen=${#key}; value="v$j: sp aces, colons: and ünïcode €"; line="$key:$value" ;;
    esac
    printf '%s\n' "$line" >>"$input"
    # key length (-1: null), key, value length in bytes, value, headers: kcat's %K %k %S %s %h
    printf '%s\t%s\t%s\t%s\t%s\n' "$klen" "$key" "$(LC_ALL=C; echo ${#value})" "$value" "$headers_expected" >>"$expected"
  done
  say "kafkit produce -z $codec --acks $acks: $n lines to $topic"
  status=0
  "$kafkit" produce -b "$brokers" -t "$topic" -K : -H src=kafkit -H "run=$run" -H flag \
    -z "$codec" --acks "$acks" <"$input" 2>"$work/$topic.err" || status=$?
  cat "$work/$topic.err"
  [ "$status" -eq 0 ] || fail "kafkit produce exited $status"
  grep -qx "kafkit: $n delivered, 0 failed (topic $topic)" "$work/$topic.err" \
    || fail "kafkit did not report $n delivered"

  timeout 60 kcat -b "$brokers" -C -t "$topic" -o beginning -e -q \
    -f '%p\t%o\t%K\t%k\t%S\t%s\t%h\n' >"$work/$topic.got"
  cut -f3- "$work/$topic.got" | sort >"$work/$topic.got.sorted"
  sort "$expected" >"$work/$topic.expected.sorted"
  if ! diff -u "$work/$topic.expected.sorted" "$work/$topic.got.sorted" >"$work/$topic.diff"; then
    head -n 40 "$work/$topic.diff" >&2
    fail "$topic: kcat read back something else than kafkit produced"
  fi
  # Keyed records: each key in a single partition, in the order produced
  # (kcat prints each partition in offset order; values start with v<line>).
  awk -F'\t' '$4 ~ /^user-/ {
      seq = substr($6, 2, index($6, ":") - 2) + 0
      if (($4 in part) && part[$4] != $1) { print "key " $4 " in partitions " part[$4] " and " $1; bad = 1 }
      if (($4 in last) && last[$4] >= seq) { print "key " $4 ": v" seq " after v" last[$4]; bad = 1 }
      part[$4] = $1; last[$4] = seq
    } END { exit bad }' "$work/$topic.got" >&2 || fail "$topic: per-key partitioning or order broken"
  stored="$("$kafkit" metadata -b "$brokers" -t "$topic" -O | stored_records)"
  [ "$stored" -eq "$n" ] || fail "$topic: metadata -O counts $stored records, want $n"
  say "$topic: kcat read all $n records (keys, values, headers, per-key order); metadata -O counts $stored"
done

# --- 2. kcat produce -> kafkit metadata --------------------------------------
say "kcat -P: $n lines to rev"
seq 1 "$n" | sed 's/^/key-/; s/$/:from kcat/' \
  | kcat -b "$brokers" -P -t rev -K : -H src=kcat -z snappy
"$kafkit" metadata -b "$brokers" >"$work/all.txt"
cat "$work/all.txt"
grep -q '^ 3 brokers:$' "$work/all.txt" || fail "metadata: not 3 brokers"
for id in 1 2 3; do
  grep -q "^  broker $id at 127\.0\.0\.1:[0-9]*, rack rack$id" "$work/all.txt" || fail "metadata: broker $id"
done
for t in "${topics[@]}"; do
  grep -q "^  topic \"${t%%:*}\" with ${t##*:} partitions:$" "$work/all.txt" || fail "metadata: topic $t"
done
"$kafkit" metadata -b "$brokers" -t rev -O >"$work/rev.txt"
cat "$work/rev.txt"
[ "$(grep -c '^    partition [0-9]*, leader [1-3], replicas: [1-3],[1-3],[1-3], isrs: ' "$work/rev.txt")" -eq 3 ] \
  || fail "metadata -t rev: expected 3 partitions with leaders and 3 replicas"
stored="$(stored_records <"$work/rev.txt")"
[ "$stored" -eq "$n" ] || fail "metadata -t rev -O counts $stored records, want $n"
say "rev: kafkit metadata shows the $n records kcat wrote"

# --- 3. kcat produce -> kafkit consume -G -----------------------------------
say "kcat -P: $n lines to kc; kafkit consume -G cli-group -o beginning -e"
seq 1 "$n" | sed 's/^/key-/; s/$/:kcat value/' | kcat -b "$brokers" -P -t kc -K : -H src=kcat -z lz4
status=0
timeout 120 "$kafkit" consume -b "$brokers" -G cli-group -t kc -o beginning -e -J \
  >"$work/kc.json" 2>"$work/kc.err" || status=$?
cat "$work/kc.err"
[ "$status" -eq 0 ] || fail "kafkit consume -G exited $status"
python3 - "$work/kc.json" "$n" <<'PY' || fail "kc: kafkit consume -G did not print what kcat wrote"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
n = int(sys.argv[2])
want = {f"key-{i}": "kcat value" for i in range(1, n + 1)}
got = {r["key"]: r["payload"] for r in rows}
assert len(rows) == n, f"{len(rows)} records, want {n}"
assert got == want, "keys or values differ"
assert all(r["topic"] == "kc" and r["headers"] == ["src", "kcat"] for r in rows), "topic or headers"
assert len({(r["partition"], r["offset"]) for r in rows}) == n, "a record twice"
PY
say "kc: kafkit consume -G printed all $n records kcat wrote"
# kafkit committed on exit: librdkafka in the same group starts after them.
# (librdkafka's mock leaves a JoinGroup unanswered when it arrives within the
# session timeout after the group's last member left, 10 s for kafkit
# consume; a real broker answers at once. Hence the wait.)
seq 1 5 | sed 's/^/later-/' | kcat -b "$brokers" -P -t kc
sleep 11
timeout 60 kcat -b "$brokers" -G cli-group -X session.timeout.ms=6000 -e -q -f '%s\n' kc \
  | sort >"$work/kc.after"
printf 'later-%s\n' 1 2 3 4 5 | diff -u - "$work/kc.after" \
  || fail "kcat -G did not resume from the offsets kafkit consume -G committed"
"$kafkit" consume -b "$brokers" -t kc -c 7 -q >"$work/kc.seven"
[ "$(wc -l <"$work/kc.seven")" -eq 7 ] || fail "consume -c 7 printed $(wc -l <"$work/kc.seven") lines"
say "kc: kcat -G resumed after kafkit's commits (read only the 5 new records); -c 7 printed 7"

# --- 4. kafkit produce -> kafkit consume -J == kcat -C -J ---------------------
for codec in "${codecs[@]}"; do
  topic="k-$codec"
  timeout 60 "$kafkit" consume -b "$brokers" -t "$topic" -e -J -q >"$work/$topic.kafkit.json" \
    || fail "kafkit consume -t $topic exited non-zero"
  timeout 60 kcat -b "$brokers" -C -t "$topic" -o beginning -e -J -q >"$work/$topic.kcat.json"
  python3 - "$work/$topic.kafkit.json" "$work/$topic.kcat.json" "$n" <<'PY' \
    || fail "$topic: kafkit consume -J differs from kcat -C -J"
import json, sys
def load(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    return {(r["partition"], r["offset"]): r for r in rows}, len(rows)
ours, n_ours = load(sys.argv[1])
theirs, n_theirs = load(sys.argv[2])
n = int(sys.argv[3])
assert n_ours == n_theirs == len(ours) == n, f"kafkit {n_ours}, kcat {n_theirs} records, want {n}"
assert ours.keys() == theirs.keys(), "different (partition, offset) sets"
for at, mine in ours.items():
    kcat = theirs[at]
    assert list(mine) == list(kcat), f"{at}: fields {list(mine)} vs kcat's {list(kcat)}"
    for field, value in kcat.items():
        assert type(mine[field]) is type(value), f"{at} {field}: type {type(mine[field])} vs {type(value)}"
        assert mine[field] == value, f"{at} {field}: {mine[field]!r} vs kcat's {value!r}"
PY
  cmp -s "$work/$topic.kafkit.json" "$work/$topic.kcat.json" \
    || sort "$work/$topic.kafkit.json" | cmp -s - <(sort "$work/$topic.kcat.json") \
    || fail "$topic: same fields but not the same bytes"
done
say "kafkit consume -e -J prints what kcat -C -e -J prints (every field, every codec, byte for byte)"

# --- 5. failures exit non-zero -------------------------------------------------
status=0
printf 'a\nb\nc\n' | "$kafkit" produce -b "$brokers" -t k-none -p 99 2>"$work/p99.err" || status=$?
cat "$work/p99.err"
[ "$status" -eq 1 ] || fail "produce to partition 99 exited $status, want 1"
grep -qx 'kafkit: 0 delivered, 3 failed (topic k-none)' "$work/p99.err" || fail "produce -p 99: wrong summary"
status=0
"$kafkit" produce -b "$brokers" -t k-none -X no.such.property=1 </dev/null 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "unknown -X property exited $status, want 2"
status=0
"$kafkit" metadata -b "$brokers" -t no-such-topic >/dev/null || status=$?
[ "$status" -eq 1 ] || fail "metadata of an unknown topic exited $status, want 1"
say "failures: partition 99, unknown -X property and unknown topic exit non-zero"

say "interop_kcat: OK"
