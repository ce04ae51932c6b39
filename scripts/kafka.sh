#!/usr/bin/env bash
# Apache Kafka (KRaft) for kafkit's tests, assembled from Maven Central: no
# tarball, no Docker. The broker's jars (org.apache.kafka:kafka_2.13, its
# runtime dependencies, kafka-tools and a log4j binding that matches the
# version's slf4j) are resolved by Maven into a cache once; nodes run as
# `java -cp '<cache>/libs/*' kafka.Kafka`.
#
# Usage:
#   scripts/kafka.sh fetch [VERSION]        resolve the jars; prints the libs folder
#   scripts/kafka.sh classpath [VERSION]    prints the classpath ('<libs>/*'), fetching first
#   scripts/kafka.sh start DIR [options]    format and start nodes under DIR; prints the
#                                           bootstrap list (host:port,...) on stdout
#       --nodes 1|3              one combined broker+controller, or three (default 1)
#       --version V              default $KAFKIT_KAFKA_VERSION or 4.4.0
#       --transaction-version N  transaction.version at format time (1 or 2; 4.x only)
#       --set key=value          an extra server property (repeatable)
#       --set-node N key=value   an extra server property of node N only (repeatable;
#                                e.g. --set-node 2 broker.rack=r2)
#       --listener NAME:PROTOCOL an extra listener on a free loopback port of each
#                                node, advertised as such (repeatable; e.g.
#                                SASL:SASL_PLAINTEXT, TLS:SSL); its bootstrap list
#                                is the line `NAME host:port,...` of DIR/listeners.
#                                Its ssl.*/sasl.* settings go in with --set
#                                (listener.name.<name>.…). PLAINTEXT stays the
#                                first listener and the inter-broker one.
#       --add-scram CREDENTIAL   a SCRAM user created at format time (repeatable;
#                                'SCRAM-SHA-256=[name=alice,password=alice-secret]')
#       --classpath JAR          an extra jar (or folder) on the nodes' classpath, for
#                                plugins such as a metrics reporter (repeatable)
#       --watch PID              stop the nodes when process PID exits
#   scripts/kafka.sh stop DIR               stop every node started under DIR (SIGTERM, then SIGKILL)
#   scripts/kafka.sh node DIR N kill|stop|cont|restart|pid
#                                           SIGKILL / SIGSTOP / SIGCONT / start again node N
#   scripts/kafka.sh ready DIR [SECONDS]    wait until every node's port answers and
#                                           Metadata lists every broker
#
# Under DIR: bootstrap (the list), listeners (with --listener), node-N/{server.properties,pid,server.log,data}.
# Logs stay after `stop` so a failed run can be read. Environment:
#   KAFKIT_KAFKA_VERSION   pinned version (default 4.4.0; the old line tested is 3.9.1)
#   KAFKIT_KAFKA_CACHE     jar cache (default ~/.cache/kafkit/kafka)
#   KAFKIT_KAFKA_HEAP      -Xmx per node (default 512m)
#   JAVA                   java binary (default: java on the PATH)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
default_version="${KAFKIT_KAFKA_VERSION:-4.4.0}"
cache_root="${KAFKIT_KAFKA_CACHE:-$HOME/.cache/kafkit/kafka}"
java_bin="${JAVA:-java}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

# The log4j binding each line needs: 4.x logs through log4j2 behind slf4j 1.7
# (log4j-slf4j-impl); 3.9 through reload4j, which kafka_2.13 already brings.
binding_for() {
  case "$1" in
    3.*) echo "" ;;
    4.*) echo "org.apache.logging.log4j:log4j-slf4j-impl:2.25.5" ;;
    *) die "unsupported Kafka version $1 (3.9.x or 4.x)" ;;
  esac
}

libs_dir() { echo "$cache_root/$1/libs"; }

