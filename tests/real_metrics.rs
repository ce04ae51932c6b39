//! The metrics snapshot against the run's real Apache Kafka broker: a
//! producer and a group consumer count exactly the records that went
//! through, the consumer's lag reaches 0, every API used shows requests,
//! and the Prometheus text parses (a small parser here checks the line
//! format and that every family has one `# HELP` and one `# TYPE`).
//!
//! Peer: the broker (`support::kafka::single()`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use kafkit::consumer::Consumer;
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ApiKey;

mod support;
use support::kafka;
use support::real::{broker, client, group_config, next_records, topic, WAIT};

/// Samples keyed by `name{labels}` (labels sorted), values parsed.
type Samples = BTreeMap<String, f64>;

/// Parses Prometheus text exposition, panicking on any malformed line.
fn parse_prometheus(text: &str) -> Samples {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(valid_name(name) && !help.is_empty(), "bad HELP: {line}");
            assert!(helps.insert(name.to_owned()), "second HELP for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(valid_name(name), "bad TYPE name: {line}");
            assert!(
                ["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind),
                "bad TYPE: {line}"
            );
            assert!(helps.contains(name), "TYPE before HELP: {line}");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "second TYPE for {name}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                (name, parse_labels(body, line))
            }
            None => (series, Vec::new()),
        };
        assert!(valid_name(name), "bad sample name: {line}");
        let family = ["_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "summary"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        let mut labels = labels;
        labels.sort();
        let key = format!(
            "{name}{{{}}}",
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(
            samples.insert(key, value).is_none(),
            "duplicate series: {line}"
        );
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `k="v",k2="v2"` with `\\`, `\"` and `\n` escapes.
fn parse_labels(body: &str, line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label: {line}"));
        assert!(valid_name(key), "bad label name {key:?}: {line}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => panic!("bad escape: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        out.push((key.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// The one sample of `name` whose labels include every one of `with`.
fn value(samples: &Samples, name: &str, with: &[&str]) -> f64 {
    let hits: Vec<f64> = samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && with.iter().all(|w| k.contains(w)))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(hits.len(), 1, "{name} {with:?}: {hits:?}");
    hits[0]
}

/// The sum of every sample of `name` whose labels include every one of `with`.
fn total(samples: &Samples, name: &str, with: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && with.iter().all(|w| k.contains(w)))
        .map(|(_, v)| *v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_count_what_went_through_and_render_as_prometheus() {
    let Some(bootstrap) = broker() else { return };
    const N: usize = 300;
    let topic = topic(&bootstrap, "metrics", 2).await;
    let producer = Producer::connect(
        client(&bootstrap).with_client_id("metrics-producer"),
        ProducerConfig::default(),
    )
    .await
    .expect("producer");
    producer
        .send_all((0..N).map(|i| ProducerRecord::new(&topic).key(format!("k{i}")).value("v")))
        .await
        .expect("produced");
    let p = producer.metrics_snapshot();
    let pm = p.producer.expect("producer counters");
    assert_eq!(pm.records_sent, N as u64);
    assert!(pm.batches_sent >= 2 && pm.bytes_sent > 0, "{pm:?}");
    assert_eq!((pm.errors, pm.in_flight, pm.queued_records), (0, 0, 0));
    assert!(
        pm.queue_time.count >= 2 && pm.request_latency.count >= 1,
        "{pm:?}"
    );
    assert!(p.connections.connects >= 1);
    let text = p.to_prometheus();
    let samples = parse_prometheus(&text);
    let id = "client_id=metrics-producer";
    assert_eq!(
        value(&samples, "kafka_producer_record_send_total", &[id]),
        N as f64
    );
    assert_eq!(
        value(&samples, "kafka_producer_record_error_total", &[id]),
        0.0
    );
    assert!(
        value(&samples, "kafka_producer_request_latency_avg", &[id]) > 0.0,
        "{text}"
    );
    assert!(
        total(
            &samples,
            "kafka_producer_node_request_total",
            &[id, "api=Produce"]
        ) >= 1.0
    );
    assert!(
        total(
            &samples,
            "kafka_producer_node_request_total",
            &[id, "api=Metadata"]
        ) >= 1.0
    );
    assert!(
        total(
            &samples,
            "kafka_producer_node_request_total",
            &[id, "api=ApiVersions"]
        ) >= 1.0
    );
    assert!(value(&samples, "kafka_producer_connection_creation_total", &[id]) >= 1.0);
    producer.close(WAIT).await.expect("close");

    let group = kafka::unique("metrics-group");
    let mut consumer = Consumer::connect(
        client(&bootstrap).with_client_id("metrics-consumer"),
        group_config(&group),
    )
    .await
    .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let records = next_records(&mut consumer, N).await;
    assert_eq!(records.len(), N);
    consumer.mark_processed();
    consumer.commit().await.expect("commit");
    // The next (empty) fetch answers with the high watermark at the position.
    let deadline = tokio::time::Instant::now() + WAIT;
    let cm = loop {
        let cm = consumer
            .metrics_snapshot()
            .consumer
            .expect("consumer counters");
        let caught_up = cm.lag.len() == 2 && cm.lag.iter().all(|l| l.lag == 0);
        if caught_up || tokio::time::Instant::now() > deadline {
            break cm;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(cm.records_consumed, N as u64);
    assert_eq!(cm.lag.len(), 2, "{cm:?}");
    assert!(
        cm.lag
            .iter()
            .all(|l| l.lag == 0 && l.high_watermark == l.position),
        "{cm:?}"
    );
    let hw: i64 = cm.lag.iter().map(|l| l.high_watermark).sum();
    assert_eq!(hw, N as i64);
    assert!(
        cm.rebalances >= 1 && cm.commits >= 1 && cm.commit_latency.count >= 1,
        "{cm:?}"
    );
    assert!(cm.fetches >= 1 && cm.fetch_latency.count >= 1, "{cm:?}");
    let snapshot = consumer.metrics_snapshot();
    assert!(snapshot.connections.request_count(ApiKey::JOIN_GROUP) >= 1);
    assert!(snapshot.connections.request_count(ApiKey::OFFSET_FETCH) >= 1);
    let text = snapshot.to_prometheus();
    let samples = parse_prometheus(&text);
    let id = "client_id=metrics-consumer";
    assert_eq!(
        value(
            &samples,
            "kafka_consumer_fetch_manager_records_consumed_total",
            &[id]
        ),
        N as f64
    );
    for partition in ["partition=0", "partition=1"] {
        let t = format!("topic={topic}");
        assert_eq!(
            value(
                &samples,
                "kafka_consumer_fetch_manager_records_lag",
                &[id, &t, partition]
            ),
            0.0
        );
    }
    assert_eq!(
        value(
            &samples,
            "kafka_consumer_fetch_manager_records_lag_max",
            &[id]
        ),
        0.0
    );
    assert!(
        value(
            &samples,
            "kafka_consumer_coordinator_rebalance_total",
            &[id]
        ) >= 1.0
    );
    assert!(
        value(
            &samples,
            "kafka_consumer_fetch_manager_fetch_latency_seconds_count",
            &[id]
        ) >= 1.0
    );
    for api in [
        "Fetch",
        "JoinGroup",
        "SyncGroup",
        "OffsetCommit",
        "FindCoordinator",
    ] {
        let a = format!("api={api}");
        assert!(
            total(&samples, "kafka_consumer_node_request_total", &[id, &a]) >= 1.0,
            "{api}: {text}"
        );
    }
    consumer.close().await.expect("close");
}
