//! `kafkit consume -G` against a broker that closes the connection on
//! JoinGroup v6+ (as librdkafka's mock cluster does): stderr names the
//! broker, the API and the version within two attempts, and the consumer
//! steps down until the broker takes its JoinGroup (v5).

#[path = "../../tests/support/dropping.rs"]
mod dropping;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dropping::DroppingBroker;

#[test]
fn stderr_names_the_broker_api_and_version_a_broker_keeps_dropping() {
    let broker = DroppingBroker::start(6);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args([
            "consume",
            "-b",
            &broker.addr,
            "-t",
            "dropped",
            "-G",
            "dropped-cli",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kafkit");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut warnings: Vec<(String, usize)> = Vec::new();
    while warnings.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("kafkit: warning:") => {
                warnings.push((line, broker.joins().len()));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    // The member joins at v5 after the fourth step down.
    while Instant::now() < deadline && !broker.joins().iter().any(|(_, v)| *v == 5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();

    // The library's warning, then its fields in parentheses.
    let lines: Vec<&str> = warnings
        .iter()
        .map(|(l, _)| l.split(" (broker=").next().unwrap_or(l))
        .collect();
    let expected: Vec<String> = (6..=9)
        .rev()
        .map(|v| {
            format!(
                "kafkit: warning: broker {} closed the connection 2 times in a row while JoinGroup v{v} was in flight; trying JoinGroup v{} at that broker",
                broker.addr,
                v - 1
            )
        })
        .collect();
    assert_eq!(lines, expected, "stderr warnings");
    assert!(
        warnings[0].1 <= 2,
        "first warning after {} JoinGroups",
        warnings[0].1
    );
    let versions: Vec<i16> = broker.joins().iter().map(|(_, v)| *v).collect();
    assert!(
        versions.starts_with(&[9, 9, 8, 8, 7, 7, 6, 6, 5]),
        "JoinGroup versions: {versions:?}"
    );
}
