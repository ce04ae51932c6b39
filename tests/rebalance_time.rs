//! Rebalance time on real Apache Kafka 4.4.0, kafkit and Apache Kafka's
//! Java client (kafka-clients 4.4.0, `tests/interop/java/RebalancePeer.java`)
//! side by side on the three protocols (classic eager with the range
//! assignor, classic cooperative-sticky, KIP-848), in two scenarios on one
//! group of 12 partitions while a producer writes to every partition:
//!
//! - join: a 4th member joins a group of 3;
//! - leave: then the first member of the 4 closes cleanly (LeaveGroup, or
//!   the leave heartbeat), and its 3 partitions go to the other 3.
//!
//! Measured from the join (or the start of the close): until every
//! partition is owned again (each exactly once, balanced, unchanged for a
//! second: "owned again" is when that state began), until the first and
//! until the last of the moved partitions gave its new owner a record, the
//! longest time no member read anything (the group-wide pause), per
//! partition the longest time it went unread, up to the later of "owned
//! again" and "every moved partition read", and how many partitions the
//! members that stay had revoked (eager: all they own; the incremental
//! protocols: only those that move). Heartbeats every 500 ms on all three
//! (client setting for classic, the broker's
//! `group.consumer.heartbeat.interval.ms` for KIP-848), fetch max wait
//! 100 ms, both clients alike. Each scenario starts right after the group
//! held still for a second, two heartbeat intervals after its last
//! assignment, so the members that must notice it do so a whole interval
//! later: the times are the worst heartbeat phase plus the protocol's
//! round trips. The numbers are printed side by side; the test asserts
//! that each client converges on each protocol (each partition owned
//! once, every partition read by its owner after settling, nobody reading
//! a partition it does not own), that eager revokes everything and the
//! incremental protocols only what moves, and that these keep the
//! unmoved partitions flowing.
//!
//! Peer: the KIP-848 tests' broker (`support::kip848`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::consumer::{ConsumerConfig, ConsumerEvent, GroupProtocol};
use kafkit::group::{CooperativeStickyAssignor, RangeAssignor};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use tokio::sync::mpsc;

mod support;
use support::kafka;
use support::kip848::{broker, settle_848};
use support::members::{GroupView, KafkitMember, Read, ReadLog};

const PARTITIONS: i32 = 12;
const PROTOCOLS: [&str; 3] = ["eager", "cooperative", "kip848"];

