//! Online migration of a classic group to the KIP-848 consumer protocol
//! against real Apache Kafka 4.4.0 (`group.consumer.migration.policy`
//! defaults to `bidirectional` in 4.x): a classic kafkit member consumes and
//! commits; a second kafkit member joins with `GroupProtocol::Consumer`,
//! which converts the group into a consumer group that keeps the classic
//! member (served through JoinGroup/SyncGroup); the partitions split,
//! nothing is lost, commits go on; the classic member leaves and the group
//! is a consumer group of one consumer-protocol member, which takes every
//! partition and reads on from the committed offsets.
//!
//! Peer: the KIP-848 tests' broker (`support::kip848`: 500 ms consumer
//! heartbeats, 6 s sessions).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafkit::admin::AnyGroupDescription;
use kafkit::consumer::{ConsumerConfig, ConsumerEvent, GroupProtocol};
use kafkit::protocol::ErrorCode;
use kafkit::{Admin, ClientConfig, TopicPartition};
use tokio::sync::mpsc;

mod support;
use support::kafka;
use support::kip848::{broker, settle_848, Events};
use support::members::{
    await_reads, kafkit_config, produce, reads, GroupView, KafkitMember, ReadLog,
};

const PARTITIONS: i32 = 4;

fn consumer_protocol(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_group_protocol(GroupProtocol::Consumer)
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(100))
}

/// The group's committed offsets per partition, read by an admin.
async fn committed(admin: &Admin, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|partition| TopicPartition {
            topic: topic.to_owned(),
            partition,
        })
        .collect();
    let got = admin
        .committed_offsets(group, &partitions)
        .await
        .expect("OffsetFetch");
    got.into_iter()
        .map(|(tp, r)| (tp.partition, r.unwrap_or_else(|e| panic!("{tp:?}: {e}"))))
        .collect()
}

/// Waits until the committed offsets are the ends of what was read.
async fn commits_reach_reads(admin: &Admin, group: &str, topic: &str, log: &ReadLog) {
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for r in reads(log) {
        let e = ends.entry(r.partition).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = committed(admin, group, topic).await;
        if (0..PARTITIONS).all(|p| got[&p] == ends.get(&p).copied()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "commits {got:?} vs reads {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn duplicates(log: &ReadLog) -> usize {
    let all = reads(log);
    let distinct: BTreeSet<&str> = all.iter().map(|r| r.value.as_str()).collect();
    all.len() - distinct.len()
}

/// Records moved by revocations so far (the at-least-once window).
fn revoked(view: &GroupView) -> usize {
    view.events
        .iter()
        .filter_map(|(_, e, _)| match e {
            ConsumerEvent::Revoked { partitions } => Some(partitions.len()),
            _ => None,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_moves_to_the_consumer_protocol_online() {
    support::real::init_tracing();
    let Some(b) = broker() else { return };
    let topic = support::real::topic(&b, "migrate", PARTITIONS).await;
    let group = kafka::unique("migrate");
    let admin = Admin::connect(ClientConfig::new([b.as_str()]))
        .await
        .expect("admin");
    let log = ReadLog::default();
    let mut view = GroupView::default();
    let (tx, mut rx): (_, Events) = mpsc::unbounded_channel();
    let none = BTreeSet::new;

    // A classic group of one kafkit member.
    // The broker's group.min.session.timeout.ms (6 s) bounds classic members.
    let classic_config = kafkit_config(&group).with_session_timeout(Duration::from_secs(6));
    let classic = KafkitMember::spawn(0, &b, &topic, classic_config, log.clone(), tx.clone()).await;
    settle_848(&mut view, &mut rx, &[0], PARTITIONS, false, none).await;
    let first = produce(&b, &topic, "first-", 0..200).await;
    await_reads(&log, &first).await;
    commits_reach_reads(&admin, &group, &topic, &log).await;
    let before = admin
        .describe_any_groups(std::slice::from_ref(&group))
        .await
        .expect("describe");
    assert!(
        matches!(before[0].1, Ok(AnyGroupDescription::Classic(_))),
        "a classic group: {before:?}"
    );

    // A consumer-protocol member joins: the group is converted online.
    let modern = KafkitMember::spawn(
        1,
        &b,
        &topic,
        consumer_protocol(&group),
        log.clone(),
        tx.clone(),
    )
    .await;
    let owners = settle_848(&mut view, &mut rx, &[0, 1], PARTITIONS, false, none)
        .await
        .0;
    assert_eq!((owners[&0].len(), owners[&1].len()), (2, 2), "{owners:?}");
    let mixed = admin
        .describe_consumer_groups(std::slice::from_ref(&group))
        .await
        .expect("describe");
    let d = mixed[0].1.as_ref().expect("now a consumer group");
    let mut kinds: Vec<bool> = d.members.iter().map(|m| m.classic).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [false, true],
        "one classic, one consumer member: {d:?}"
    );
    let second = produce(&b, &topic, "second-", 0..200).await;
    await_reads(&log, &second).await;
    for r in reads(&log)
        .iter()
        .filter(|r| r.value.starts_with("second-"))
    {
        assert!(
            owners[&r.member].contains(&r.partition),
            "member {} read partition {} it does not own",
            r.member,
            r.partition
        );
    }
    commits_reach_reads(&admin, &group, &topic, &log).await;

    // The classic member leaves: one consumer-protocol member owns all.
    classic.leave().await;
    view.remove(0);
    let owners = settle_848(&mut view, &mut rx, &[1], PARTITIONS, false, none)
        .await
        .0;
    assert_eq!(owners[&1].len(), PARTITIONS as usize);
    let third = produce(&b, &topic, "third-", 0..100).await;
    await_reads(&log, &third).await;
    let after = admin
        .describe_consumer_groups(std::slice::from_ref(&group))
        .await
        .expect("describe");
    let d = after[0].1.as_ref().expect("a consumer group");
    assert_eq!(d.members.len(), 1, "{d:?}");
    assert!(!d.members[0].classic, "{d:?}");
    // Nothing lost; duplicates only for records moved by a revocation.
    assert!(
        duplicates(&log) <= revoked(&view),
        "{} duplicates, {} partitions revoked",
        duplicates(&log),
        revoked(&view)
    );
    modern.commit().await;
    commits_reach_reads(&admin, &group, &topic, &log).await;
    modern.leave().await;
    // Empty now: still a consumer group, or already removed.
    let gone = admin
        .describe_consumer_groups(std::slice::from_ref(&group))
        .await
        .expect("describe");
    match &gone[0].1 {
        Ok(d) => assert_eq!((d.state.as_str(), d.members.len()), ("Empty", 0), "{d:?}"),
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}"),
    }
    admin.close();
}
