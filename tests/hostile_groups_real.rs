//! The next-generation group protocols behind a hostile broker: kafkit
//! talks to real Apache Kafka 4.4.0 through the hostile proxy
//! (`support/proxy.rs`, which lists itself as the broker and as every
//! coordinator), and the proxy breaks ConsumerGroupHeartbeat,
//! ShareGroupHeartbeat, ShareFetch and ShareAcknowledge responses: cut
//! mid-frame, replaced by garbage, a forged size prefix, a response
//! trickled byte by byte, or rewritten into a well-formed but hostile
//! answer (an assignment naming an unknown topic id and impossible
//! partitions; acquired ranges that are inverted or cover the whole log).
//!
//! Each time the member must recover by itself: no record is lost (a KIP-848
//! member still reads every record; a share group still hands out and
//! accepts every record, the broker redelivering what a broken response
//! took away once the acquisition lock expires), no kafkit task panics, no
//! allocation follows a forged size, and every error that reaches the user
//! names the broker and the request.
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), one node owned by this test binary,
//! with 500 ms consumer and share heartbeats and a 3 s acquisition lock.

#[path = "support/alloc_watch.rs"]
mod alloc_watch;
#[path = "support/proxy.rs"]
mod proxy;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use alloc_watch::{count_task_panics, LARGEST, TASK_PANICS};
use bytes::{Bytes, BytesMut};
use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent, GroupProtocol};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::frame::{decode_response_message, encode_response};
use kafkit::protocol::messages::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatResponse, ConsumerGroupTopicPartitions,
};
use kafkit::protocol::messages::share_fetch::{AcquiredRecords, ShareFetchResponse};
use kafkit::protocol::{ApiKey, Uuid};
use kafkit::share::{AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig};
use kafkit::ClientConfig;
use proxy::{Fault, Proxy};
use support::real::create_topics;
use support::{kafka, kip848, share_broker};

/// This binary's broker (`KAFKIT_HOSTILE_KAFKA` to reuse one started with
/// the same options), or `None` to skip.
fn broker() -> Option<String> {
    static CELL: OnceLock<Option<String>> = OnceLock::new();
    CELL.get_or_init(|| {
        if let Ok(b) = std::env::var("KAFKIT_HOSTILE_KAFKA") {
            return Some(b);
        }
        if !kafka::can_start() {
            return None;
        }
        let options: Vec<&str> = kip848::SETTINGS
            .iter()
            .chain(&share_broker::SETTINGS)
            .flat_map(|s| ["--set", s])
            .collect();
        let c = kafka::Cluster::start(1, &options);
        let b = c.bootstrap.clone();
        // Stopped by the watcher when this process exits.
        std::mem::forget(c);
        Some(b)
    })
    .clone()
}

/// The proxy in front of `direct`, listing itself everywhere.
async fn proxy(direct: &str) -> (Proxy, String) {
    count_task_panics();
    let proxy = Proxy::start(direct.to_owned()).await;
    proxy.advertise_self();
    let via = format!("127.0.0.1:{}", proxy.port);
    (proxy, via)
}

