//! Helpers for the tests against real Apache Kafka (`tests/real_*.rs`):
//! topics created through kafkit's admin client, unique names, reading a
//! topic back exactly, quick group timers.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerRecord};
use kafkit::ClientConfig;

use super::kafka;

/// How long any one wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// Turns on `RUST_LOG` tracing for the test.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The run's single broker (see `support::kafka`), with tracing on.
pub fn broker() -> Option<String> {
    init_tracing();
    kafka::single().map(|k| k.bootstrap.clone())
}

/// A client config for `bootstrap`.
pub fn client(bootstrap: &str) -> ClientConfig {
    ClientConfig::new([bootstrap])
}

/// An admin client for `bootstrap`.
pub async fn admin(bootstrap: &str) -> Admin {
    Admin::connect(client(bootstrap))
        .await
        .expect("admin client")
        .with_timeout(WAIT)
}

/// Creates `topics` (name, partitions) with replication factor
/// `replication` and waits until metadata has them.
pub async fn create_topics(bootstrap: &str, topics: &[(&str, i32)], replication: i16) {
    let admin = admin(bootstrap).await;
    let wanted: Vec<NewTopic> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(*name, *partitions, replication))
        .collect();
    for (name, result) in admin.create_topics(&wanted, false).await.expect("create") {
        result.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
    // Metadata lists a new topic before its leader has taken the
    // partitions over: a write then gets NOT_LEADER_OR_FOLLOWER, which
    // acks=0 never sees (the broker closes the connection and the records
    // are gone). ListOffsets at each leader, retried by the admin client on
    // that error, waits until every partition answers.
    let mut partitions = Vec::new();
    for (name, count) in topics {
        admin
            .client()
            .topic(name, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{name} in metadata: {e}"));
        partitions.extend((0..*count).map(|p| tp(name, p)));
    }
    let listed = admin
        .list_offsets(&partitions, OffsetSpec::Latest)
        .await
        .expect("list offsets");
    for (tp, result) in listed {
        result.unwrap_or_else(|e| panic!("{tp:?} not writable: {e}"));
    }
    admin.close();
}

/// A fresh topic with `partitions` partitions on the single-node broker.
pub async fn topic(bootstrap: &str, base: &str, partitions: i32) -> String {
    let name = kafka::unique(base);
    create_topics(bootstrap, &[(&name, partitions)], 1).await;
    name
}

/// `topic`/`partition`.
pub fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

/// A record's key or value as text.
pub fn text(b: Option<&bytes::Bytes>) -> String {
    String::from_utf8_lossy(b.map_or(&[][..], |b| &b[..])).into_owned()
}

/// A group member reading from the beginning, with quick timers.
pub fn group_config(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(100))
}

/// The next `n` records of `consumer`, or a panic naming how many came.
pub async fn next_records(consumer: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    next_records_of(consumer, n, "").await
}

/// [`next_records`], naming `what` (a topic, a member) when it fails.
pub async fn next_records_of(consumer: &mut Consumer, n: usize, what: &str) -> Vec<ConsumerRecord> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Some(Ok(r))) => out.push(r),
            Ok(Some(Err(e))) => panic!("{what}: consumer error after {} records: {e}", out.len()),
            Ok(None) => panic!("{what}: consumer closed after {} records", out.len()),
            Err(_) => panic!("{what}: only {} of {n} records within {WAIT:?}", out.len()),
        }
    }
    out
}

/// Asserts that `consumer` delivers nothing more within `quiet`.
pub async fn assert_no_more(consumer: &mut Consumer, quiet: Duration) {
    if let Ok(Some(r)) = tokio::time::timeout(quiet, consumer.recv()).await {
        panic!("an extra record: {r:?}");
    }
}

/// Every record of `topic`, read from the beginning by a kafkit consumer
/// (manual assignment): exactly `n`, none more within half a second.
/// Keyed by (partition, offset).
pub async fn read_topic(
    bootstrap: &str,
    topic: &str,
    n: usize,
    config: ConsumerConfig,
) -> BTreeMap<(i32, i64), ConsumerRecord> {
    let mut consumer = Consumer::connect(client(bootstrap), config.from_beginning())
        .await
        .expect("consumer");
    consumer.assign_topic(topic).await.expect("assign");
    let read = next_records_of(&mut consumer, n, topic).await;
    assert_no_more(&mut consumer, Duration::from_millis(500)).await;
    consumer.close().await.expect("close");
    let by_position: BTreeMap<(i32, i64), ConsumerRecord> = read
        .into_iter()
        .map(|r| ((r.partition, r.offset), r))
        .collect();
    assert_eq!(by_position.len(), n, "{topic}: a position read twice");
    by_position
}
