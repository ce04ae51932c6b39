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
use std::time::{Duration, Instant};

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use kafkit::connection::BrokerConnection;
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::share_group_describe::{
    DescribedShareGroup, ShareGroupDescribeRequest,
};
use kafkit::protocol::ErrorCode;
use kafkit::share::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareRecord,
};

mod support;
use support::real::{client, create_topics, text};
use support::share_broker::{broker, LOCK};
use support::{java, kafka};

async fn consumer(
    bootstrap: &str,
    group: &str,
    topic: &str,
    mode: AcknowledgementMode,
) -> ShareConsumer {
    consumer_of(bootstrap, group, topic, mode, 500).await
}

/// A share consumer acquiring at most `max_records` records per fetch.
async fn consumer_of(
    bootstrap: &str,
    group: &str,
    topic: &str,
    mode: AcknowledgementMode,
    max_records: i32,
) -> ShareConsumer {
    let config = ShareConsumerConfig::new(group)
        .with_acknowledgement_mode(mode)
        .with_max_records(max_records);
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
    produce_from(bootstrap, topic, 0, n, 2).await;
}

/// Writes values `v0`..`v<n - 1>` over 2 partitions, `chunk` records per
/// awaited send, so the log holds many small batches.
async fn produce_in_batches(bootstrap: &str, topic: &str, n: usize, chunk: usize) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    for from in (0..n).step_by(chunk) {
        producer
            .send_all((from..(from + chunk).min(n)).map(|i| {
                ProducerRecord::new(topic)
                    .partition((i % 2) as i32)
                    .value(format!("v{i}"))
            }))
            .await
            .expect("produced");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

/// Writes values `v<from>`..`v<from + n - 1>`, round robin over `parts` partitions.
async fn produce_from(bootstrap: &str, topic: &str, from: usize, n: usize, parts: usize) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all((from..from + n).map(|i| {
            ProducerRecord::new(topic)
                .partition((i % parts) as i32)
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
    topic_of(bootstrap, base, 2).await
}

async fn topic_of(bootstrap: &str, base: &str, partitions: i32) -> String {
    let topic = kafka::unique(base);
    create_topics(bootstrap, &[(&topic, partitions)], 1).await;
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
    // Small fetches over small batches: the broker acquires whole batches,
    // so one consumer could otherwise take all the records in its first
    // fetch (seen under load: [600, 0, 0]).
    let mut c1 = consumer_of(&b, &group, &topic, mode, 40).await;
    let mut c2 = consumer_of(&b, &group, &topic, mode, 40).await;
    let mut c3 = consumer_of(&b, &group, &topic, mode, 40).await;
    ready(&mut [&mut c1, &mut c2, &mut c3], 2).await;
    const N: usize = 600;
    produce_in_batches(&b, &topic, N, 20).await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_held_by_a_stalled_or_dropped_member_come_back_after_the_lock_timeout() {
    let Some(b) = broker() else { return };
    // One partition: every member of the group fetches from it.
    let topic = topic_of(&b, "share-lock", 1).await;
    let group = kafka::unique("share-lock");
    let explicit = AcknowledgementMode::Explicit;
    let mut stalled = consumer(&b, &group, &topic, explicit).await;
    ready(&mut [&mut stalled], 1).await;
    produce_from(&b, &topic, 0, 10, 1).await;
    // One poll's worth (explicit mode: no second poll without acknowledging).
    let held = collect(&mut stalled, 1, Duration::from_secs(15)).await;
    let acquired_at = Instant::now();
    assert!(!held.is_empty());
    assert!(held.iter().all(|r| r.delivery_count == 1));
    let held_values: BTreeSet<String> = held.iter().map(|r| text(r.value.as_ref())).collect();

    // `stalled` stays connected and in the group but never acknowledges:
    // `other` gets what it held once its lock expired.
    let mut other = consumer(&b, &group, &topic, explicit).await;
    let mut got: BTreeMap<String, i16> = BTreeMap::new();
    let mut last_held_back = None;
    let give_up = Instant::now() + Duration::from_secs(20);
    while got.len() < 10 && Instant::now() < give_up {
        for r in other.poll(Duration::from_millis(300)).await.expect("poll") {
            let v = text(r.value.as_ref());
            if held_values.contains(&v) {
                last_held_back = Some(acquired_at.elapsed());
            }
            got.insert(v, r.delivery_count);
            other
                .acknowledge(&r, AcknowledgeType::Accept)
                .expect("accept");
        }
    }
    assert_eq!(got.len(), 10, "{got:?}");
    for (v, count) in &got {
        let want = if held_values.contains(v) { 2 } else { 1 };
        assert_eq!(*count, want, "{v}: {got:?}");
    }
    let waited = last_held_back.expect("held records came back");
    assert!(
        waited >= LOCK - Duration::from_millis(500),
        "too early: {waited:?}"
    );
    assert!(other
        .commit_sync()
        .await
        .expect("commit")
        .values()
        .all(Result::is_ok));
    // The stalled member's late release (its lock expired, `other`
    // accepted the records since) does not bring them back. Kafka 4.4.0
    // answers it with NONE, so the outcome is not checked, the effect is.
    for r in &held {
        stalled
            .acknowledge(r, AcknowledgeType::Release)
            .expect("queued locally");
    }
    stalled.commit_sync().await.expect("commit");
    let after = collect(&mut other, 1, Duration::from_millis(1500)).await;
    assert!(after.is_empty(), "accepted records came back: {after:?}");
    stalled.close().await.expect("close");

    // A member dropped without closing: its records come back too.
    let mut dropped = consumer(&b, &group, &topic, explicit).await;
    ready(&mut [&mut dropped, &mut other], 1).await;
    produce_from(&b, &topic, 10, 4, 1).await;
    // Only `dropped` fetches now; it takes one poll's worth and is dropped.
    let taken = collect(&mut dropped, 1, Duration::from_secs(10)).await;
    let want: BTreeSet<String> = taken.iter().map(|r| text(r.value.as_ref())).collect();
    assert!(!want.is_empty() && taken.iter().all(|r| r.delivery_count == 1));
    drop(dropped);
    let give_up = Instant::now() + Duration::from_secs(20);
    let mut again = BTreeSet::new();
    while !want.is_subset(&again) && Instant::now() < give_up {
        for r in other.poll(Duration::from_millis(300)).await.expect("poll") {
            let v = text(r.value.as_ref());
            if want.contains(&v) {
                assert_eq!(r.delivery_count, 2, "{r:?}");
                again.insert(v);
            }
            other
                .acknowledge(&r, AcknowledgeType::Accept)
                .expect("accept");
        }
    }
    assert!(
        want.is_subset(&again),
        "{want:?} not redelivered: {again:?}"
    );
    other.close().await.expect("close");
}

async fn describe(bootstrap: &str, group: &str) -> DescribedShareGroup {
    let addr = bootstrap.split(',').next().expect("a broker");
    let conn = BrokerConnection::connect(addr, None, &client(bootstrap))
        .await
        .expect("connect");
    let req = ShareGroupDescribeRequest {
        group_ids: vec![group.to_owned()],
        ..Default::default()
    };
    let resp = conn.send(&req).await.expect("ShareGroupDescribe");
    conn.close();
    resp.groups.into_iter().next().expect("one group")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_share_consumers_accept_every_record_once_together() {
    let Some(b) = broker() else { return };
    let topic = new_topic(&b, "share-java").await;
    let group = kafka::unique("share-java");
    let mut ks = Vec::new();
    for _ in 0..3 {
        let config = ShareConsumerConfig::new(&group).with_max_records(10);
        let mut c = ShareConsumer::connect(client(&b), config)
            .await
            .expect("connect");
        c.subscribe([topic.as_str()]);
        ks.push(c);
    }
    {
        let mut refs: Vec<&mut ShareConsumer> = ks.iter_mut().collect();
        ready(&mut refs, 2).await;
    }
    let mut peer = java::peer(&["share", &b, &topic, &group, "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("java runs");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let out = peer.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        })
    };
    // Until the coordinator lists four members, each with partitions.
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        for c in ks.iter_mut() {
            assert!(c
                .poll(Duration::from_millis(50))
                .await
                .expect("poll")
                .is_empty());
        }
        let g = describe(&b, &group).await;
        assert_eq!(g.error_code, ErrorCode::NONE);
        let assigned = g
            .members
            .iter()
            .filter(|m| {
                m.assignment
                    .topic_partitions
                    .iter()
                    .any(|t| !t.partitions.is_empty())
            })
            .count();
        if assigned == 4 && lines.lock().expect("lines").iter().any(|l| l == "polling") {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "the Java member did not join: {g:?}"
        );
    }

    const N: usize = 400;
    let mut kafkit_seen: Vec<(String, i16)> = Vec::new();
    let java_count = |lines: &Arc<Mutex<Vec<String>>>| {
        lines
            .lock()
            .expect("lines")
            .iter()
            .filter(|l| l.starts_with("rec\t"))
            .count()
    };
    for wave in 0..4 {
        produce_from(&b, &topic, wave * 100, 100, 2).await;
        for _ in 0..3 {
            for c in ks.iter_mut() {
                for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
                    kafkit_seen.push((text(r.value.as_ref()), r.delivery_count));
                }
            }
        }
    }
    let give_up = Instant::now() + Duration::from_secs(30);
    while kafkit_seen.len() + java_count(&lines) < N && Instant::now() < give_up {
        for c in ks.iter_mut() {
            for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
                kafkit_seen.push((text(r.value.as_ref()), r.delivery_count));
            }
        }
    }
    for c in ks {
        for (tp, r) in c.close().await.expect("close") {
            assert!(r.is_ok(), "{tp:?}: {r:?}");
        }
    }
    drop(peer.stdin.take());
    assert!(peer.wait().expect("java exits").success());
    reader.join().expect("reader");
    let lines = lines.lock().expect("lines").clone();
    assert!(!lines.iter().any(|l| l.starts_with("ackfail")), "{lines:?}");
    let java_seen: Vec<(String, i16)> = lines
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.first() == Some(&"rec")).then(|| (f[3].to_owned(), f[4].parse().unwrap_or(-1)))
        })
        .collect();
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for (v, count) in kafkit_seen.iter().chain(&java_seen) {
        assert_eq!(*count, 1, "{v} redelivered");
        *all.entry(v.clone()).or_default() += 1;
    }
    assert_eq!(all.len(), N, "every record delivered");
    assert!(all.values().all(|&n| n == 1), "a record delivered twice");
    assert!(!java_seen.is_empty(), "the Java member got none");
    assert!(!kafkit_seen.is_empty(), "the kafkit members got none");
    println!(
        "kafkit {} records, Java {}",
        kafkit_seen.len(),
        java_seen.len()
    );
}
