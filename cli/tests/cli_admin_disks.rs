//! `kafkit logdirs` and `kafkit topics elect-leaders` against the run's real
//! Apache Kafka broker, as a user runs them: text and `--json` output, exit
//! status 1 when an item fails.

#[path = "../../tests/support/kafka.rs"]
mod kafka;

use std::process::{Command, Stdio};

/// Runs kafkit against `broker`, expecting exit status `code`; returns stdout.
fn run(broker: &str, args: &[&str], code: i32) -> String {
    let mut full = args.to_vec();
    full.extend(["-b", broker]);
    let out = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(&full)
        .stdin(Stdio::null())
        .output()
        .expect("run kafkit");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "kafkit {args:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn logdirs_and_elect_leaders_on_kafka() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("cli-disks");
    run(
        b,
        &["topics", "create", "-t", &topic, "-p", "2", "-r", "1"],
        0,
    );

    // A new topic's replicas appear in DescribeLogDirs one by one, as the
    // broker creates their logs: ask again until both are there.
    let wanted = [(topic.clone(), 0), (topic.clone(), 1)];
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let dirs = json(&run(b, &["logdirs", "-t", &topic, "--json"], 0));
        let brokers = dirs.as_array().expect("one entry per broker");
        assert_eq!(brokers.len(), 1, "{dirs}");
        assert_eq!(brokers[0]["ok"], true, "{dirs}");
        let replicas: Vec<(String, i64)> = brokers[0]["log_dirs"]
            .as_array()
            .expect("log dirs")
            .iter()
            .flat_map(|d| d["replicas"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                let name = r["topic"].as_str().unwrap_or_default().to_owned();
                (name, r["partition"].as_i64().unwrap_or(-1))
            })
            .collect();
        if replicas == wanted {
            break;
        }
        assert!(std::time::Instant::now() < give_up, "{dirs}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let text = run(b, &["logdirs", "-t", &format!("{topic}:1")], 0);
    assert!(
        text.starts_with("broker ") && text.contains(" total="),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {topic}/1  size=0  lag=0")),
        "{text}"
    );
    assert!(!text.contains(&format!("{topic}/0")), "{text}");

    // One replica: it already leads, nothing to elect (not a failure).
    let out = json(&run(
        b,
        &[
            "topics",
            "elect-leaders",
            "-t",
            &format!("{topic}:0"),
            "--json",
        ],
        0,
    ));
    assert_eq!(out[0]["ok"], true, "{out}");
    assert_eq!(out[0]["elected"], false, "{out}");
    // A partition that does not exist fails alone, exit status 1.
    let out = run(
        b,
        &["topics", "elect-leaders", "-t", &format!("{topic}:0,7")],
        1,
    );
    assert!(
        out.contains(&format!("{topic}/0  already led"))
            && out.contains(&format!("{topic}/7 failed: UNKNOWN_TOPIC_OR_PARTITION")),
        "{out}"
    );
}
