//! Rebalance time on real Apache Kafka 4.4.0, kafkit side by side on the
//! three protocols: a 4th member joins a group of 3 reading 12 partitions
//! while a producer writes to every partition; measured until every
//! partition is owned again (each exactly once, 3 per member) and until the
//! newcomer reads its first record, plus the longest time no member read
//! anything (the group-wide pause) and, per partition, the longest time
//! it went unread, from the join until the group settled (eager stops
//! every partition; the incremental protocols only the 3 that move). Heartbeats every 500 ms on all three (client setting for
//! classic, the broker's `group.consumer.heartbeat.interval.ms` for
//! KIP-848). The numbers are printed; the test asserts that each protocol
//! converges, and that the consumer protocol and cooperative-sticky keep
//! reading through the rebalance where eager stops everyone.
//!
//! Peer: the KIP-848 tests' broker (`support::kip848`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::consumer::{ConsumerConfig, GroupProtocol};
use kafkit::group::{CooperativeStickyAssignor, RangeAssignor};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use tokio::sync::mpsc;

mod support;
use support::kafka;
use support::kip848::{broker, settle_848};
use support::members::{reads, GroupView, KafkitMember, ReadLog};

const PARTITIONS: i32 = 12;

#[derive(Debug)]
struct Measured {
    owned_again: Duration,
    newcomer_reads: Duration,
    longest_pause: Duration,
    /// Per partition, the longest time it went unread, longest first.
    partition_gaps: Vec<Duration>,
}

fn config(group: &str, protocol: &str) -> ConsumerConfig {
    let c = ConsumerConfig::group(group)
        .from_beginning()
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(100))
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(500));
    match protocol {
        "eager" => c.with_assignors(vec![Arc::new(RangeAssignor)]),
        "cooperative" => c.with_assignors(vec![Arc::new(CooperativeStickyAssignor)]),
        _ => c.with_group_protocol(GroupProtocol::Consumer),
    }
}

/// Writes a record to every partition, every 5 ms, until stopped.
fn keep_producing(bootstrap: String, topic: String) -> tokio::sync::oneshot::Sender<()> {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let producer = Producer::connect(
            ClientConfig::new([bootstrap.as_str()]),
            ProducerConfig::default(),
        )
        .await
        .expect("producer");
        let mut i = 0u64;
        loop {
            let records: Vec<ProducerRecord> = (0..PARTITIONS)
                .map(|p| {
                    i += 1;
                    ProducerRecord::new(topic.as_str())
                        .partition(p)
                        .value(format!("v{i}"))
                })
                .collect();
            tokio::select! {
                _ = &mut stopped => break,
                r = producer.send_all(records) => { r.expect("produced"); }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = producer.close(Duration::from_secs(5)).await;
    });
    stop
}

async fn measure(bootstrap: &str, protocol: &str) -> Measured {
    let topic = support::real::topic(bootstrap, &format!("rebal-{protocol}"), PARTITIONS).await;
    let group = kafka::unique(&format!("rebal-{protocol}"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let log = ReadLog::default();
    let mut view = GroupView::default();
    let stop = keep_producing(bootstrap.to_owned(), topic.clone());
    let mut members = Vec::new();
    for id in 0..3 {
        let cfg = config(&group, protocol);
        members
            .push(KafkitMember::spawn(id, bootstrap, &topic, cfg, log.clone(), tx.clone()).await);
    }
    settle_848(
        &mut view,
        &mut rx,
        &[0, 1, 2],
        PARTITIONS,
        false,
        BTreeSet::new,
    )
    .await;
    let joined = Instant::now();
    let cfg = config(&group, protocol);
    members.push(KafkitMember::spawn(3, bootstrap, &topic, cfg, log.clone(), tx.clone()).await);
    let (owners, since) = settle_848(
        &mut view,
        &mut rx,
        &[0, 1, 2, 3],
        PARTITIONS,
        false,
        BTreeSet::new,
    )
    .await;
    assert!(
        owners.values().all(|o| o.len() == 3),
        "{protocol}: {owners:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let newcomer = loop {
        if let Some(r) = reads(&log).into_iter().find(|r| r.member == 3) {
            break r.at;
        }
        assert!(
            Instant::now() < deadline,
            "{protocol}: the newcomer read nothing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Reads up to the end of the window are in (the fetcher hands out
    // batches every fetch_max_wait at most).
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).ok();
    let mut times: Vec<Instant> = reads(&log)
        .into_iter()
        .map(|r| r.at)
        .filter(|t| *t >= joined && *t <= since.max(newcomer))
        .collect();
    times.sort();
    let mut pause = Duration::ZERO;
    let mut last = joined;
    for t in times.into_iter().chain([since.max(newcomer)]) {
        pause = pause.max(t.saturating_duration_since(last));
        last = t;
    }
    let end = since.max(newcomer);
    let partition_gaps = partition_gaps(&log, joined, end);
    for m in members {
        m.leave().await;
    }
    Measured {
        owned_again: since.saturating_duration_since(joined),
        newcomer_reads: newcomer.saturating_duration_since(joined),
        longest_pause: pause,
        partition_gaps,
    }
}

/// Per partition, the longest gap between reads from `from` to `to`.
fn partition_gaps(log: &ReadLog, from: Instant, to: Instant) -> Vec<Duration> {
    let all = reads(log);
    let mut gaps: Vec<Duration> = (0..PARTITIONS)
        .map(|p| {
            let mut at: Vec<Instant> = all
                .iter()
                .filter(|r| r.partition == p && r.at >= from && r.at <= to)
                .map(|r| r.at)
                .collect();
            at.sort();
            let mut last = from;
            let mut gap = Duration::ZERO;
            for t in at.into_iter().chain([to]) {
                gap = gap.max(t.saturating_duration_since(last));
                last = t;
            }
            gap
        })
        .collect();
    gaps.sort_by(|a, b| b.cmp(a));
    gaps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_time_eager_cooperative_and_kip848() {
    let Some(bootstrap) = broker() else { return };
    support::real::init_tracing();
    let mut table = Vec::new();
    for protocol in ["eager", "cooperative", "kip848"] {
        let m = measure(&bootstrap, protocol).await;
        let gaps: Vec<u128> = m.partition_gaps.iter().map(Duration::as_millis).collect();
        eprintln!(
            "rebalance {protocol:12} owned again {:>6} ms, newcomer reads {:>6} ms, \
             group-wide pause {:>5} ms, per-partition gaps (ms) {gaps:?}",
            m.owned_again.as_millis(),
            m.newcomer_reads.as_millis(),
            m.longest_pause.as_millis()
        );
        table.push((protocol, m));
    }
    for (protocol, m) in &table {
        assert!(m.owned_again < Duration::from_secs(20), "{protocol}: {m:?}");
    }
    // Eager revokes every partition from everyone: every partition pauses.
    // Incremental protocols move 3 of 12; the 9 others keep flowing, so
    // the 4th longest partition gap stays short.
    let fourth = |p: &str| {
        table
            .iter()
            .find(|(q, _)| *q == p)
            .and_then(|(_, m)| m.partition_gaps.get(3).copied())
    };
    assert!(fourth("kip848") < fourth("eager"), "{table:?}");
    assert!(fourth("cooperative") < fourth("eager"), "{table:?}");
}
