//! The share consumer's two Kafka 4.2 features against real Apache Kafka
//! 4.4.0: acquisition lock renewal (KIP-1222, `AcknowledgeType::Renew`)
//! keeps a record that is still being processed away from the rest of the
//! group past its lock; the acquire mode (KIP-1206) makes `max_records` a
//! hard limit per fetch (`RecordLimit`) or rounds it up to whole batches
//! (`BatchOptimized`); a [`ShareListener`] renews the records of a handler
//! that runs longer than the lock; a leader that speaks only ShareFetch v1
//! (a proxy rewrites ApiVersions) refuses nothing but renewals.
//!
//! Share groups start at the latest offset, so every test joins and opens
//! its share sessions before producing.
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), one node owned by this test binary,
//! with a 3 s acquisition lock and 500 ms share heartbeats (the options of
//! `tests/share_consumer_real.rs`; `KAFKIT_SHARE_KAFKA` reuses a broker
//! started with them).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafkit::listener::{HandlerError, ShareListener, ShareListenerEvent, ShareOutcome};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::frame::{decode_response_message, encode_response};
use kafkit::protocol::messages::api_versions::ApiVersionsResponse;
use kafkit::protocol::ApiKey;
use kafkit::share::{
    AcknowledgeType, AcknowledgementMode, ShareAcquireMode, ShareConsumer, ShareConsumerConfig,
    ShareRecord,
};
use kafkit::Error;

#[path = "support/proxy.rs"]
mod proxy;
mod support;
use proxy::{Fault, Proxy};
use support::kafka;
use support::real::{client, create_topics, init_tracing, text};
use support::share_broker::{self, LOCK};

/// This binary's broker, with tracing on.
fn broker() -> Option<String> {
    init_tracing();
    share_broker::broker()
}

async fn consumer(bootstrap: &str, topic: &str, config: ShareConsumerConfig) -> ShareConsumer {
    let mut c = ShareConsumer::connect(client(bootstrap), config)
        .await
        .expect("share consumer");
    c.subscribe([topic]);
    c
}

fn explicit(group: &str) -> ShareConsumerConfig {
    ShareConsumerConfig::new(group).with_acknowledgement_mode(AcknowledgementMode::Explicit)
}

/// Polls every consumer until each has open share sessions for the topic's
/// single partition.
async fn ready(consumers: &mut [&mut ShareConsumer]) {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let mut all = true;
        for c in consumers.iter_mut() {
            let got = c.poll(Duration::from_millis(100)).await.expect("poll");
            assert!(got.is_empty(), "records before any were produced");
            all &= c.is_fetching() && c.assignment().len() == 1;
        }
        if all {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "share consumers not ready in 30 s"
        );
    }
}