fetch() {
  local version="$1" libs tmp binding
  libs="$(libs_dir "$version")"
  if [ -f "$libs/.complete" ]; then echo "$libs"; return; fi
  command -v mvn >/dev/null || die "mvn (Maven) is needed to resolve Kafka $version"
  tmp="$(mktemp -d)"
  binding="$(binding_for "$version")"
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>kafkit.test</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>'
    echo '<dependencies>'
    for a in "org.apache.kafka:kafka_2.13:$version" "org.apache.kafka:kafka-tools:$version" $binding; do
      IFS=: read -r g n v <<<"$a"
      echo "<dependency><groupId>$g</groupId><artifactId>$n</artifactId><version>$v</version></dependency>"
    done
    echo '</dependencies></project>'
  } >"$tmp/pom.xml"
  rm -rf "$libs" && mkdir -p "$libs"
  echo "kafka.sh: resolving Apache Kafka $version from Maven Central into $libs" >&2
  if ! (cd "$tmp" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$libs" >"$tmp/mvn.log" 2>&1); then
    cat "$tmp/mvn.log" >&2
    die "Maven could not resolve Kafka $version"
  fi
  rm -rf "$tmp"
  ls "$libs"/kafka_2.13-"$version".jar >/dev/null || die "kafka_2.13-$version.jar missing after resolve"
  touch "$libs/.complete"
  echo "$libs"
}

free_ports() { # N free loopback ports, one per line
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
for s in socks: print(s.getsockname()[1])
EOF
}

# Metadata v1 to host:port; prints the number of brokers it lists (0 on any failure).
broker_count() {
  python3 - "$1" <<'EOF'
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
try:
    s = socket.create_connection((host, int(port)), timeout=2); s.settimeout(3)
    cid = b"kafkit-ready"
    body = struct.pack(">hhih", 3, 1, 7, len(cid)) + cid + struct.pack(">i", 0)
    s.sendall(struct.pack(">i", len(body)) + body)
    def read(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c: raise EOFError
            b += c
        return b
    (size,) = struct.unpack(">i", read(4)); resp = read(size)
    (count,) = struct.unpack(">i", resp[4:8])
    print(count)
except Exception:
    print(0)
EOF
}

log_config() { # DIR VERSION -> path of a logging config for that line
  local dir="$1" version="$2"
  case "$version" in
    3.*) cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
EOF
      echo "-Dlog4j.configuration=file:$dir/log4j.properties" ;;
    *) cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
      echo "-Dlog4j2.configurationFile=$dir/log4j2.properties" ;;
  esac
}

launch_node() { # DIR N
  local dir="$1" n="$2" node cp heap logopt
  node="$dir/node-$n"
  cp="$(cat "$dir/classpath")"
  heap="${KAFKIT_KAFKA_HEAP:-512m}"
  logopt="$(cat "$node/logopt")"
  # setsid: the node is its own process group, so a test's Ctrl-C or a dying
  # shell does not take it down in the middle of a scenario; `stop` and the
  # watcher end it.
  setsid "$java_bin" -Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "$logopt" -cp "$cp" kafka.Kafka "$node/server.properties" \
    >>"$node/stdout.log" 2>&1 </dev/null &
  echo $! >"$node/pid"
}

