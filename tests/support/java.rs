//! Apache Kafka's Java client as a peer: `tests/interop/java/Peer.java`, a
//! single-file program run by `java` with the pinned Kafka's jars
//! (`kafka::classpath()`, kafka-clients 4.4.0) on its classpath. Its
//! commands and output lines are described at the top of Peer.java.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use kafkit::admin::{Admin, NewTopic};
use kafkit::ClientConfig;

use super::kafka;

/// `java … Peer.java <args>`, ready to spawn. The JVM flags only make the
/// short-lived peer start faster.
pub fn peer(args: &[&str]) -> Command {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/java/Peer.java");
    let mut java = Command::new("java");
    java.args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp"])
        .arg(kafka::classpath())
        .arg(source)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    java
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
