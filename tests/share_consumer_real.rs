//! kafkit's ShareConsumer (KIP-932) against real Apache Kafka 4.4.0: share
//! consumers split a topic's records and accept each exactly once; a
//! released record comes back with delivery count 2; a rejected one never
//! comes back; records held by a stalled member are redelivered after the
//! acquisition lock timeout; a Java `KafkaShareConsumer` in the same group
//! shares the work.
//!
//! Share groups start at the latest offset (`share.auto.offset.reset`), so
//! every test joins and opens its share sessions before producing.
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), one node owned by this test binary,
//! with a 3 s acquisition lock and 500 ms share heartbeats (the broker's
//! minimums lowered) so that the scenarios take seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::share::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareRecord,
};

mod support;
use support::kafka;
use support::real::{client, create_topics, text};

/// The lock duration the broker is started with.
const LOCK: Duration = Duration::from_secs(3);

/// This binary's broker (`KAFKIT_SHARE_KAFKA` to reuse one started with the
/// same options).
fn broker() -> Option<String> {
    static CELL: OnceLock<Option<String>> = OnceLock::new();
    CELL.get_or_init(|| {
        if let Ok(b) = std::env::var("KAFKIT_SHARE_KAFKA") {
            return Some(b);
        }
        if !kafka::can_start() {
            return None;
        }
        let c = kafka::Cluster::start(
            1,
            &[
                "--set",
                "group.share.min.record.lock.duration.ms=1000",
                "--set",
                "group.share.record.lock.duration.ms=3000",
                "--set",
                "group.share.min.heartbeat.interval.ms=500",
                "--set",
                "group.share.heartbeat.interval.ms=500",
                "--set",
                "group.share.min.session.timeout.ms=6000",
                "--set",
                "group.share.session.timeout.ms=6000",
            ],
        );
        let b = c.bootstrap.clone();
        // Stopped by the watcher when this process exits.
        std::mem::forget(c);
        Some(b)
    })
    .clone()
}

async fn consumer(
    bootstrap: &str,
    group: &str,
    topic: &str,
    mode: AcknowledgementMode,
) -> ShareConsumer {
    let config = ShareConsumerConfig::new(group).with_acknowledgement_mode(mode);
    let mut c = ShareConsumer::connect(client(bootstrap), config)
        .await
        .expect("share consumer");
    c.subscribe([topic]);
    c
}

/// Polls every consumer until each has open share sessions for its
/// assignment and `partitions` are assigned overall.
async fn ready(consumers: &mut [&mut ShareConsumer], partitions: usize) {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let mut assigned = BTreeSet::new();
        let mut all = true;
        for c in consumers.iter_mut() {
            let got = c.poll(Duration::from_millis(100)).await.expect("poll");
            assert!(got.is_empty(), "records before any were produced");
            assigned.extend(c.assignment());
            all &= c.is_fetching();
        }
        if all && assigned.len() == partitions {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "share consumers not ready in 30 s"
        );
    }
}

async fn produce(bootstrap: &str, topic: &str, n: usize) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all((0..n).map(|i| {
            ProducerRecord::new(topic)
                .partition((i % 2) as i32)
                .value(format!("v{i}"))
        }))
        .await
        .expect("produced");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

async fn new_topic(bootstrap: &str, base: &str) -> String {
    let topic = kafka::unique(base);
    create_topics(bootstrap, &[(&topic, 2)], 1).await;
    topic
}

/// Polls until `n` records arrived or `within` passed.
async fn collect(c: &mut ShareConsumer, n: usize, within: Duration) -> Vec<ShareRecord> {
    let give_up = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < give_up {
        out.extend(c.poll(Duration::from_millis(300)).await.expect("poll"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_share_consumers_split_the_records_and_accept_each_once() {
    let Some(b) = broker() else { return };
    let topic = new_topic(&b, "share-split").await;
    let group = kafka::unique("share-split");
    let mode = AcknowledgementMode::Implicit;
    let mut c1 = consumer(&b, &group, &topic, mode).await;
    let mut c2 = consumer(&b, &group, &topic, mode).await;
    let mut c3 = consumer(&b, &group, &topic, mode).await;
    ready(&mut [&mut c1, &mut c2, &mut c3], 2).await;
    const N: usize = 600;
    produce(&b, &topic, N).await;

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_consumer = [0usize; 3];
    let give_up = Instant::now() + Duration::from_secs(30);
    while seen.len() < N && Instant::now() < give_up {
        for (i, c) in [&mut c1, &mut c2, &mut c3].into_iter().enumerate() {
            for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
                assert_eq!(r.delivery_count, 1, "redelivered: {r:?}");
                *seen.entry(text(r.value.as_ref())).or_default() += 1;
                per_consumer[i] += 1;
            }
        }
    }
    assert_eq!(seen.len(), N, "every record delivered");
    assert!(seen.values().all(|&n| n == 1), "a record delivered twice");
    assert!(
        per_consumer.iter().filter(|&&n| n > 0).count() >= 2,
        "the work is split: {per_consumer:?}"
    );
    // Closing accepts what the last polls delivered; each acceptance succeeded.
    for c in [c1, c2, c3] {
        for (tp, r) in c.close().await.expect("close") {
            assert!(r.is_ok(), "{tp:?}: {r:?}");
        }
    }
    // Nothing is left for a newcomer: every record was accepted.
    let mut late = consumer(&b, &group, &topic, mode).await;
    let more = collect(&mut late, 1, Duration::from_secs(4)).await;
    assert!(more.is_empty(), "accepted records came back: {more:?}");
    late.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_redelivers_with_count_two_and_reject_archives() {
    let Some(b) = broker() else { return };
    let topic = new_topic(&b, "share-ack").await;
    let group = kafka::unique("share-ack");
    let mut c = consumer(&b, &group, &topic, AcknowledgementMode::Explicit).await;
    ready(&mut [&mut c], 2).await;
    produce(&b, &topic, 10).await;

    let first = collect(&mut c, 10, Duration::from_secs(15)).await;
    assert_eq!(first.len(), 10);
    // Polling with unacknowledged records is refused in explicit mode.
    assert!(c.poll(Duration::ZERO).await.is_err());
    for r in &first {
        let kind = match text(r.value.as_ref()).as_str() {
            "v0" | "v1" => AcknowledgeType::Release,
            "v2" | "v3" => AcknowledgeType::Reject,
            _ => AcknowledgeType::Accept,
        };
        c.acknowledge(r, kind).expect("acknowledge");
    }
    // Acknowledging twice is refused once the first one is on its way.
    let outcome = c.commit_sync().await.expect("commit");
    assert_eq!(outcome.len(), 2, "{outcome:?}");
    assert!(outcome.values().all(Result::is_ok), "{outcome:?}");
    assert!(c.acknowledge(&first[0], AcknowledgeType::Accept).is_err());

    let again = collect(&mut c, 2, Duration::from_secs(10)).await;
    let mut values: Vec<_> = again
        .iter()
        .map(|r| (text(r.value.as_ref()), r.delivery_count))
        .collect();
    values.sort();
    assert_eq!(values, [("v0".to_string(), 2), ("v1".to_string(), 2)]);
    for r in &again {
        c.acknowledge(r, AcknowledgeType::Accept).expect("accept");
    }
    c.commit_sync().await.expect("commit");
    // The rejected records never come back.
    let rest = collect(&mut c, 1, Duration::from_secs(3)).await;
    assert!(rest.is_empty(), "{rest:?}");
    c.close().await.expect("close");
}