/// One scenario's numbers, each from the join or the start of the close.
#[derive(Debug, Clone, PartialEq)]
struct Phase {
    owned_again: Duration,
    first_moved: Duration,
    all_moved: Duration,
    pause: Duration,
    /// Per partition, the longest time it went unread, longest first.
    gaps: Vec<Duration>,
    /// The settled assignment, per member.
    owners: Vec<BTreeSet<i32>>,
    /// Partitions their owner did not read after the group settled.
    unread: BTreeSet<i32>,
    /// Reads after settling by a member not owning the partition.
    foreign: usize,
    /// Partitions revoked from (or lost by) the members that stay.
    revoked: usize,
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

/// kafkit on `protocol`: the join, then the leave, on one group.
async fn kafkit_run(bootstrap: &str, protocol: &str) -> (Phase, Phase) {
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
    let ids = [0, 1, 2, 3];
    let (owners, since) =
        settle_848(&mut view, &mut rx, &ids, PARTITIONS, false, BTreeSet::new).await;
    let moved = owners.get(&3).cloned().unwrap_or_default();
    let mut join = observe(&log, joined, since, &owners, &moved).await;
    join.revoked = revoked(&view, joined, &ids);

    // The first member leaves; the others' events are read while it closes.
    let moved = owners.get(&0).cloned().unwrap_or_default();
    let leaving = Instant::now();
    let leaver = tokio::spawn(members.remove(0).leave());
    let ids = [1, 2, 3];
    let (owners, since) =
        settle_848(&mut view, &mut rx, &ids, PARTITIONS, false, BTreeSet::new).await;
    leaver.await.expect("the leaver closes");
    let mut leave = observe(&log, leaving, since, &owners, &moved).await;
    leave.revoked = revoked(&view, leaving, &ids);

    stop.send(()).ok();
    for m in members {
        m.leave().await;
    }
    (join, leave)
}

/// The numbers of a phase that began at `start` and settled (`owners`) at
/// `since`, `moved` being the partitions that changed hands: waits for the
/// moved partitions' first records at their new owners (20 s at most), then
/// for a record from every partition after that (10 s at most).
async fn observe(
    log: &ReadLog,
    start: Instant,
    since: Instant,
    owners: &BTreeMap<usize, BTreeSet<i32>>,
    moved: &BTreeSet<i32>,
) -> Phase {
    let owns = |m: usize, p: i32| owners.get(&m).is_some_and(|o| o.contains(&p));
    let deadline = Instant::now() + Duration::from_secs(20);
    let moved_at = loop {
        let mut first: BTreeMap<i32, Instant> = BTreeMap::new();
        with_reads(log, |all| {
            for r in all {
                if r.at >= start && moved.contains(&r.partition) && owns(r.member, r.partition) {
                    first.entry(r.partition).or_insert(r.at);
                }
            }
        });
        if first.len() == moved.len() || Instant::now() >= deadline {
            break first;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        moved_at.len(),
        moved.len(),
        "moved partitions never read: {moved:?}"
    );
    let first_moved = moved_at.values().min().copied().unwrap_or(start);
    let all_moved = moved_at.values().max().copied().unwrap_or(start);
    let end = since.max(all_moved);
    let deadline = Instant::now() + Duration::from_secs(10);
    let unread = loop {
        let read_after: BTreeSet<i32> = with_reads(log, |all| {
            all.iter()
                .filter(|r| r.at > end && owns(r.member, r.partition))
                .map(|r| r.partition)
                .collect()
        });
        let unread: BTreeSet<i32> = (0..PARTITIONS)
            .filter(|p| !read_after.contains(p))
            .collect();
        if unread.is_empty() || Instant::now() >= deadline {
            break unread;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (foreign, times) = with_reads(log, |all| {
        let foreign = all
            .iter()
            .filter(|r| r.at > since && !owns(r.member, r.partition))
            .count();
        let times: Vec<(i32, Instant)> = all.iter().map(|r| (r.partition, r.at)).collect();
        (foreign, times)
    });
    Phase {
        owned_again: since.saturating_duration_since(start),
        first_moved: first_moved.saturating_duration_since(start),
        all_moved: all_moved.saturating_duration_since(start),
        pause: longest_gap(times.iter().map(|(_, t)| *t), start, end),
        gaps: partition_gaps(&times, start, end),
        owners: owners.values().cloned().collect(),
        unread,
        foreign,
        revoked: 0,
    }
}

/// Partitions the members `ids` were told they lost, revoked or not,
/// since `start`.
fn revoked(view: &GroupView, start: Instant, ids: &[usize]) -> usize {
    view.events
        .iter()
        .filter(|(id, _, at)| *at >= start && ids.contains(id))
        .map(|(_, e, _)| match e {
            ConsumerEvent::Revoked { partitions } | ConsumerEvent::Lost { partitions, .. } => {
                partitions.len()
            }
            _ => 0,
        })
        .sum()
}

/// `f` over the reads so far, without copying them.
fn with_reads<T>(log: &ReadLog, f: impl FnOnce(&[Read]) -> T) -> T {
    f(&log.lock().unwrap_or_else(|p| p.into_inner()))
}

/// The longest time between `from`, the reads in between and `to`.
fn longest_gap(reads: impl Iterator<Item = Instant>, from: Instant, to: Instant) -> Duration {
    let mut at: Vec<Instant> = reads.filter(|t| *t >= from && *t <= to).collect();
    at.sort();
    let mut last = from;
    let mut gap = Duration::ZERO;
    for t in at.into_iter().chain([to]) {
        gap = gap.max(t.saturating_duration_since(last));
        last = t;
    }
    gap
}

/// Per partition, the longest gap between reads from `from` to `to`,
/// longest first.
fn partition_gaps(reads: &[(i32, Instant)], from: Instant, to: Instant) -> Vec<Duration> {
    let mut gaps: Vec<Duration> = (0..PARTITIONS)
        .map(|p| {
            let at = reads.iter().filter(|(q, _)| *q == p).map(|(_, t)| *t);
            longest_gap(at, from, to)
        })
        .collect();
    gaps.sort_by(|a, b| b.cmp(a));
    gaps
}

/// The Java client on every protocol, in one JVM (`RebalancePeer.java`):
/// per protocol its join and leave phases, by name.
async fn java_runs(bootstrap: &str) -> BTreeMap<(String, String), Phase> {
    let mut args = vec![
        "-XX:+UseSerialGC".to_owned(),
        "-cp".to_owned(),
        kafka::classpath(),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/java/RebalancePeer.java"
        )
        .to_owned(),
        bootstrap.to_owned(),
    ];
    for protocol in PROTOCOLS {
        let base = format!("rebal-java-{protocol}");
        let topic = support::real::topic(bootstrap, &base, PARTITIONS).await;
        args.push(format!("{protocol}:{topic}:{}", kafka::unique(&base)));
    }
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("java")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("java runs (a JDK 17+ is needed)")
    })
    .await
    .expect("java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "RebalancePeer: {}\n{stdout}",
        out.status
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("rebalance\t"))
        .map(parse_java)
        .collect()
}

/// One `RebalancePeer` result line (its prefix stripped): protocol, phase,
/// the four times and the pause in ms, per-partition gaps, owners
/// (`0,1,2/3,4,5/..`), unread partitions, foreign reads, revoked partitions.
fn parse_java(line: &str) -> ((String, String), Phase) {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 11, "RebalancePeer line {line:?}");
    let ms = |s: &str| Duration::from_millis(s.parse().expect("milliseconds"));
    let set = |s: &str| -> BTreeSet<i32> {
        s.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().expect("partition"))
            .collect()
    };
    let phase = Phase {
        owned_again: ms(f[2]),
        first_moved: ms(f[3]),
        all_moved: ms(f[4]),
        pause: ms(f[5]),
        gaps: f[6].split(',').map(ms).collect(),
        owners: f[7].split('/').map(set).collect(),
        unread: set(f[8]),
        foreign: f[9].parse().expect("count"),
        revoked: f[10].parse().expect("count"),
    };
    ((f[0].to_owned(), f[1].to_owned()), phase)
}