start() {
  local dir="" nodes=1 version="$default_version" tv="" watch="" extra=() named=() scram=() per_node=() jars=
  dir="${1:-}"; [ -n "$dir" ] || die "start needs a directory"; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) nodes="$2"; shift 2 ;;
      --version) version="$2"; shift 2 ;;
      --transaction-version) tv="$2"; shift 2 ;;
      --set) extra+=("$2"); shift 2 ;;
      --set-node) [[ "${2:-}" =~ ^[1-3]$ ]] || die "--set-node N key=value (N is 1..3)"
        per_node+=("$2:$3"); shift 3 ;;
      --watch) watch="$2"; shift 2 ;;
      --classpath) [ -e "$2" ] || die "--classpath: no such file $2"
        jars="$jars:$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
      --listener) named+=("$2"); shift 2 ;;
      --add-scram) scram+=("$2"); shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ "$nodes" = 1 ] || [ "$nodes" = 3 ] || die "--nodes is 1 or 3"
  command -v "$java_bin" >/dev/null || die "java is needed to run Kafka"
  local libs; libs="$(fetch "$version")"
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  [ ! -f "$dir/bootstrap" ] || die "$dir already holds a cluster (stop it or use another folder)"
  echo "$libs/*$jars" >"$dir/classpath"
  echo "$version" >"$dir/version"

  local l
  for l in "${named[@]+"${named[@]}"}"; do
    [[ "$l" =~ ^[A-Z][A-Z0-9_]*:(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$ ]] ||
      die "--listener NAME:PROTOCOL (upper-case name; PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL), not $l"
    case "${l%%:*}" in PLAINTEXT|CONTROLLER) die "--listener: ${l%%:*} is taken" ;; esac
  done
  local ports=() p
  while read -r p; do ports+=("$p"); done < <(free_ports $((nodes * (2 + ${#named[@]}))))
  # Extra listener j (0-based) of node i (1-based) is on port [nodes*2 + j*nodes + i-1].
  extra_addr() { echo "127.0.0.1:${ports[$((nodes * 2 + $2 * nodes + $1 - 1))]}"; }
  local voters="" bootstrap="" i
  for i in $(seq 1 "$nodes"); do
    voters+="${voters:+,}$i@127.0.0.1:${ports[$((nodes + i - 1))]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[$((i - 1))]}"
  done
  local rf=1 isr=1 internal_parts=1
  if [ "$nodes" = 3 ]; then rf=3; isr=2; internal_parts=3; fi

  : >"$dir/listeners"
  local j
  for j in "${!named[@]}"; do
    local list=""
    for i in $(seq 1 "$nodes"); do list+="${list:+,}$(extra_addr "$i" "$j")"; done
    echo "${named[$j]%%:*} $list" >>"$dir/listeners"
  done
  local cluster_id
  cluster_id="$("$java_bin" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  for i in $(seq 1 "$nodes"); do
    local node="$dir/node-$i"; mkdir -p "$node"
    local more_listeners="" more_map=""
    for j in "${!named[@]}"; do
      more_listeners+=",${named[$j]%%:*}://$(extra_addr "$i" "$j")"
      more_map+=",${named[$j]}"
    done
    {
      echo "process.roles=broker,controller"
      echo "node.id=$i"
      echo "controller.quorum.voters=$voters"
      echo "listeners=PLAINTEXT://127.0.0.1:${ports[$((i - 1))]},CONTROLLER://127.0.0.1:${ports[$((nodes + i - 1))]}$more_listeners"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:${ports[$((i - 1))]}$more_listeners"
      echo "controller.listener.names=CONTROLLER"
      echo "inter.broker.listener.name=PLAINTEXT"
      echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT$more_map"
      echo "log.dirs=$node/data"
      echo "num.partitions=3"
      echo "default.replication.factor=$rf"
      echo "min.insync.replicas=$isr"
      echo "offsets.topic.replication.factor=$rf"
      echo "offsets.topic.num.partitions=$internal_parts"
      echo "transaction.state.log.replication.factor=$rf"
      echo "transaction.state.log.min.isr=$isr"
      echo "transaction.state.log.num.partitions=$internal_parts"
      echo "share.coordinator.state.topic.replication.factor=$rf"
      echo "share.coordinator.state.topic.min.isr=$isr"
      echo "share.coordinator.state.topic.num.partitions=$internal_parts"
      echo "group.initial.rebalance.delay.ms=0"
      echo "auto.create.topics.enable=true"
      echo "delete.topic.enable=true"
      echo "log.segment.bytes=67108864"
      echo "num.network.threads=2"
      echo "num.io.threads=4"
      echo "log.flush.interval.ms=60000"
      for kv in "${extra[@]+"${extra[@]}"}"; do echo "$kv"; done
      for kv in "${per_node[@]+"${per_node[@]}"}"; do [ "${kv%%:*}" != "$i" ] || echo "${kv#*:}"; done
    } >"$node/server.properties"
    log_config "$node" "$version" >"$node/logopt"
    local fmt=(format -t "$cluster_id" -c "$node/server.properties" --ignore-formatted)
    case "$version" in 4.*) [ -z "$tv" ] || fmt+=(--feature "transaction.version=$tv") ;; esac
    for l in "${scram[@]+"${scram[@]}"}"; do fmt+=(--add-scram "$l"); done
    # A UTF-8 locale, so Java reads non-ASCII SCRAM names and passwords from argv intact.
    local fmt_env=()
    [ "${#scram[@]}" = 0 ] || fmt_env=(env LC_ALL=C.UTF-8)
    if ! "${fmt_env[@]+"${fmt_env[@]}"}" "$java_bin" -cp "$libs/*" kafka.tools.StorageTool "${fmt[@]}" >"$node/format.log" 2>&1; then
      cat "$node/format.log" >&2
      die "formatting node $i failed"
    fi
  done
  for i in $(seq 1 "$nodes"); do launch_node "$dir" "$i"; done
  echo "$bootstrap" >"$dir/bootstrap"
  if [ -n "$watch" ]; then
    # Stops the nodes when the process that asked for them is gone (a test
    # binary that ended or was killed).
    (trap '' HUP; while kill -0 "$watch" 2>/dev/null && [ -f "$dir/bootstrap" ]; do sleep 1; done
     [ -f "$dir/bootstrap" ] && "$here/kafka.sh" stop "$dir" >/dev/null 2>&1) \
      </dev/null >/dev/null 2>&1 &
    disown || true
  fi
  if ! ready "$dir" "${KAFKIT_KAFKA_START_TIMEOUT:-90}"; then
    for i in $(seq 1 "$nodes"); do
      echo "--- node-$i server.log (last 40 lines)" >&2
      tail -n 40 "$dir/node-$i/server.log" "$dir/node-$i/stdout.log" >&2 2>/dev/null || true
    done
    stop "$dir" >/dev/null 2>&1 || true
    die "Kafka $version ($nodes node(s)) did not become ready; logs under $dir"
  fi
  echo "$bootstrap"
}

ready() { # DIR [SECONDS]
  local dir="$1" secs="${2:-90}" end hosts want h ok
  end=$(( $(date +%s) + secs ))
  IFS=, read -r -a hosts <"$dir/bootstrap"
  want="${#hosts[@]}"
  while [ "$(date +%s)" -lt "$end" ]; do
    ok=1
    for h in "${hosts[@]}"; do
      [ "$(broker_count "$h")" = "$want" ] || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.5
  done
  return 1
}

stop() { # DIR
  local dir="$1" pidf pid
  [ -d "$dir" ] || return 0
  rm -f "$dir/bootstrap"
  for pidf in "$dir"/node-*/pid; do
    [ -f "$pidf" ] || continue
    pid="$(cat "$pidf")"
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 100); do
    local alive=0
    for pidf in "$dir"/node-*/pid; do
      [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pidf in "$dir"/node-*/pid; do
    [ -f "$pidf" ] || continue
    kill -KILL "$(cat "$pidf")" 2>/dev/null || true
    rm -f "$pidf"
  done
}

node() { # DIR N ACTION
  local dir="$1" n="$2" action="$3" pidf
  pidf="$dir/node-$n/pid"
  case "$action" in
    pid) cat "$pidf" ;;
    kill) kill -KILL "$(cat "$pidf")" ;;
    stop) kill -STOP "$(cat "$pidf")" ;;
    cont) kill -CONT "$(cat "$pidf")" ;;
    term) kill -TERM "$(cat "$pidf")" ;;
    restart)
      if kill -0 "$(cat "$pidf")" 2>/dev/null; then
        kill -TERM "$(cat "$pidf")"
        for _ in $(seq 1 150); do kill -0 "$(cat "$pidf")" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$(cat "$pidf")" 2>/dev/null || true
      fi
      launch_node "$dir" "$n" ;;
    *) die "node action is kill, stop, cont, term, restart or pid" ;;
  esac
}

cmd="${1:-}"; shift || true
case "$cmd" in
  fetch) fetch "${1:-$default_version}" ;;
  classpath) echo "$(fetch "${1:-$default_version}")/*" ;;
  start) start "$@" ;;
  stop) stop "${1:?stop needs a directory}" ;;
  node) node "${1:?}" "${2:?}" "${3:?}" ;;
  ready) ready "${1:?}" "${2:-90}" ;;
  *) sed -n '2,38p' "$0"; exit 2 ;;
esac
