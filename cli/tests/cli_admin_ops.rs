//! `kafkit configs`, `kafkit cluster`, `kafkit topics
//! describe|create-partitions|delete-records` and `kafkit groups
//! list|offsets|reset-offsets|delete-offsets` against the run's real Apache
//! Kafka broker, as a user runs them: text and `--json` output, and exit
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
fn configs_cluster_topics_and_group_offsets_on_kafka() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("cli-ops");
    run(
        b,
        &["topics", "create", "-t", &topic, "-p", "1", "-r", "1"],
        0,
    );

    let cluster = json(&run(b, &["cluster", "--json"], 0));
    let node = cluster["brokers"][0]["id"].as_i64().expect("a broker id");
    assert!(
        cluster["cluster_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{cluster}"
    );

    let out = run(
        b,
        &[
            "configs",
            "alter",
            "--topic",
            &topic,
            "--set",
            "retention.ms=7200000",
        ],
        0,
    );
    assert_eq!(out, format!("altered topic {topic}\n"));
    let out = run(
        b,
        &[
            "configs",
            "describe",
            "--topic",
            &topic,
            "--key",
            "retention.ms",
            "--synonyms",
        ],
        0,
    );
    assert!(
        out.starts_with("retention.ms=7200000  source=DYNAMIC_TOPIC_CONFIG\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  synonym retention.ms=7200000  source=DYNAMIC_TOPIC_CONFIG\n"),
        "{out}"
    );
    let broker_cfg = json(&run(
        b,
        &[
            "configs",
            "describe",
            "--broker",
            &node.to_string(),
            "--key",
            "node.id",
            "--json",
        ],
        0,
    ));
    assert_eq!(
        broker_cfg["configs"][0]["source"], "STATIC_BROKER_CONFIG",
        "{broker_cfg}"
    );
    // A bad key fails the command with status 1.
    let bad = json(&run(
        b,
        &[
            "configs",
            "alter",
            "--topic",
            &topic,
            "--set",
            "no.such.key=1",
            "--json",
        ],
        1,
    ));
    assert_eq!(bad[0]["ok"], false, "{bad}");
    assert!(
        bad[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("INVALID_CONFIG")),
        "{bad}"
    );

    let out = run(
        b,
        &["topics", "create-partitions", "-t", &topic, "-p", "2"],
        0,
    );
    assert_eq!(out, format!("grew topic {topic:?}\n"));
    let described = json(&run(b, &["topics", "describe", "-t", &topic, "--json"], 0));
    assert_eq!(
        described[0]["partitions"].as_array().map(Vec::len),
        Some(2),
        "{described}"
    );
    run(
        b,
        &[
            "topics",
            "describe",
            "-t",
            &kafka::unique("cli-ops-missing"),
        ],
        1,
    );

    let input: String = (0..6).map(|i| format!("v{i}\n")).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(["produce", "-t", &topic, "-p", "0", "-b", b])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("produce");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let out = run(
        b,
        &[
            "topics",
            "delete-records",
            "-t",
            &format!("{topic}:0"),
            "--before",
            "2",
        ],
        0,
    );
    assert_eq!(out, format!("{topic}/0  log start offset 2\n"));

    // A group given offsets by reset-offsets (it has no members): dry run
    // first, then executed, then read back with its lag.
    let group = kafka::unique("cli-ops-g");
    let dry = run(
        b,
        &[
            "groups",
            "reset-offsets",
            "-G",
            &group,
            "-t",
            &format!("{topic}:0"),
            "--to-offset",
            "4",
        ],
        0,
    );
    assert_eq!(
        dry,
        format!("{topic}/0  current=-  target=4\n(dry run: add --execute to commit)\n")
    );
    let none = json(&run(b, &["groups", "offsets", "-G", &group, "--json"], 0));
    assert_eq!(
        none[0]["partitions"].as_array().map(Vec::len),
        Some(0),
        "{none}"
    );
    // Two targets are a usage error (status 2), before anything is asked.
    let usage = run(
        b,
        &[
            "groups",
            "reset-offsets",
            "-G",
            &group,
            "-t",
            &topic,
            "--shift-by",
            "-1",
            "--to-offset",
            "4",
        ],
        2,
    );
    assert_eq!(usage, "");
    let done = json(&run(
        b,
        &[
            "groups",
            "reset-offsets",
            "-G",
            &group,
            "-t",
            &format!("{topic}:0"),
            "--to-offset",
            "4",
            "--execute",
            "--json",
        ],
        0,
    ));
    assert_eq!(done["executed"], true, "{done}");
    let offsets = json(&run(b, &["groups", "offsets", "-G", &group, "--json"], 0));
    assert_eq!(offsets[0]["partitions"][0]["committed"], 4, "{offsets}");
    assert_eq!(offsets[0]["partitions"][0]["lag"], 2, "{offsets}");
    let listed = json(&run(
        b,
        &["groups", "list", "--state", "Empty", "--json"],
        0,
    ));
    let ours = listed["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == group.as_str())
        .cloned();
    assert_eq!(
        ours.map(|g| g["type"].clone()),
        Some(serde_json::json!("classic")),
        "{listed}"
    );
    let out = run(
        b,
        &["groups", "delete-offsets", "-G", &group, "-t", &topic],
        0,
    );
    assert!(
        out.contains(&format!("deleted offset of {topic}/0")),
        "{out}"
    );
}
