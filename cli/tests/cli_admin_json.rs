//! `--json` on every admin command against the run's real Apache Kafka
//! broker, as a user runs them: the commands that had only text output
//! (`topics create|delete|list`, `groups describe`, `offsets`, `metadata`)
//! and the stuck-transaction ones (`transactions list|describe`,
//! `producers`), one JSON array of per-item objects with `ok` and `error`,
//! exit status 1 when any item failed.

#[path = "../../tests/support/kafka.rs"]
mod kafka;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use serde_json::Value;

/// Runs kafkit against `broker` with `stdin`, expecting exit status `code`; returns stdout.
fn run_with(broker: &str, args: &[&str], stdin: &[u8], code: i32) -> String {
    let mut full = args.to_vec();
    full.extend(["-b", broker]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(&full)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kafkit");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "kafkit {args:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn run(broker: &str, args: &[&str], code: i32) -> String {
    run_with(broker, args, b"", code)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn topics_groups_offsets_and_metadata_as_json_on_kafka() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("cli-json");
    let created = json(&run(
        b,
        &[
            "topics", "create", "-t", &topic, "-p", "2", "-r", "1", "--json",
        ],
        0,
    ));
    assert_eq!(created, serde_json::json!([{"topic": topic, "ok": true}]));
    // Again: the one topic fails, exit status 1, the error in the object.
    let again = json(&run(
        b,
        &["topics", "create", "-t", &topic, "-p", "2", "--json"],
        1,
    ));
    assert_eq!(again[0]["ok"], false, "{again}");
    let error = again[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("TOPIC_ALREADY_EXISTS"), "{again}");

    let listed = json(&run(b, &["topics", "list", "--json"], 0));
    let ours: Vec<&Value> = listed
        .as_array()
        .expect("an array")
        .iter()
        .filter(|t| t["topic"] == topic.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{listed}");
    assert_eq!(ours[0]["partitions"], 2);
    assert_eq!(ours[0]["replication_factor"], 1);
    assert_eq!(ours[0]["internal"], false);

    run_with(b, &["produce", "-t", &topic, "-p", "0"], b"a\nb\nc\n", 0);
    let group = kafka::unique("cli-json-g");
    let at = format!("{topic}:0");
    run(
        b,
        &[
            "groups",
            "reset-offsets",
            "-G",
            &group,
            "-t",
            &at,
            "--to-offset",
            "1",
            "--execute",
        ],
        0,
    );
    let offsets = json(&run(
        b,
        &["offsets", "-t", &topic, "-G", &group, "--json"],
        0,
    ));
    assert_eq!(offsets.as_array().map(Vec::len), Some(2), "{offsets}");
    let p0 = &offsets[0];
    assert_eq!(
        (
            &p0["partition"],
            &p0["earliest"],
            &p0["latest"],
            &p0["committed"],
            &p0["lag"],
            &p0["ok"]
        ),
        (
            &Value::from(0),
            &Value::from(0),
            &Value::from(3),
            &Value::from(1),
            &Value::from(2),
            &Value::from(true)
        ),
        "{offsets}"
    );
    assert_eq!(offsets[1]["committed"], Value::Null, "{offsets}");

    let described = json(&run(b, &["groups", "describe", "-G", &group, "--json"], 0));
    assert_eq!(described[0]["group"], group.as_str(), "{described}");
    assert_eq!(described[0]["ok"], true, "{described}");
    assert_eq!(described[0]["state"], "Empty", "{described}");
    assert_eq!(
        described[0]["members"],
        serde_json::json!([]),
        "{described}"
    );

    let md = json(&run(b, &["metadata", "-t", &topic, "-O", "--json"], 0));
    assert_eq!(md["topics"][0]["topic"], topic.as_str(), "{md}");
    assert_eq!(md["topics"][0]["ok"], true, "{md}");
    assert_eq!(md["topics"][0]["partitions"][0]["latest"], 3, "{md}");
    assert_eq!(md["brokers"].as_array().map(Vec::len), Some(1), "{md}");
    // kcat's spelling, and a topic the broker does not know: exit status 1.
    let missing = kafka::unique("no-such");
    let md = json(&run(b, &["-L", "-t", &missing, "-J"], 1));
    assert_eq!(md["topics"][0]["ok"], false, "{md}");
    assert!(
        md["topics"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("UNKNOWN_TOPIC_OR_PARTITION")),
        "{md}"
    );

    // The later commands' objects carry "ok" as well.
    let described = json(&run(
        b,
        &["topics", "describe", "-t", &topic, "-t", &missing, "--json"],
        1,
    ));
    assert_eq!(
        (&described[0]["ok"], &described[1]["ok"]),
        (&Value::from(true), &Value::from(false)),
        "{described}"
    );
    let offsets = json(&run(b, &["groups", "offsets", "-G", &group, "--json"], 0));
    assert_eq!(offsets[0]["ok"], true, "{offsets}");

    let deleted = json(&run(b, &["topics", "delete", "-t", &topic, "--json"], 0));
    assert_eq!(deleted, serde_json::json!([{"topic": topic, "ok": true}]));
    let gone = json(&run(b, &["topics", "delete", "-t", &missing, "--json"], 1));
    assert_eq!(gone[0]["ok"], false, "{gone}");
}

/// The CLI's view of an open transaction: kafkit's transactional producer
/// writes to partition 0 and does not commit while the commands run.
#[tokio::test]
async fn transactions_and_producers_on_kafka() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("cli-txn");
    run(
        b,
        &["topics", "create", "-t", &topic, "-p", "2", "-r", "1"],
        0,
    );
    let id = kafka::unique("cli-txn-id");
    let config = ProducerConfig::default()
        .with_transactional_id(&id)
        .with_transaction_timeout(Duration::from_secs(30));
    let producer = Producer::connect(ClientConfig::new([b]), config)
        .await
        .expect("producer");
    producer.init_transactions().await.expect("init");
    producer.begin_transaction().await.expect("begin");
    producer
        .send_all((0..2).map(|i| {
            ProducerRecord::new(&topic)
                .partition(0)
                .value(format!("{i}"))
        }))
        .await
        .expect("send");

    let listed = json(&run(
        b,
        &["transactions", "list", "--state", "Ongoing", "--json"],
        0,
    ));
    let ours: Vec<&Value> = listed
        .as_array()
        .expect("an array")
        .iter()
        .filter(|t| t["transactional_id"] == id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{listed}");
    assert_eq!(ours[0]["state"], "Ongoing");
    let producer_id = ours[0]["producer_id"].as_i64().expect("a producer id");

    let described = json(&run(b, &["transactions", "describe", &id, "--json"], 0));
    assert_eq!(described[0]["ok"], true, "{described}");
    assert_eq!(described[0]["state"], "Ongoing", "{described}");
    assert_eq!(described[0]["producer_id"], producer_id, "{described}");
    assert_eq!(described[0]["timeout_ms"], 30_000, "{described}");
    assert_eq!(
        described[0]["partitions"],
        serde_json::json!([{"topic": topic, "partition": 0}])
    );
    // One unknown id: its line says why, the known one still prints, exit 1.
    let unknown = kafka::unique("cli-txn-none");
    let text = run(b, &["transactions", "describe", &id, &unknown], 1);
    assert!(text.starts_with(&format!("{id}  state=Ongoing")), "{text}");
    assert!(
        text.contains(&format!("{unknown} failed: TRANSACTIONAL_ID_NOT_FOUND")),
        "{text}"
    );

    let at = format!("{topic}:0");
    let producers = json(&run(b, &["producers", "-t", &at, "--json"], 0));
    assert_eq!(producers[0]["ok"], true, "{producers}");
    let p = &producers[0]["producers"][0];
    assert_eq!(p["producer_id"], producer_id, "{producers}");
    assert_eq!(p["current_transaction_start_offset"], 0, "{producers}");
    assert_eq!(p["last_sequence"], 1, "{producers}");
    let text = run(b, &["producers", "-t", &topic], 0);
    assert!(
        text.contains(&format!("{topic}/0  producer_id={producer_id}  epoch="))
            && text.contains("txn_start_offset=0")
            && text.contains(&format!("{topic}/1  no producers")),
        "{text}"
    );
    let text = run(b, &["producers", "-t", &format!("{topic}:5")], 1);
    assert!(
        text.contains("failed: UNKNOWN_TOPIC_OR_PARTITION"),
        "{text}"
    );

    producer.abort_transaction().await.expect("abort");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = json(&run(b, &["transactions", "describe", &id, "--json"], 0));
        if d[0]["state"] == "CompleteAbort" || d[0]["state"] == "Empty" {
            break;
        }
        assert!(Instant::now() < deadline, "after abort: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    producer.close(Duration::from_secs(5)).await.expect("close");
}
