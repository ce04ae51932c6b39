//! kafkit and Apache Kafka's Java client (kafka-clients 4.4.0,
//! `tests/interop/java/Peer.java member`) in one classic consumer group on
//! a real broker (`support::kafka::single()`, 6 partitions), once with
//! `range` and once with `cooperative-sticky` (both sides offer the same
//! protocol name), as during a service's move between clients:
//!
//! 1. a kafkit member reads alone, the Java member joins and the kafkit
//!    member leads, handing it half the partitions;
//! 2. the kafkit member leaves (committing) and the Java member takes over
//!    every partition, now leading;
//! 3. the Java member commits, a second kafkit member joins and the Java
//!    member leads, handing it half.
//!
//! Checked: each side leads once and both run the protocol; in no
//! generation do two members own one partition (kafkit's `Assigned` events
//! and Java's assignments, by generation id); every record produced is read
//! exactly once over the whole run, by its partition's owner in the shared
//! generations; and where a partition changes hands the new owner's first
//! offset is the one the old owner committed (kafkit's commits read by Java
//! and Java's by kafkit, the latter also against the offsets Java reports
//! after a synchronous commit, which kafkit's admin client reads back).
//!
//! The group machinery (`ChildMember`, `settle_with`, `KafkitMember`) is the
//! one the kafkajs and kafka-python tests use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::admin::{Admin, TopicPartition};
use kafkit::consumer::ConsumerEvent;
use kafkit::group::{Assignor, CooperativeStickyAssignor, RangeAssignor};
use kafkit::ClientConfig;
use tokio::sync::mpsc;

mod support;
use support::child_member::{read_once_by_owner, settle_with, ChildMember, CHILD};
use support::java::{self, create_topic};
use support::kafka;
use support::members::{
    await_reads, kafkit_config, produce, reads, GroupView, KafkitMember, ReadLog,
};

const PARTITIONS: i32 = 6;

/// Offsets member `member` read, per partition.
fn offsets_of(log: &ReadLog, member: usize) -> BTreeMap<i32, Vec<i64>> {
    let mut by: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in reads(log).into_iter().filter(|r| r.member == member) {
        by.entry(r.partition).or_default().push(r.offset);
    }
    by
}

/// For each of `partitions`, which moved from member `from` to member `to`:
/// `to`'s first offset is one past the last `from` read there, i.e. `to`
/// resumed at what `from` committed. Returns those offsets.
fn resumed_where_left(
    log: &ReadLog,
    from: usize,
    to: usize,
    partitions: &BTreeSet<i32>,
) -> BTreeMap<i32, i64> {
    let (before, after) = (offsets_of(log, from), offsets_of(log, to));
    partitions
        .iter()
        .map(|p| {
            let last = before.get(p).and_then(|o| o.iter().max());
            let first = after.get(p).and_then(|o| o.iter().min());
            let (Some(last), Some(first)) = (last, first) else {
                panic!("partition {p}: member {from} read {last:?}, member {to} read {first:?}");
            };
            assert_eq!(
                *first,
                last + 1,
                "partition {p}: member {to} resumed at {first}, member {from} had read up to {last}"
            );
            (*p, *first)
        })
        .collect()
}

/// The group's committed offsets as kafkit's admin client reads them.
async fn committed_by_kafkit(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let admin = Admin::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("admin");
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
    admin.close();
    got.into_iter()
        .filter_map(|(tp, r)| {
            let offset = r.unwrap_or_else(|e| panic!("{tp:?}: {e}"))?;
            Some((tp.partition, offset))
        })
        .collect()
}

/// Per generation id, what each member owned once it had that generation's
/// assignment: kafkit members from their events, the Java member from its
/// join lines. Fails if two members own one partition in a generation.
fn check_no_partition_owned_twice(
    view: &GroupView,
    java: &ChildMember,
) -> BTreeMap<i32, BTreeMap<usize, BTreeSet<i32>>> {
    let mut by_gen: BTreeMap<i32, BTreeMap<usize, BTreeSet<i32>>> = BTreeMap::new();
    let mut owned: BTreeMap<usize, BTreeSet<i32>> = BTreeMap::new();
    for (id, event, _) in &view.events {
        let mine = owned.entry(*id).or_default();
        match event {
            ConsumerEvent::Assigned {
                partitions,
                generation_id,
            } => {
                mine.extend(partitions.iter().map(|p| p.partition));
                by_gen
                    .entry(*generation_id)
                    .or_default()
                    .insert(*id, mine.clone());
            }
            ConsumerEvent::Revoked { partitions } | ConsumerEvent::Lost { partitions, .. } => {
                for p in partitions {
                    mine.remove(&p.partition);
                }
            }
            _ => {}
        }
    }
    for join in java.joins() {
        assert!(join.generation >= 0, "the Java member names its generation");
        by_gen
            .entry(join.generation)
            .or_default()
            .insert(CHILD, join.partitions);
    }
    for (generation, members) in &by_gen {
        let total: usize = members.values().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = members.values().flatten().copied().collect();
        assert_eq!(
            total,
            union.len(),
            "a partition owned twice in generation {generation}: {members:?}"
        );
    }
    by_gen
}

