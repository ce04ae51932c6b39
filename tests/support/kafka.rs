//! Apache Kafka (KRaft) for the tests, started by the tests themselves.
//!
//! The broker is assembled from Maven Central by `scripts/kafka.sh` (no
//! Docker, no tarball). Where a test gets it from, in order:
//!
//! 1. `KAFKA_BROKERS`: the user's own cluster (never started or stopped here);
//! 2. `KAFKIT_KAFKA` (one node) / `KAFKIT_KAFKA_CLUSTER` (three nodes): a
//!    broker that `scripts/test.sh` started once for the whole run;
//! 3. otherwise one started for this test process on first use (shared by
//!    its tests) and stopped by a watcher when the process exits.
//!
//! Tests that kill or pause nodes start their own [`Cluster`] instead.
//! Without Java or Maven the tests say so and return, unless `CI` or
//! `KAFKIT_REQUIRE_KAFKA` is set: then they fail.
//!
//! Only std is used, so the CLI's tests can include this file (`#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// A broker or cluster a test may use but not stop.
#[derive(Debug)]
pub struct Kafka {
    /// `host:port,...`
    pub bootstrap: String,
    /// Where it came from, for messages.
    pub origin: &'static str,
}

fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|s| !s.is_empty() && s != "0" && s != "false")
}

/// Whether a missing broker is a failure (CI) rather than a skipped test.
pub fn required() -> bool {
    flag("CI") || flag("KAFKIT_REQUIRE_KAFKA")
}

/// `scripts/kafka.sh`, found from this crate or the workspace root.
pub fn script() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in manifest.ancestors() {
        let p = dir.join("scripts/kafka.sh");
        if p.is_file() {
            return p;
        }
    }
    panic!("scripts/kafka.sh not found above {}", manifest.display());
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Unique names per run, so tests can share one broker: `{base}-{pid}-{n}-{t}`.
pub fn unique(base: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 100_000_000)
        .unwrap_or(0);
    format!(
        "{base}-{}-{}-{t}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn skip_or_fail(what: &str) -> Option<&'static Kafka> {
    assert!(
        !required(),
        "{what}, and CI / KAFKIT_REQUIRE_KAFKA is set: install a JDK and Maven \
         (.ci/run does), or point KAFKA_BROKERS at a cluster"
    );
    eprintln!("{what}: skipping this test (set KAFKA_BROKERS, or install java and mvn)");
    None
}

fn from_env(var: &str, origin: &'static str) -> Option<Kafka> {
    std::env::var(var)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|bootstrap| Kafka { bootstrap, origin })
}

fn shared_of(
    nodes: u8,
    var: &'static str,
    cell: &'static OnceLock<Option<Kafka>>,
) -> Option<&'static Kafka> {
    let got = cell.get_or_init(|| {
        if let Some(k) = from_env("KAFKA_BROKERS", "KAFKA_BROKERS") {
            return Some(k);
        }
        if let Some(k) = from_env(var, var) {
            return Some(k);
        }
        if !have("java") || !have("mvn") {
            return None;
        }
        let cluster = Cluster::start(nodes, &[]);
        let k = Kafka {
            bootstrap: cluster.bootstrap.clone(),
            origin: "started for this test process",
        };
        // Stopped by the watcher when this process exits, not on drop.
        std::mem::forget(cluster);
        Some(k)
    });
    match got {
        Some(k) => Some(k),
        None => skip_or_fail(
            "no Kafka broker: KAFKA_BROKERS and KAFKIT_KAFKA are unset and java/mvn are missing",
        ),
    }
}

/// The single-node broker shared by this run (see the module doc), or
/// `None` when there is none and none is required.
pub fn single() -> Option<&'static Kafka> {
    static CELL: OnceLock<Option<Kafka>> = OnceLock::new();
    shared_of(1, "KAFKIT_KAFKA", &CELL)
}

/// The 3-node cluster shared by this run (`KAFKIT_KAFKA_CLUSTER`, or started
/// on first use). With `KAFKA_BROKERS` set, that cluster is used instead.
pub fn cluster() -> Option<&'static Kafka> {
    static CELL: OnceLock<Option<Kafka>> = OnceLock::new();
    shared_of(3, "KAFKIT_KAFKA_CLUSTER", &CELL)
}