/// Each partition owned once, by `members` members evenly; every partition
/// read by its owner after settling; nobody reading what it does not own.
fn check_converged(what: &str, members: usize, p: &Phase) {
    assert!(p.owned_again < Duration::from_secs(20), "{what}: {p:?}");
    let mut all: Vec<i32> = p.owners.iter().flatten().copied().collect();
    all.sort();
    assert_eq!(all, (0..PARTITIONS).collect::<Vec<_>>(), "{what}: {p:?}");
    assert_eq!(p.owners.len(), members, "{what}: {p:?}");
    let even = usize::try_from(PARTITIONS).unwrap_or(0) / members;
    assert!(p.owners.iter().all(|o| o.len() == even), "{what}: {p:?}");
    assert!(p.unread.is_empty(), "{what}: unread after settling {p:?}");
    assert_eq!(p.foreign, 0, "{what}: read by a non-owner {p:?}");
}

fn print_row(protocol: &str, phase: &str, client: &str, p: &Phase) {
    let gaps: Vec<u128> = p.gaps.iter().map(Duration::as_millis).collect();
    eprintln!(
        "rebalance {protocol:11} {phase:5} {client:6} owned again {:>5} ms, first moved \
         record {:>5} ms, all moved read {:>5} ms, group-wide pause {:>5} ms, \
         revoked {:>2}, per-partition gaps (ms) {gaps:?}",
        p.owned_again.as_millis(),
        p.first_moved.as_millis(),
        p.all_moved.as_millis(),
        p.pause.as_millis(),
        p.revoked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_time_join_and_leave_kafkit_and_java() {
    let Some(bootstrap) = broker() else { return };
    support::real::init_tracing();
    let mut table: BTreeMap<(String, String, &str), Phase> = BTreeMap::new();
    for protocol in PROTOCOLS {
        let (join, leave) = kafkit_run(&bootstrap, protocol).await;
        table.insert((protocol.to_owned(), "join".to_owned(), "kafkit"), join);
        table.insert((protocol.to_owned(), "leave".to_owned(), "kafkit"), leave);
    }
    for (key, phase) in java_runs(&bootstrap).await {
        table.insert((key.0, key.1, "java"), phase);
    }
    for protocol in PROTOCOLS {
        for phase in ["join", "leave"] {
            for client in ["kafkit", "java"] {
                let key = (protocol.to_owned(), phase.to_owned(), client);
                let p = table.get(&key).unwrap_or_else(|| panic!("no {key:?}"));
                print_row(protocol, phase, client, p);
            }
        }
    }
    for ((protocol, phase, client), p) in &table {
        let members = if phase == "join" { 4 } else { 3 };
        check_converged(&format!("{client} {protocol} {phase}"), members, p);
    }
    // Eager takes every partition from everyone (all 12 on the join, the
    // 9 the members that stay own on the leave); the incremental protocols
    // only the 3 that move on the join, none on the leave, and the 9 others
    // keep flowing: the 4th longest partition gap stays shorter than the
    // rebalance. (Eager's gaps are not compared with theirs: after a
    // rebalance eager's members heartbeat in step, all synced at the same
    // moment, so the next one stops them only for a round trip or two.)
    for ((protocol, phase, client), p) in &table {
        let what = format!("{client} {protocol} {phase}: {p:?}");
        let join = phase == "join";
        if protocol == "eager" {
            assert!(p.revoked >= if join { 12 } else { 9 }, "{what}");
        } else {
            assert_eq!(p.revoked, if join { 3 } else { 0 }, "{what}");
            let fourth = p.gaps.get(3).copied().unwrap_or_default();
            assert!(fourth < p.owned_again, "{what}");
        }
    }
}