async fn kafkit_and_java_share_a_group(strategy: &str, assignor: Arc<dyn Assignor>) {
    let Some(k) = kafka::single() else { return };
    let started = Instant::now();
    let bootstrap = k.bootstrap.as_str();
    let topic = kafka::unique(&format!("java-group-{strategy}"));
    let group = kafka::unique(&format!("g-java-{strategy}"));
    create_topic(bootstrap, &topic, PARTITIONS).await;
    // Real brokers refuse sessions under group.min.session.timeout.ms (6 s).
    let config = || {
        kafkit_config(&group)
            .with_session_timeout(Duration::from_secs(10))
            .with_assignors(vec![assignor.clone()])
    };
    let log = ReadLog::default();
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut view = GroupView::default();

    // 1. kafkit leads, Java follows.
    let first = KafkitMember::spawn(0, bootstrap, &topic, config(), log.clone(), tx.clone()).await;
    let early = produce(bootstrap, &topic, "early-", 0..60).await;
    await_reads(&log, &early).await;
    let member = java::peer(&["member", bootstrap, &topic, &group, strategy]);
    let mut java = ChildMember::spawn(member, CHILD, log.clone());
    let (join, kafkit) = settle_with(&mut view, &mut events, &[0], &java, PARTITIONS).await;
    let phase1 = started.elapsed();
    assert!(!join.leader, "the kafkit member leads: {join:?}");
    assert_eq!(join.protocol, strategy);
    assert_eq!(join.partitions.len(), 3, "kafkit gives Java half: {join:?}");
    let mut owners = kafkit;
    owners.insert(CHILD, join.partitions.clone());
    let shared = produce(bootstrap, &topic, "shared-", 0..120).await;
    await_reads(&log, &shared).await;
    read_once_by_owner(&log, &shared, &owners);
    // What kafkit committed when it gave these up is where Java started.
    resumed_where_left(&log, 0, CHILD, &join.partitions);
    let kafkit_kept = owners.get(&0).cloned().unwrap_or_default();

    // 2. kafkit leaves; Java takes everything and leads.
    first.leave().await;
    view.remove(0);
    let (join, _) = settle_with(&mut view, &mut events, &[], &java, PARTITIONS).await;
    let phase2 = started.elapsed();
    assert!(join.leader, "Java leads once kafkit left: {join:?}");
    assert_eq!(join.partitions.len(), PARTITIONS as usize, "{join:?}");
    let alone = produce(bootstrap, &topic, "alone-", 0..60).await;
    await_reads(&log, &alone).await;
    resumed_where_left(&log, 0, CHILD, &kafkit_kept);

    // 3. Java commits; a new kafkit member joins and Java leads.
    java.send("commit");
    let committed = tokio::task::block_in_place(|| java.await_line("committed", 0));
    let java_committed: BTreeMap<i32, i64> = committed
        .as_object()
        .expect("committed offsets")
        .iter()
        .map(|(p, o)| (p.parse().expect("partition"), o.as_i64().expect("offset")))
        .collect();
    assert_eq!(java_committed.len(), PARTITIONS as usize, "{committed}");
    assert_eq!(
        committed_by_kafkit(bootstrap, &group, &topic).await,
        java_committed,
        "kafkit's OffsetFetch reads what Java committed"
    );
    let second = KafkitMember::spawn(1, bootstrap, &topic, config(), log.clone(), tx.clone()).await;
    let (join, kafkit) = settle_with(&mut view, &mut events, &[1], &java, PARTITIONS).await;
    let phase3 = started.elapsed();
    assert!(join.leader, "Java leads: {join:?}");
    assert_eq!(join.protocol, strategy);
    let taken = kafkit.get(&1).cloned().unwrap_or_default();
    assert_eq!(taken.len(), 3, "Java gives kafkit half: {kafkit:?}");
    let mut owners = kafkit;
    owners.insert(CHILD, join.partitions.clone());
    let late = produce(bootstrap, &topic, "late-", 0..120).await;
    await_reads(&log, &late).await;
    read_once_by_owner(&log, &late, &owners);
    // What Java committed is where kafkit resumed.
    let resumed = resumed_where_left(&log, CHILD, 1, &taken);
    for (p, offset) in &resumed {
        assert_eq!(
            java_committed.get(p),
            Some(offset),
            "partition {p}: kafkit resumed at {offset}, Java committed {java_committed:?}"
        );
    }

    // Over the whole run every record was read exactly once.
    let all: BTreeSet<String> = [&early, &shared, &alone, &late]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for r in reads(&log) {
        *count.entry(r.value).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read more than once: {twice:?}");
    assert_eq!(count.keys().cloned().collect::<BTreeSet<_>>(), all);

    second.leave().await;
    while let Ok(e) = events.try_recv() {
        view.apply(e);
    }
    let generations = check_no_partition_owned_twice(&view, &java);
    java.leave();
    eprintln!(
        "{strategy}: {} records read once; {} generations {:?}; kafkit led by {phase1:?}, \
         Java alone by {phase2:?}, Java led by {phase3:?}, done in {:?}",
        all.len(),
        generations.len(),
        generations,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_share_a_range_group_each_leading_once() {
    kafkit_and_java_share_a_group("range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_share_a_cooperative_sticky_group_each_leading_once() {
    kafkit_and_java_share_a_group("cooperative-sticky", Arc::new(CooperativeStickyAssignor)).await;
}
