//! Apache Kafka's Java client as a peer: `tests/interop/java/Peer.java`, a
//! single-file program run by `java` with the pinned Kafka's jars
//! (`kafka::classpath()`, kafka-clients 4.4.0) on its classpath. Its
//! commands and output lines are described at the top of Peer.java.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use kafkit::admin::{Admin, NewTopic};
use kafkit::ClientConfig;

use super::kafka;

/// `java … Peer <args>`, ready to spawn: Peer.java compiled once by
/// `javac` into the test target directory (keyed by the source and the
/// classpath; a single-file launch compiles on every start, which costs
/// seconds on a busy machine), else launched as a single-file program. The
/// JVM flags only make the short-lived peer start faster.
pub fn peer(args: &[&str]) -> Command {
    let mut java = Command::new("java");
    java.args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp"]);
    match compiled() {
        Some(dir) => java
            .arg(format!("{}:{}", dir.display(), classpath()))
            .arg("Peer"),
        None => java.arg(classpath()).arg(source()),
    };
    java.args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    java
}

fn source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/java/Peer.java")
}

fn classpath() -> &'static str {
    static CP: OnceLock<String> = OnceLock::new();
    CP.get_or_init(kafka::classpath)
}

/// The directory holding Peer.class, compiled on first use; `None` when
/// javac is missing or fails (the single-file launch then reports why).
fn compiled() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let text = std::fs::read(source()).ok()?;
        // FNV-1a over the source and the classpath.
        let hash = text
            .iter()
            .chain(classpath().as_bytes())
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("java-peer-{hash:016x}"));
        if dir.join("Peer.class").is_file() {
            return Some(dir);
        }
        let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
        let built = Command::new("javac")
            .arg("-d")
            .arg(&tmp)
            .args(["-cp", classpath()])
            .arg(source())
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        // Another test process may have won the race; either copy will do.
        if !built || std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir.join("Peer.class").is_file().then_some(dir)
    })
    .clone()
}

/// Runs the peer to completion and returns its stdout lines split at tabs;
/// panics if it fails.
pub fn run(args: &[&str]) -> Vec<Vec<String>> {
    let out = peer(args)
        .stdout(Stdio::piped())
        .output()
        .expect("java runs (a JDK 17+ is needed)");
    assert!(
        out.status.success(),
        "Peer.java {args:?} failed: {}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Creates `topic` with `partitions` partitions (replication factor 1).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin = Admin::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("admin");
    let created = admin
        .create_topics(&[NewTopic::new(topic, partitions, 1)], false)
        .await
        .expect("create topics");
    for (name, result) in created {
        result.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
    admin.close();
}