/// Writes values `v<from>`..`v<from + n - 1>` to partition 0, `chunk`
/// records per awaited send (one batch each).
async fn produce(bootstrap: &str, topic: &str, from: usize, n: usize, chunk: usize) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    for start in (from..from + n).step_by(chunk) {
        producer
            .send_all((start..(start + chunk).min(from + n)).map(|i| {
                ProducerRecord::new(topic)
                    .partition(0)
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

async fn one_partition_topic(bootstrap: &str, base: &str) -> String {
    let topic = kafka::unique(base);
    create_topics(bootstrap, &[(&topic, 1)], 1).await;
    topic
}

/// Polls both until one of them gets a record: (which, its records).
async fn first_delivery(pair: [&mut ShareConsumer; 2]) -> (usize, Vec<ShareRecord>) {
    let give_up = Instant::now() + Duration::from_secs(15);
    let [a, b] = pair;
    while Instant::now() < give_up {
        for (i, c) in [&mut *a, &mut *b].into_iter().enumerate() {
            let got = c.poll(Duration::from_millis(200)).await.expect("poll");
            if !got.is_empty() {
                return (i, got);
            }
        }
    }
    panic!("nothing delivered in 15 s");
}

/// What `c` receives within `within` (explicit mode: accepted as they come).
async fn drain(c: &mut ShareConsumer, within: Duration) -> Vec<ShareRecord> {
    let until = Instant::now() + within;
    let mut out = Vec::new();
    while Instant::now() < until {
        for r in c.poll(Duration::from_millis(200)).await.expect("poll") {
            c.acknowledge(&r, AcknowledgeType::Accept).expect("accept");
            out.push(r);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_record_stays_with_its_holder_past_the_lock_and_is_accepted_once() {
    let Some(b) = broker() else { return };
    let topic = one_partition_topic(&b, "share-renew").await;
    let group = kafka::unique("share-renew");
    let mut c0 = consumer(&b, &topic, explicit(&group)).await;
    let mut c1 = consumer(&b, &topic, explicit(&group)).await;
    ready(&mut [&mut c0, &mut c1]).await;
    produce(&b, &topic, 0, 1, 1).await;
    let (i, got) = first_delivery([&mut c0, &mut c1]).await;
    let (holder, other) = if i == 0 {
        (&mut c0, &mut c1)
    } else {
        (&mut c1, &mut c0)
    };
    let acquired_at = Instant::now();
    assert_eq!(got.len(), 1);
    let record = &got[0];
    assert_eq!(
        (text(record.value.as_ref()), record.delivery_count),
        ("v0".into(), 1)
    );
    assert_eq!(holder.acquisition_lock_timeout(), Some(LOCK));

    // Held for over twice the lock, renewed about every second: for a lock
    // and more by ShareAcknowledge (commit_sync), then for a lock and more
    // by renew-only ShareFetches (poll) alone. The other member polls all
    // along and gets nothing.
    let mut stolen = Vec::new();
    let by_poll_from = LOCK + Duration::from_secs(1);
    let (mut by_ack, mut by_poll) = (0, 0);
    while acquired_at.elapsed() < by_poll_from + LOCK + Duration::from_secs(1) {
        holder
            .acknowledge(record, AcknowledgeType::Renew)
            .expect("renew");
        if acquired_at.elapsed() < by_poll_from {
            let results = holder.commit_sync().await.expect("commit");
            assert!(results.values().all(Result::is_ok), "{results:?}");
            by_ack += 1;
        } else {
            let more = holder.poll(Duration::from_millis(100)).await.expect("poll");
            assert!(more.is_empty(), "{more:?}");
            by_poll += 1;
        }
        let tick = Instant::now() + Duration::from_secs(1);
        while Instant::now() < tick {
            stolen.extend(other.poll(Duration::from_millis(200)).await.expect("poll"));
        }
    }
    assert!(stolen.is_empty(), "renewed record redelivered: {stolen:?}");
    let held_for = acquired_at.elapsed();
    assert!(by_ack >= 3 && by_poll >= 3, "{by_ack} + {by_poll}");

    holder
        .acknowledge(record, AcknowledgeType::Accept)
        .expect("accept after renewals");
    let results = holder.commit_sync().await.expect("commit");
    assert_eq!(results.len(), 1);
    assert!(results.values().all(Result::is_ok), "{results:?}");
    // Accepted once: it never comes back to anyone.
    let later = drain(other, LOCK + Duration::from_secs(1)).await;
    assert!(later.is_empty(), "{later:?}");

    // The control case: the same hold without renewing, and the record goes
    // to the other member with delivery count 2 after the lock.
    produce(&b, &topic, 1, 1, 1).await;
    let (i, got) = first_delivery([&mut c0, &mut c1]).await;
    let acquired_at = Instant::now();
    assert_eq!((got.len(), got[0].delivery_count), (1, 1));
    let other = if i == 0 { &mut c1 } else { &mut c0 };
    let mut again = Vec::new();
    let mut waited = None;
    while again.is_empty() && acquired_at.elapsed() < 2 * LOCK {
        for r in other.poll(Duration::from_millis(200)).await.expect("poll") {
            waited.get_or_insert(acquired_at.elapsed());
            other
                .acknowledge(&r, AcknowledgeType::Accept)
                .expect("accept");
            again.push((text(r.value.as_ref()), r.delivery_count));
        }
    }
    assert_eq!(
        again,
        [("v1".to_string(), 2)],
        "without renewal the record is redelivered"
    );
    let waited = waited.expect("redelivered");
    eprintln!(
        "unrenewed record redelivered after {waited:?}; {by_ack} + {by_poll} renewals held the \
         first for {held_for:?}"
    );
    assert!(waited >= LOCK - Duration::from_millis(300), "{waited:?}");
    assert!(other
        .commit_sync()
        .await
        .expect("commit")
        .values()
        .all(Result::is_ok));
    c0.close().await.expect("close");
    c1.close().await.expect("close");
}

/// Polls `c` (implicit mode) until `n` records arrived; returns the size of
/// every non-empty poll and the values with their delivery counts.
async fn poll_sizes(c: &mut ShareConsumer, n: usize) -> (Vec<usize>, BTreeMap<String, Vec<i16>>) {
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut sizes = Vec::new();
    let mut seen: BTreeMap<String, Vec<i16>> = BTreeMap::new();
    while seen.values().map(Vec::len).sum::<usize>() < n && Instant::now() < give_up {
        let got = c.poll(Duration::from_millis(300)).await.expect("poll");
        if got.is_empty() {
            continue;
        }
        sizes.push(got.len());
        for r in got {
            seen.entry(text(r.value.as_ref()))
                .or_default()
                .push(r.delivery_count);
        }
    }
    (sizes, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_limit_acquires_at_most_max_records_and_batch_optimized_whole_batches() {
    let Some(b) = broker() else { return };
    let topic = one_partition_topic(&b, "share-mode").await;
    let (limited, whole) = (kafka::unique("share-limit"), kafka::unique("share-batch"));
    let config = |g: &str, mode| {
        ShareConsumerConfig::new(g)
            .with_max_records(5)
            .with_acquire_mode(mode)
    };
    let mut lc = consumer(&b, &topic, config(&limited, ShareAcquireMode::RecordLimit)).await;
    let mut wc = consumer(&b, &topic, config(&whole, ShareAcquireMode::BatchOptimized)).await;
    ready(&mut [&mut lc, &mut wc]).await;
    // Three batches of 20 records.
    produce(&b, &topic, 0, 60, 20).await;

    let (sizes, seen) = poll_sizes(&mut lc, 60).await;
    assert_eq!(seen.len(), 60, "{seen:?}");
    assert!(seen.values().all(|counts| counts == &[1]), "{seen:?}");
    eprintln!("record_limit poll sizes: {sizes:?}");
    assert!(
        sizes.iter().all(|&n| n <= 5),
        "record_limit polls: {sizes:?}"
    );
    assert!(sizes.len() >= 12, "{sizes:?}");
    let results = lc.close().await.expect("close");
    assert!(results.values().all(Result::is_ok), "{results:?}");

    let (sizes, seen) = poll_sizes(&mut wc, 60).await;
    assert_eq!(seen.len(), 60, "{seen:?}");
    assert!(seen.values().all(|counts| counts == &[1]), "{seen:?}");
    eprintln!("batch_optimized poll sizes: {sizes:?}");
    assert!(
        sizes.iter().all(|&n| n % 20 == 0),
        "batch_optimized polls: {sizes:?}"
    );
    let results = wc.close().await.expect("close");
    assert!(results.values().all(Result::is_ok), "{results:?}");

    // Every record was accepted once by each group: nothing comes back.
    for g in [&limited, &whole] {
        let mut again = consumer(&b, &topic, explicit(g)).await;
        let later = drain(&mut again, Duration::from_secs(4)).await;
        assert!(later.is_empty(), "{g}: {later:?}");
        again.close().await.expect("close");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_listener_renews_the_record_of_a_handler_slower_than_the_lock() {
    let Some(b) = broker() else { return };
    let topic = one_partition_topic(&b, "share-slow").await;
    let group = kafka::unique("share-slow");
    // `other` initializes the share-partition (at the latest offset), then
    // stops polling so that the listener gets the record.
    let mut other = consumer(&b, &topic, explicit(&group)).await;
    ready(&mut [&mut other]).await;

    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel::<(String, i16)>();
    let finish = Arc::new(tokio::sync::Notify::new());
    let release = Arc::clone(&finish);
    let mut listener = ShareListener::builder(
        client(&b),
        ShareConsumerConfig::new(&group),
        [topic.clone()],
        move |r: ShareRecord| {
            let started = started_tx.clone();
            let finish = Arc::clone(&release);
            async move {
                let _ = started.send((text(r.value.as_ref()), r.delivery_count));
                finish.notified().await;
                Ok::<(), HandlerError>(())
            }
        },
    )
    .run();
    let mut events = listener.events().expect("events");
    produce(&b, &topic, 0, 1, 1).await;
    let first = tokio::time::timeout(Duration::from_secs(20), started.recv())
        .await
        .expect("handler started")
        .expect("a record");
    assert_eq!(first, ("v0".to_string(), 1));
    let handling_since = Instant::now();

    // While the handler runs (past twice the lock), the other member polls
    // the partition and gets nothing: the listener renews the lock.
    let stolen = drain(&mut other, 2 * LOCK + Duration::from_millis(500)).await;
    assert!(
        stolen.is_empty(),
        "the record in hand was redelivered: {stolen:?}"
    );
    assert!(handling_since.elapsed() > 2 * LOCK);
    finish.notify_one();

    let handled = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event")
        .expect("the listener runs");
    match handled {
        ShareListenerEvent::Handled {
            offset,
            delivery_count,
            outcome,
            ..
        } => assert_eq!(
            (offset, delivery_count, outcome),
            (0, 1, ShareOutcome::Accepted)
        ),
        other => panic!("{other:?}"),
    }
    // Accepted once: neither member gets it again.
    let later = drain(&mut other, LOCK + Duration::from_secs(1)).await;
    assert!(later.is_empty(), "{later:?}");
    assert!(started.try_recv().is_err(), "handled twice");
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    other.close().await.expect("close");
}

/// An ApiVersions answer capped at ShareFetch / ShareAcknowledge v1, as
/// Kafka 4.1 answers.
fn share_v1_only(version: i16, frame: Bytes) -> Option<Bytes> {
    let (header, mut resp) = decode_response_message::<ApiVersionsResponse>(frame, version).ok()?;
    for api in &mut resp.api_keys {
        if api.api_key == ApiKey::SHARE_FETCH.0 || api.api_key == ApiKey::SHARE_ACKNOWLEDGE.0 {
            api.max_version = 1;
        }
    }
    let mut out = BytesMut::new();
    encode_response(&resp, version, header.correlation_id, &mut out).expect("re-encode");
    Some(out.freeze().slice(4..))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_fetch_v1_leader_refuses_renewals_by_name_and_takes_the_rest() {
    let Some(b) = broker() else { return };
    let topic = one_partition_topic(&b, "share-v1").await;
    let group = kafka::unique("share-v1");
    let proxy = Proxy::start(b.clone()).await;
    proxy.advertise_self();
    for _ in 0..16 {
        proxy.arm(
            ApiKey::API_VERSIONS.0,
            Fault::Rewrite(Arc::new(share_v1_only)),
        );
    }
    let via = format!("127.0.0.1:{}", proxy.port);
    let config = explicit(&group).with_acquire_mode(ShareAcquireMode::RecordLimit);
    let mut c = consumer(&via, &topic, config).await;
    ready(&mut [&mut c]).await;
    produce(&b, &topic, 0, 2, 2).await;
    let got = drain_unacknowledged(&mut c, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    match c.acknowledge(&got[0], AcknowledgeType::Renew) {
        Err(Error::UnsupportedVersion {
            broker,
            api,
            version,
            ..
        }) => assert_eq!(
            (broker, api, version),
            (via.clone(), ApiKey::SHARE_FETCH, 1)
        ),
        other => panic!("{other:?}"),
    }
    // The refused renewal left the record as it was: accepted like the other.
    for r in &got {
        c.acknowledge(r, AcknowledgeType::Accept).expect("accept");
    }
    let results = c.commit_sync().await.expect("commit");
    assert_eq!(results.len(), 1);
    assert!(results.values().all(Result::is_ok), "{results:?}");
    assert!(
        proxy
            .applied()
            .iter()
            .any(|(api, _)| *api == ApiKey::API_VERSIONS.0),
        "{:?}",
        proxy.applied()
    );
    c.close().await.expect("close");
}

/// Polls `c` (explicit mode) until `n` records arrived, acknowledging none.
async fn drain_unacknowledged(c: &mut ShareConsumer, n: usize) -> Vec<ShareRecord> {
    let give_up = Instant::now() + Duration::from_secs(15);
    let mut out = Vec::new();
    while out.is_empty() && Instant::now() < give_up {
        out = c.poll(Duration::from_millis(300)).await.expect("poll");
    }
    assert!(out.len() <= n, "{out:?}");
    out
}
