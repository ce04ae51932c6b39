#!/usr/bin/env python3
"""kafkit against its rivals on a real Apache Kafka broker, interleaved, each
client in its own process.

    python3 bench/run.py --quick            # the quick subset (see QUICK)
    python3 bench/run.py                    # the full matrix (20 cases)
    python3 bench/run.py --cross            # every combination (57 cases)
    python3 bench/run.py --readme           # ... and rewrite README.md's table

Clients: kafkit, rdkafka (rust-rdkafka), krafka, kacrab (bench/src/bin/*.rs,
built in bench/'s own workspace), franz-go (bench/franz) and the Java client
(bench/java/Bench.java, kafka-clients of scripts/kafka.sh's Kafka). Each takes
the same arguments (bench/src/lib.rs documents them), prints START when its
measured window opens and one JSON line when it closes.

For every run the harness reads, from /proc, the client's utime+stime and
the broker JVM's utime+stime at START and at the JSON line (so both cover the
measured window only: no start-up, JIT warm-up before START, or connection
set-up), and the client's peak RSS (VmHWM from /proc/<pid>/status at the
JSON line; ru_maxrss from wait4 is kept in the raw data, but for a child of
this harness it has the harness's ~16 MB as a floor). Rounds are
interleaved: round r runs every case, each with every client, the clients in
an order rotated by r, so a drift in the machine's load spreads over all.
Tables show the median over rounds and the spread (min-max).

Brokers: scripts/kafka.sh starts a 1-node KRaft broker (and a 3-node cluster
for the acks=all case marked "3 nodes") in a temporary folder, stopped at the
end. --brokers uses a running one instead (then no 3-node case runs and
broker CPU is not measured unless --broker-pid is given).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.path.join(HERE, "target")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
CLIENTS = ["kafkit", "rdkafka", "krafka", "kacrab", "franz-go", "java"]
README_BEGIN = "<!-- bench:begin (written by bench/run.py --readme) -->"
README_END = "<!-- bench:end -->"
RUN_LIMIT_S = 90


# ---------------------------------------------------------------- the matrix

def case(mode, size=100, compression="none", acks="1", idem=False, partitions=1,
         rate=0, nodes=1, count=None, txn=0):
    c = dict(mode=mode, size=size, compression=compression, acks=acks, idem=idem,
             partitions=partitions, rate=rate, nodes=nodes, txn=txn)
    if count is None:
        count = {10: 1_000_000, 100: 1_000_000, 1024: 200_000}.get(size, 200_000)
        if mode == "e2e":
            count = rate * 5
        if mode == "group":
            count = 1
    c["count"] = count
    c["name"] = case_name(c)
    return c


def case_name(c):
    size = f"{c['size'] // 1024} KiB" if c["size"] >= 1024 else f"{c['size']} B"
    if c["mode"] == "e2e":
        return f"e2e {size} at {c['rate'] // 1000}k/s, {c['partitions']}p"
    if c["mode"] == "group":
        return f"group start-up, {c['partitions']}p"
    if c["mode"] == "txn":
        return f"txn {size}, {c['txn']:,} records per transaction, {c['partitions']}p"
    acks = "acks=all+idem" if c["idem"] else f"acks={c['acks']}"
    parts = f"{size} {c['compression']}"
    if c["mode"] == "produce":
        parts += f" {acks}"
    parts += f" {c['partitions']}p"
    if c["nodes"] == 3:
        parts += " 3 nodes"
    return f"{c['mode']} {parts}"


def full_matrix():
    """Every workload the issue names, one dimension at a time around a base
    case (100 B, no compression, acks=1, 1 partition): each record size, each
    compression (at 100 B and 1 KiB), acks=all with idempotence, 16
    partitions, the 3-node cluster; the consumer likewise; end-to-end
    latency at 10k and 100k records/s; group start-up. Twenty cases, so five
    interleaved rounds of six clients fit in under an hour on 2 cores. The
    whole cross product is `--cross`."""
    p = [case("produce", size, count=n) for size, n in ((10, 400_000), (100, 300_000),
                                                         (1024, 100_000))]
    for comp in ("lz4", "zstd"):
        p.append(case("produce", 100, comp, count=300_000))
        p.append(case("produce", 1024, comp, count=100_000))
    p.append(case("produce", 100, acks="all", idem=True, count=300_000))
    p.append(case("produce", 100, partitions=16, count=300_000))
    p.append(case("produce", 100, acks="all", idem=True, partitions=16, count=300_000))
    p.append(case("produce", 100, acks="all", idem=True, partitions=16, nodes=3,
                  count=200_000))
    c = [case("consume", size, count=n) for size, n in ((10, 400_000), (100, 300_000),
                                                        (1024, 100_000))]
    for comp in ("lz4", "zstd"):
        c.append(case("consume", 1024, comp, count=100_000))
    c.append(case("consume", 100, partitions=16, count=300_000))
    e = [case("e2e", 100, rate=10_000, count=30_000),
         case("e2e", 100, rate=100_000, count=200_000)]
    return p + c + e + [case("group", 100, partitions=16)]


def cross_matrix():
    """The whole cross product: sizes x compressions x acks x partitions."""
    cases = []
    for size in (10, 100, 1024):
        for comp in ("none", "lz4", "zstd"):
            for acks, idem in (("1", False), ("all", True)):
                for parts in (1, 16):
                    cases.append(case("produce", size, comp, acks, idem, parts))
    cases.append(case("produce", 100, "none", "all", True, 16, nodes=3))
    for size in (10, 100, 1024):
        for comp in ("none", "lz4", "zstd"):
            for parts in (1, 16):
                cases.append(case("consume", size, comp, partitions=parts))
    for rate in (10_000, 100_000):
        cases.append(case("e2e", 100, rate=rate))
    cases.append(case("group", 100, partitions=16))
    return cases


# Issue 14's benchmark: transactional producers (kafkit, rdkafka, Java) with
# transactions of 100, 1,000 and 10,000 records of 100 B (`--txn`).
TXN = [case("txn", 100, acks="all", idem=True, count=n, txn=t)
       for t, n in ((100, 20_000), (1_000, 100_000), (10_000, 200_000))]
TXN_CLIENTS = ["kafkit", "rdkafka", "java"]


def matrix(opts):
    if opts.txn:
        return TXN
    if opts.quick:
        return QUICK
    return cross_matrix() if opts.cross else full_matrix()


# Smaller counts than the full matrix, so five rounds of six clients fit in
# about twenty minutes on a busy 2-core machine.
QUICK = [
    case("produce", 100, count=300_000),
    case("produce", 10, count=300_000),
    case("produce", 1024, "lz4", count=100_000),
    case("produce", 100, acks="all", idem=True, count=300_000),
    case("consume", 100, count=300_000),
    case("e2e", 100, rate=10_000, count=30_000),
    case("group", 100, partitions=16),
]


# ---------------------------------------------------------------- processes

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    """utime+stime of a whole process (every thread, live or ended), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICK
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_mb(pid):
    """VmHWM: the peak RSS of the process image since exec (ru_maxrss of a
    child forked from this harness also counts the harness's own pages from
    before the exec, a floor of ~16 MB)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def broker_cpu(pids):
    total = 0.0
    for pid in pids:
        c = cpu_seconds(pid)
        if c is None:
            return None
        total += c
    return total


class Rig:
    def __init__(self, opts):
        self.opts = opts
        self.tmp = tempfile.mkdtemp(prefix="kafkit-bench-")
        self.clusters = {}  # nodes -> (bootstrap, [pids], dir)
        self.classpath = None

    def kafka_sh(self, *args):
        return subprocess.run([os.path.join(ROOT, "scripts", "kafka.sh"), *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    def cluster(self, nodes):
        if nodes in self.clusters:
            return self.clusters[nodes]
        if self.opts.brokers:
            if nodes != 1:
                return None
            pids = [int(p) for p in self.opts.broker_pid.split(",")] if self.opts.broker_pid else []
            self.clusters[1] = (self.opts.brokers, pids, None)
            return self.clusters[1]
        d = os.path.join(self.tmp, f"kafka-{nodes}")
        log(f"starting a {nodes}-node Kafka in {d}")
        bootstrap = self.kafka_sh("start", d, "--nodes", str(nodes), "--watch", str(os.getpid()))
        pids = [int(open(os.path.join(d, f"node-{i}", "pid")).read()) for i in range(1, nodes + 1)]
        self.clusters[nodes] = (bootstrap.splitlines()[-1], pids, d)
        return self.clusters[nodes]

    def stop(self):
        for _, _, d in self.clusters.values():
            if d:
                subprocess.run([os.path.join(ROOT, "scripts", "kafka.sh"), "stop", d],
                               capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def command(self, client):
        if client == "franz-go":
            return [os.path.join(TARGET, "franz-bench")]
        if client == "java":
            if self.classpath is None:
                self.classpath = self.kafka_sh("classpath")
            return ["java", "-Xmx1g", "-cp", f"{TARGET}/java:{self.classpath}", "Bench"]
        return [os.path.join(TARGET, "release", f"bench-{client}")]


def build(clients):
    rust = [c for c in clients if c in ("kafkit", "rdkafka", "krafka", "kacrab")]
    features = [c for c in rust if c != "kafkit"]
    cmd = ["cargo", "build", "--release", "--manifest-path", os.path.join(HERE, "Cargo.toml"),
           "--no-default-features", "--bins"]
    if features:
        cmd += ["--features", ",".join(features)]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    if "franz-go" in clients:
        log("building bench/franz (go build)")
        subprocess.run(["go", "build", "-o", os.path.join(TARGET, "franz-bench"), "."],
                       cwd=os.path.join(HERE, "franz"), check=True)
    if "java" in clients:
        log("compiling bench/java/Bench.java")
        cp = subprocess.run([os.path.join(ROOT, "scripts", "kafka.sh"), "classpath"],
                            check=True, capture_output=True, text=True).stdout.strip()
        os.makedirs(os.path.join(TARGET, "java"), exist_ok=True)
        subprocess.run(["javac", "-d", os.path.join(TARGET, "java"), "-cp", cp,
                        os.path.join(HERE, "java", "Bench.java")], check=True)


def case_args(c, bootstrap, topic, group=None):
    args = ["--mode", c["mode"], "--brokers", bootstrap, "--topic", topic,
            "--size", str(c["size"]), "--count", str(c["count"]),
            "--compression", c["compression"], "--acks", c["acks"],
            "--idempotence", "true" if c["idem"] else "false",
            "--partitions", str(c["partitions"]), "--rate", str(c["rate"] or 10000),
            "--linger-ms", "1" if c["mode"] == "e2e" else "5"]
    if c["mode"] == "txn":
        args += ["--txn-size", str(c["txn"])]
    if group:
        args += ["--group", group]
    return args


def run_client(cmd, broker_pids, limit=RUN_LIMIT_S):
    """Runs one client; returns its sample (dict) or raises RuntimeError."""
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                            start_new_session=True)
    killed = []

    def watchdog():
        killed.append(True)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    timer = threading.Timer(limit, watchdog)
    timer.start()
    start = end = None
    result = hwm = None
    try:
        for line in proc.stdout:
            line = line.strip()
            if line == "START":
                start = (cpu_seconds(proc.pid), broker_cpu(broker_pids))
            elif line.startswith("{"):
                end = (cpu_seconds(proc.pid), broker_cpu(broker_pids))
                result = json.loads(line)
                hwm = peak_rss_mb(proc.pid)
    finally:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        timer.cancel()
    err.seek(0)
    stderr = err.read().decode(errors="replace").strip().splitlines()
    if killed:
        raise RuntimeError(f"killed after {limit} s; " + " | ".join(stderr[-3:]))
    if result is None or start is None:
        raise RuntimeError(f"exit {proc.returncode}, no result; " + " | ".join(stderr[-3:]))
    records = max(result["records"], 1)
    sample = dict(result)
    sample["rss_mb"] = hwm if hwm is not None else usage.ru_maxrss / 1024
    sample["ru_maxrss_mb"] = usage.ru_maxrss / 1024
    sample["process_cpu_s"] = usage.ru_utime + usage.ru_stime
    if start[0] is not None and end[0] is not None:
        sample["cpu_s"] = end[0] - start[0]
        sample["cpu_us_per_record"] = sample["cpu_s"] * 1e6 / records
    if start[1] is not None and end[1] is not None:
        sample["broker_cpu_s"] = end[1] - start[1]
        sample["broker_us_per_record"] = sample["broker_cpu_s"] * 1e6 / records
    if proc.returncode != 0:
        sample["exit"] = proc.returncode
    return sample


# ---------------------------------------------------------------- the run

def prepare(rig, cases, clients, rounds):
    """Creates every topic the runs use, and preloads the consumer topics."""
    kafkit = rig.command("kafkit")
    plan = []
    for ci, c in enumerate(cases):
        cl = rig.cluster(c["nodes"])
        if cl is None:
            log(f"skipping {c['name']}: needs a {c['nodes']}-node cluster")
            continue
        bootstrap = cl[0]
        rf = str(min(c["nodes"], 3))

        def create(topic, partitions):
            subprocess.run(kafkit + ["--mode", "create", "--brokers", bootstrap, "--topic", topic,
                                     "--partitions", str(partitions), "--replication", rf],
                           check=True, capture_output=True)

        if c["mode"] in ("consume", "group"):
            topic = f"bench-{os.getpid()}-{ci}-preload"
            create(topic, c["partitions"])
            n = c["count"] if c["mode"] == "consume" else 10_000
            log(f"preloading {topic} with {n} records ({c['name']})")
            load = dict(c, mode="produce", count=n, acks="1", idem=False)
            subprocess.run(kafkit + case_args(load, bootstrap, topic), check=True,
                           capture_output=True)
            topics = {(cl_, r): topic for cl_ in clients for r in range(rounds)}
        else:
            topics = {}
            for client in clients:
                for r in range(rounds):
                    topic = f"bench-{os.getpid()}-{ci}-{client}-{r}"
                    create(topic, c["partitions"])
                    topics[(client, r)] = topic
        plan.append((ci, c, bootstrap, cl[1], topics))
    return plan


def run(opts):
    clients = opts.clients.split(",") if opts.clients else (TXN_CLIENTS if opts.txn else CLIENTS)
    cases = matrix(opts)
    if opts.scale != 1.0:
        cases = [dict(c, count=max(1, int(c["count"] * opts.scale))) if c["mode"] != "group" else c
                 for c in cases]
    if opts.cases:
        cases = [c for c in cases if opts.cases in c["name"]]
    if not opts.no_build:
        build(clients)
    rig = Rig(opts)
    results = {}  # (case name, client) -> [samples or {"error"}]
    meta = machine()
    try:
        plan = prepare(rig, cases, clients, opts.rounds)
        for r in range(opts.rounds):
            order = clients[r % len(clients):] + clients[:r % len(clients)]
            for ci, c, bootstrap, broker_pids, topics in plan:
                for client in order:
                    group = f"bench-{os.getpid()}-{ci}-{client}-{r}" if c["mode"] == "group" else None
                    cmd = rig.command(client) + case_args(c, bootstrap, topics[(client, r)], group)
                    try:
                        s = run_client(cmd, broker_pids)
                        log(f"round {r + 1}/{opts.rounds} {c['name']:<32} {client:<9} "
                            f"{s['records_per_s']:>12.0f} rec/s "
                            f"{s.get('cpu_us_per_record', float('nan')):>7.2f} µs/rec "
                            f"{s['rss_mb']:>6.0f} MB"
                            + (f" p99 {s['p99_us']} µs" if "p99_us" in s else "")
                            + (f" start-up {s['startup_ms']} ms" if "startup_ms" in s else ""))
                    except RuntimeError as e:
                        s = {"error": str(e)}
                        log(f"round {r + 1}/{opts.rounds} {c['name']:<32} {client:<9} FAILED: {e}")
                    results.setdefault((c["name"], client), []).append(s)
    finally:
        rig.stop()
    meta["load_end"] = os.getloadavg()
    ran = [c for c in cases if any((c["name"], cl) in results for cl in clients)]
    table = render(ran, clients, results, meta, opts)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(HERE, "results", f"{stamp}.json"), "w") as f:
        json.dump({"meta": meta, "cases": ran, "clients": clients,
                   "results": [{"case": k[0], "client": k[1], "samples": v}
                               for k, v in results.items()]}, f, indent=1)
    with open(os.path.join(HERE, "results", f"{stamp}.md"), "w") as f:
        f.write(table)
    print(table)
    if opts.readme:
        rewrite_readme(table)


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "load_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


# ---------------------------------------------------------------- the table

def spread(values, fmt):
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def rate_fmt(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.0f} k"
    return f"{v:.0f}"


def render(cases, clients, results, meta, opts):
    out = []
    out.append(f"Measured {meta['date']} on {meta['cpus']} CPUs ({meta['cpu']}), Linux {meta['kernel']}, "
               f"Apache Kafka 4.4.0 (scripts/kafka.sh, 1 node unless marked), "
               f"{opts.rounds} interleaved round(s) per case; load average at start "
               f"{meta['load_start'][0]:.1f}, at end {meta['load_end'][0]:.1f}. "
               "Each cell: median (min–max) over the rounds. CPU is utime+stime from /proc over the "
               "measured window (client process; broker JVM), divided by the records; RSS is the "
               "client's peak (VmHWM at the end of the window).\n")
    sections = [
        ("produce", "Producer", ["records/s", "MB/s", "client CPU µs/rec", "peak RSS MB", "broker CPU µs/rec"]),
        ("consume", "Consumer (assigned, every partition from the start, no group)",
         ["records/s", "MB/s", "client CPU µs/rec", "peak RSS MB", "broker CPU µs/rec"]),
        ("e2e", "End-to-end latency (send to receive, one process, fixed rate)",
         ["p50 µs", "p99 µs", "p99.9 µs", "client CPU µs/rec", "peak RSS MB"]),
        ("group", "Consumer-group start-up (subscribe to first record)", ["start-up ms", "peak RSS MB"]),
        ("txn", "Transactional producer (100 B records, acks=all, idempotent; commit latency per transaction)",
         ["records/s", "commit p50 µs", "commit p99 µs", "client CPU µs/rec", "peak RSS MB",
          "broker CPU µs/rec"]),
    ]
    for mode, title, cols in sections:
        mode_cases = [c for c in cases if c["mode"] == mode]
        if not mode_cases:
            continue
        out.append(f"\n**{title}**\n")
        out.append("| case | client | " + " | ".join(cols) + " |")
        out.append("| --- | --- | " + " | ".join("---:" for _ in cols) + " |")
        for c in mode_cases:
            for client in clients:
                samples = results.get((c["name"], client), [])
                ok = [s for s in samples if "error" not in s]
                errors = [s["error"] for s in samples if "error" in s]
                if not ok:
                    msg = errors[0][:120].replace("|", "/") if errors else "not run"
                    out.append(f"| {c['name']} | {client} | failed: {msg} |" + " |" * (len(cols) - 1))
                    continue

                def col(key, fmt):
                    return spread([s[key] for s in ok if key in s], fmt)

                cells = []
                for name in cols:
                    cells.append({
                        "records/s": lambda: col("records_per_s", rate_fmt),
                        "MB/s": lambda: col("mb_per_s", lambda v: f"{v:.1f}"),
                        "client CPU µs/rec": lambda: col("cpu_us_per_record", lambda v: f"{v:.2f}"),
                        "peak RSS MB": lambda: col("rss_mb", lambda v: f"{v:.0f}"),
                        "broker CPU µs/rec": lambda: col("broker_us_per_record", lambda v: f"{v:.2f}"),
                        "p50 µs": lambda: col("p50_us", lambda v: f"{v:.0f}"),
                        "commit p50 µs": lambda: col("p50_us", lambda v: f"{v:.0f}"),
                        "commit p99 µs": lambda: col("p99_us", lambda v: f"{v:.0f}"),
                        "p99 µs": lambda: col("p99_us", lambda v: f"{v:.0f}"),
                        "p99.9 µs": lambda: col("p999_us", lambda v: f"{v:.0f}"),
                        "start-up ms": lambda: col("startup_ms", lambda v: f"{v:.0f}"),
                    }[name]())
                note = f" ({len(errors)} failed)" if errors else ""
                out.append(f"| {c['name']} | {client}{note} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def rewrite_readme(table):
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    if README_BEGIN not in text or README_END not in text:
        log(f"README.md has no {README_BEGIN} ... {README_END} markers; not rewritten")
        return
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    open(path, "w").write(head + README_BEGIN + "\n" + table + README_END + tail)
    log("README.md: Performance table rewritten")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the quick subset instead of the full matrix")
    p.add_argument("--txn", action="store_true",
                   help="the transactional producer cases (kafkit, rdkafka, java) instead")
    p.add_argument("--cross", action="store_true",
                   help="the whole cross product (57 cases) instead of the full matrix")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", help=f"comma-separated subset of {','.join(CLIENTS)}")
    p.add_argument("--cases", help="only cases whose name contains this")
    p.add_argument("--brokers", help="use this running broker instead of starting one")
    p.add_argument("--broker-pid", help="its JVM pid(s), comma-separated, for broker CPU")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every case's record count")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--readme", action="store_true", help="rewrite README.md's table between the markers")
    p.add_argument("--list", action="store_true", help="print the cases and exit")
    opts = p.parse_args()
    if opts.list:
        for c in matrix(opts):
            print(c["name"], c["count"])
        return
    run(opts)


if __name__ == "__main__":
    main()