/// Whether a cluster of our own can be started here (java and mvn present);
/// says why not, or fails under CI, like [`single`].
pub fn can_start() -> bool {
    if have("java") && have("mvn") {
        return true;
    }
    skip_or_fail("java or mvn is missing: cannot start Apache Kafka").is_some()
}

/// A cluster owned by one test: its nodes can be killed, paused and
/// restarted. Stopped on drop; its logs stay in [`Cluster::dir`] when the
/// test panicked.
#[derive(Debug)]
pub struct Cluster {
    /// `host:port,...` of every node.
    pub bootstrap: String,
    /// Where its nodes keep their config, data and `server.log`.
    pub dir: PathBuf,
    /// Number of nodes.
    pub nodes: u8,
}

impl Cluster {
    /// Formats and starts `nodes` (1 or 3) combined nodes; `options` are
    /// extra `scripts/kafka.sh start` arguments (`--transaction-version 1`,
    /// `--set key=value`, `--version 3.9.1`). Panics if it does not come up.
    pub fn start(nodes: u8, options: &[&str]) -> Self {
        let dir = std::env::temp_dir()
            .join("kafkit-kafka")
            .join(unique("cluster"));
        let pid = std::process::id().to_string();
        let nodes_s = nodes.to_string();
        let mut args = vec![
            "start",
            path_str(&dir),
            "--nodes",
            &nodes_s,
            "--watch",
            &pid,
        ];
        args.extend_from_slice(options);
        let out = Command::new(script())
            .args(&args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/kafka.sh");
        assert!(
            out.status.success(),
            "scripts/kafka.sh start failed ({}); logs under {}",
            out.status,
            dir.display()
        );
        let bootstrap = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(
            !bootstrap.is_empty(),
            "scripts/kafka.sh printed no bootstrap list"
        );
        Cluster {
            bootstrap,
            dir,
            nodes,
        }
    }

    fn node(&self, n: u8, action: &str) -> String {
        let out = Command::new(script())
            .args(["node", path_str(&self.dir), &n.to_string(), action])
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/kafka.sh node");
        assert!(
            out.status.success(),
            "scripts/kafka.sh node {n} {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// SIGKILL node `n` (1-based).
    pub fn kill(&self, n: u8) {
        self.node(n, "kill");
    }
    /// SIGSTOP node `n`.
    pub fn pause(&self, n: u8) {
        self.node(n, "stop");
    }
    /// SIGCONT node `n`.
    pub fn resume(&self, n: u8) {
        self.node(n, "cont");
    }
    /// SIGTERM node `n` (a controlled shutdown).
    pub fn terminate(&self, n: u8) {
        self.node(n, "term");
    }
    /// Stops node `n` if it runs (SIGTERM, then SIGKILL) and starts it again.
    pub fn restart(&self, n: u8) {
        self.node(n, "restart");
    }
    /// The process id of node `n`.
    pub fn pid(&self, n: u8) -> u32 {
        self.node(n, "pid").parse().expect("pid")
    }
    /// `host:port` of node `n`.
    pub fn address(&self, n: u8) -> String {
        self.bootstrap
            .split(',')
            .nth(usize::from(n) - 1)
            .expect("node number")
            .to_string()
    }
    /// The extra listeners asked for with `--listener NAME:PROTOCOL`:
    /// name to `host:port,...` (one address per node).
    pub fn listeners(&self) -> std::collections::HashMap<String, String> {
        let text = std::fs::read_to_string(self.dir.join("listeners")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(name, list)| (name.to_string(), list.trim().to_string()))
            .collect()
    }
    /// Node `n`'s broker log.
    pub fn log(&self, n: u8) -> PathBuf {
        self.dir.join(format!("node-{n}/server.log"))
    }
    /// Waits until every node answers Metadata listing every broker.
    pub fn wait_ready(&self, seconds: u32) -> bool {
        Command::new(script())
            .args(["ready", path_str(&self.dir), &seconds.to_string()])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", path_str(&self.dir)])
            .stdin(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!("Kafka logs kept under {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// The classpath of the pinned Kafka's jars (`kafka-clients` included), for
/// Java peers run with `java -cp … Peer.java`.
pub fn classpath() -> String {
    let out = Command::new(script())
        .arg("classpath")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/kafka.sh classpath");
    assert!(out.status.success(), "scripts/kafka.sh classpath failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