fn client(bootstrap: &str) -> ClientConfig {
    ClientConfig::new([bootstrap])
        .with_request_timeout(Duration::from_secs(3))
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

/// Writes values `v<from>`..`v<to - 1>` straight to the broker, round
/// robin over `partitions`.
async fn produce(direct: &str, topic: &str, values: std::ops::Range<usize>, partitions: usize) {
    let producer = Producer::connect(client(direct), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all(values.map(|i| {
            ProducerRecord::new(topic)
                .partition((i % partitions) as i32)
                .value(format!("v{i}"))
        }))
        .await
        .expect("produced");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

fn expected(n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("v{i}")).collect()
}

/// Re-encodes `resp` as a response frame body (after the size prefix).
fn reencode<R: kafkit::protocol::Message>(resp: &R, version: i16, correlation_id: i32) -> Bytes {
    let mut out = BytesMut::new();
    encode_response(resp, version, correlation_id, &mut out).expect("re-encode");
    out.freeze().slice(4..)
}

/// A heartbeat answer carrying an assignment gets a topic id no broker
/// knows, with impossible partitions, and impossible partitions of the real
/// topic; answers without an assignment are left alone.
fn hostile_assignment(version: i16, frame: Bytes) -> Option<Bytes> {
    let (header, mut resp) =
        decode_response_message::<ConsumerGroupHeartbeatResponse>(frame, version).ok()?;
    let assignment = resp.assignment.as_mut()?;
    for t in &mut assignment.topic_partitions {
        t.partitions.extend([-1, i32::MIN, 4096]);
    }
    assignment
        .topic_partitions
        .push(ConsumerGroupTopicPartitions {
            topic_id: Uuid([0x5a; 16]),
            partitions: vec![0, -7, i32::MAX],
            ..Default::default()
        });
    Some(reencode(&resp, version, header.correlation_id))
}

/// Asserts that an error a user saw names the broker and `api`.
fn names_broker_and_api(text: &str, broker: &str, apis: &[&str]) {
    assert!(text.contains(broker), "names the broker {broker}: {text}");
    assert!(
        apis.iter().any(|a| text.contains(a)),
        "names one of {apis:?}: {text}"
    );
}

/// Waits until every armed fault was applied, reading meanwhile; returns
/// the values read.
async fn read_until_applied(
    consumer: &mut Consumer,
    proxy: &Proxy,
    what: &str,
    seen: &mut BTreeMap<String, usize>,
) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !proxy.all_applied() {
        assert!(Instant::now() < give_up, "{what}: not applied in 30 s");
        read_some(consumer, seen, Duration::from_millis(200)).await;
    }
}

async fn read_some(consumer: &mut Consumer, seen: &mut BTreeMap<String, usize>, wait: Duration) {
    if let Ok(Some(r)) = tokio::time::timeout(wait, consumer.recv()).await {
        let r = r.unwrap_or_else(|e| panic!("the consumer failed: {e}"));
        let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        *seen.entry(v).or_default() += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_member_rides_out_broken_heartbeat_responses() {
    let Some(direct) = broker() else { return };
    let topic = kafka::unique("hostile-848");
    create_topics(&direct, &[(&topic, 3)], 1).await;
    produce(&direct, &topic, 0..300, 3).await;
    let (proxy, via) = proxy(&direct).await;
    let config = ConsumerConfig::group(kafka::unique("hostile-848"))
        .from_beginning()
        .with_group_protocol(GroupProtocol::Consumer)
        .with_auto_commit_interval(Duration::from_millis(200));
    let mut consumer = Consumer::connect(client(&via), config)
        .await
        .expect("consumer");
    let mut events = consumer.events().expect("events");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let heartbeat = ApiKey::CONSUMER_GROUP_HEARTBEAT.0;
    let mut seen = BTreeMap::new();

    // The first assignment arrives hostile: partitions 4096, -1 and
    // i32::MIN of the topic, and a topic id nobody knows.
    proxy.arm(heartbeat, Fault::Rewrite(Arc::new(hostile_assignment)));
    read_until_applied(&mut consumer, &proxy, "hostile assignment", &mut seen).await;
    for fault in [
        Fault::CutMidFrame,
        Fault::Garbage(64),
        Fault::SizePrefix(i32::MAX),
        Fault::SizePrefix(-5),
        Fault::Trickle(Duration::from_millis(1)),
    ] {
        let name = format!("{fault:?}");
        proxy.arm(heartbeat, fault);
        read_until_applied(&mut consumer, &proxy, &name, &mut seen).await;
    }
    // Records written after the faults arrive too: the member still owns
    // the topic's three partitions and fetches them.
    produce(&direct, &topic, 300..600, 3).await;
    let give_up = Instant::now() + Duration::from_secs(30);
    while seen.len() < 600 && Instant::now() < give_up {
        read_some(&mut consumer, &mut seen, Duration::from_millis(200)).await;
    }
    let read: BTreeSet<String> = seen.keys().cloned().collect();
    let missing: Vec<_> = expected(600).difference(&read).take(5).cloned().collect();
    assert!(missing.is_empty(), "records never read, e.g. {missing:?}");
    assert_eq!(read, expected(600), "only the produced records were read");

    let mut disconnects = 0;
    while let Ok(e) = events.try_recv() {
        match e {
            ConsumerEvent::Crashed { error, .. } => {
                panic!("the member gave up on a broken response: {error}")
            }
            ConsumerEvent::Disconnected { error } => {
                disconnects += 1;
                eprintln!("disconnected: {error}");
                names_broker_and_api(&error.to_string(), &via, &["ConsumerGroupHeartbeat"]);
            }
            _ => {}
        }
    }
    eprintln!(
        "applied {:?}; {disconnects} disconnect events",
        proxy.applied()
    );
    assert!(disconnects >= 1, "a broken heartbeat answer was reported");
    consumer.close().await.expect("close");
    assert_bounded_and_no_panic();
}

/// Acquired ranges that are inverted or cover the whole log are added to
/// the first partition answer that acquired something.
fn hostile_acquired(version: i16, frame: Bytes) -> Option<Bytes> {
    let (header, mut resp) = decode_response_message::<ShareFetchResponse>(frame, version).ok()?;
    let p = resp
        .responses
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
        .find(|p| !p.acquired_records.is_empty())?;
    p.acquired_records.extend([
        AcquiredRecords {
            first_offset: 50,
            last_offset: 10,
            delivery_count: 1,
            ..Default::default()
        },
        AcquiredRecords {
            first_offset: 0,
            last_offset: i64::MAX,
            delivery_count: i16::MAX,
            ..Default::default()
        },
    ]);
    Some(reencode(&resp, version, header.correlation_id))
}

/// Polls, collecting values; an error must name the broker and a share API.
async fn poll_share(
    c: &mut ShareConsumer,
    via: &str,
    seen: &mut BTreeMap<String, usize>,
    errors: &mut Vec<String>,
) -> Vec<kafkit::share::ShareRecord> {
    match c.poll(Duration::from_millis(300)).await {
        Ok(records) => {
            for r in &records {
                let v = String::from_utf8_lossy(r.record.value.as_deref().unwrap_or_default());
                *seen.entry(v.into_owned()).or_default() += 1;
            }
            records
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!("poll: {text}");
            names_broker_and_api(&text, via, &["ShareFetch", "ShareGroupHeartbeat"]);
            assert!(e.is_retriable(), "a broken answer is retriable: {e:?}");
            errors.push(text);
            Vec::new()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_consumer_rides_out_broken_share_responses_and_loses_nothing() {
    let Some(direct) = broker() else { return };
    let topic = kafka::unique("hostile-share");
    create_topics(&direct, &[(&topic, 2)], 1).await;
    let (proxy, via) = proxy(&direct).await;
    let config = ShareConsumerConfig::new(kafka::unique("hostile-share"))
        .with_acknowledgement_mode(AcknowledgementMode::Implicit)
        .with_max_records(50);
    let mut c = ShareConsumer::connect(client(&via), config)
        .await
        .expect("share consumer");
    c.subscribe([topic.as_str()]);
    // Share groups start at the latest offset: be fetching before producing.
    let give_up = Instant::now() + Duration::from_secs(30);
    while !(c.is_fetching() && c.assignment().len() == 2) {
        assert!(Instant::now() < give_up, "share consumer not ready in 30 s");
        c.poll(Duration::from_millis(100)).await.expect("poll");
    }
    let (mut seen, mut errors) = (BTreeMap::new(), Vec::new());
    let faults = [
        (
            ApiKey::SHARE_FETCH.0,
            Fault::Rewrite(Arc::new(hostile_acquired)),
        ),
        (ApiKey::SHARE_FETCH.0, Fault::CutMidFrame),
        (ApiKey::SHARE_FETCH.0, Fault::Garbage(64)),
        (ApiKey::SHARE_FETCH.0, Fault::SizePrefix(i32::MAX)),
        (ApiKey::SHARE_GROUP_HEARTBEAT.0, Fault::CutMidFrame),
        (ApiKey::SHARE_GROUP_HEARTBEAT.0, Fault::Garbage(64)),
        (ApiKey::SHARE_GROUP_HEARTBEAT.0, Fault::SizePrefix(-5)),
    ];
    let mut next = 0;
    for fault in faults {
        let name = format!("{}: {:?}", fault.0, fault.1);
        proxy.arm(fault.0, fault.1);
        // Something to fetch for each fault.
        produce(&direct, &topic, next..next + 40, 2).await;
        next += 40;
        let give_up = Instant::now() + Duration::from_secs(30);
        while !proxy.all_applied() {
            assert!(Instant::now() < give_up, "{name}: not applied in 30 s");
            poll_share(&mut c, &via, &mut seen, &mut errors).await;
        }
    }
    // What a broken answer took away comes back after the lock (3 s).
    let give_up = Instant::now() + Duration::from_secs(40);
    while seen.len() < next && Instant::now() < give_up {
        poll_share(&mut c, &via, &mut seen, &mut errors).await;
    }
    let read: BTreeSet<String> = seen.keys().cloned().collect();
    assert_eq!(read, expected(next), "every record was handed out");
    let redelivered = seen.values().filter(|n| **n > 1).count();
    eprintln!(
        "applied {:?}; {} errors; {redelivered} records delivered more than once",
        proxy.applied(),
        errors.len()
    );

    // ShareAcknowledge: explicit acknowledgements whose answer is garbage.
    // The commit reports the failure per partition, naming the broker and
    // the API; the broker may well have applied them (only the answer was
    // broken): either way the group's lag reaches 0, every record accepted.
    let later = acknowledge_through_garbage(&direct, &via, &topic, &proxy).await;
    eprintln!("{later} records accepted after the broken commit");
    c.close().await.expect("close");
    assert_bounded_and_no_panic();
}

/// A second, explicit-mode consumer of a new group accepts 20 records; the
/// answer to its first ShareAcknowledge is garbage. The commit fails naming
/// the broker and the API (in its per-partition results); afterwards it keeps polling and accepting what
/// comes back (records whose acceptance was lost return after the lock).
/// Returns how many records it accepted with a successful commit after
/// that; the group's lag must reach 0 (every record accepted at the broker).
async fn acknowledge_through_garbage(direct: &str, via: &str, topic: &str, proxy: &Proxy) -> usize {
    let group = kafka::unique("hostile-ack");
    let config = ShareConsumerConfig::new(group.clone())
        .with_acknowledgement_mode(AcknowledgementMode::Explicit)
        .with_max_records(20);
    let mut c = ShareConsumer::connect(client(via), config)
        .await
        .expect("share consumer");
    c.subscribe([topic]);
    let give_up = Instant::now() + Duration::from_secs(30);
    while !(c.is_fetching() && c.assignment().len() == 2) {
        assert!(Instant::now() < give_up, "share consumer not ready in 30 s");
        c.poll(Duration::from_millis(100)).await.expect("poll");
    }
    produce(direct, topic, 10_000..10_020, 2).await;
    let admin = support::real::admin(direct).await;
    let (mut accepted, mut failed_commit) = (0, false);
    let give_up = Instant::now() + Duration::from_secs(40);
    loop {
        assert!(Instant::now() < give_up, "the group's lag never reached 0");
        let records = c.poll(Duration::from_millis(300)).await.expect("poll");
        for r in &records {
            c.acknowledge(r, AcknowledgeType::Accept)
                .expect("acknowledge");
        }
        let break_it = !records.is_empty() && !failed_commit;
        if break_it {
            proxy.arm(ApiKey::SHARE_ACKNOWLEDGE.0, Fault::Garbage(64));
        }
        let results = c.commit_sync().await.expect("commit_sync");
        let failures: Vec<String> = results
            .values()
            .filter_map(|r| r.as_ref().err())
            .map(ToString::to_string)
            .collect();
        if break_it {
            assert!(proxy.all_applied(), "the garbage answer was the one sent");
            assert!(
                !failures.is_empty(),
                "a garbage answer was taken for success"
            );
            for text in &failures {
                eprintln!("commit_sync: {text}");
                names_broker_and_api(text, via, &["ShareAcknowledge"]);
            }
            failed_commit = true;
        } else {
            assert!(failures.is_empty(), "{failures:?}");
            accepted += records.len();
        }
        if failed_commit && records.is_empty() && share_lag(&admin, &group, topic).await == 0 {
            break;
        }
    }
    c.close().await.expect("close");
    accepted
}

/// The group's total lag on `topic` (unknown counts as 1).
async fn share_lag(admin: &kafkit::Admin, group: &str, topic: &str) -> i64 {
    match admin.share_group_offsets(group, &[topic.to_owned()]).await {
        Ok(offsets) if !offsets.is_empty() => offsets.iter().map(|o| o.lag.unwrap_or(1)).sum(),
        _ => 1,
    }
}

fn assert_bounded_and_no_panic() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 64 << 20,
        "largest allocation {largest} bytes: a forged size prefix was believed"
    );
    assert_eq!(
        TASK_PANICS.load(Ordering::Acquire),
        0,
        "a kafkit task panicked"
    );
}
