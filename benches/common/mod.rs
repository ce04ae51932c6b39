//! What the producer and consumer benches share: the broker process they
//! start, and reading a process's CPU time and peak memory from `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The benches' error type.
pub type BoxError = Box<dyn std::error::Error>;

/// Clock ticks per second (`getconf CLK_TCK`, asked once).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// utime+stime of process `pid` (`self` for this one), every thread, from
/// `/proc/<pid>/stat`.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name start at field 3 (state).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks() as f64,
    ))
}

/// Peak resident set size of this process in KiB (`VmHWM`).
#[allow(dead_code)] // the consumer bench's children report it; the producer bench does not
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The median (upper median for an even count); NaN when empty.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The broker: a `mock_cluster` child process (three brokers, the given
/// topics), or the cluster named by `KAFKA_BROKERS`.
pub struct Broker {
    /// Bootstrap servers.
    pub bootstrap: String,
    child: Option<Child>,
}

impl Broker {
    /// Starts the mock cluster with `topics`, each with `partitions`
    /// partitions, unless `KAFKA_BROKERS` is set.
    pub fn start(topics: &[String], partitions: i32) -> Result<Self, BoxError> {
        if let Ok(bootstrap) = std::env::var("KAFKA_BROKERS") {
            return Ok(Self {
                bootstrap,
                child: None,
            });
        }
        let exe = mock_cluster_exe()?;
        let mut child = Command::new(&exe)
            .args(["--brokers", "3"])
            .args(topics.iter().map(|t| format!("{t}:{partitions}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", exe.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut first = String::new();
        let mut lines = BufReader::new(stdout);
        lines.read_line(&mut first)?;
        // Keep draining whatever else it prints so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.lines() {});
        let bootstrap = first.trim().to_owned();
        if bootstrap.is_empty() {
            return Err("mock_cluster printed no bootstrap servers".into());
        }
        Ok(Self {
            bootstrap,
            child: Some(child),
        })
    }

    /// Whether this is our mock process (not `KAFKA_BROKERS`).
    pub fn is_mock(&self) -> bool {
        self.child.is_some()
    }

    /// The broker process's CPU time so far (`None` for `KAFKA_BROKERS`).
    pub fn cpu(&self) -> Option<Duration> {
        cpu_time(&self.child.as_ref()?.id().to_string())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take()); // end of file: the mock cluster exits
            let _ = child.wait();
        }
    }
}

/// Path of the `mock_cluster` example next to this bench binary, built first.
fn mock_cluster_exe() -> Result<std::path::PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("cannot locate the target directory")?;
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    build.args(["build", "--quiet", "--example", "mock_cluster"]);
    if profile_dir.file_name().is_some_and(|n| n != "debug") {
        build.arg("--release");
    }
    if !build.status()?.success() {
        return Err("cargo build --example mock_cluster failed".into());
    }
    Ok(profile_dir.join("examples").join("mock_cluster"))
}
