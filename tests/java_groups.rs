//! kafkit and Apache Kafka's Java client (kafka-clients 4.4.0,
//! `tests/interop/java/Peer.java member`) in one classic consumer group on
//! a real broker (`support::kafka::single()`, 6 partitions), with `range`
//! and with `cooperative-sticky` (both sides offer the same protocol name),
//! as during a service's move between clients, in both directions:
//!
//! 1. a member of one client reads alone, a member of the other joins and
//!    the first leads, handing it half the partitions;
//! 2. the first leaves (committing) and the other takes over every
//!    partition, now leading;
//! 3. the other commits, a new member of the first client joins and the
//!    other leads, handing it half.
//!
//! Checked: each side leads a shared group once and both run the protocol;
//! in no generation do two members own one partition (kafkit's `Assigned`
//! events and Java's assignments, by generation id); every record produced
//! is read exactly once over the whole run, by its partition's owner in the
//! shared generations; and wherever a partition changes hands the new
//! owner's first offset is the one the old owner committed (on revocation,
//! on close, and after an explicit commit, whose offsets Java reports and
//! kafkit's admin client reads back).
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
use support::child_member::{read_once_by_owner, settle_with, ChildJoin, ChildMember, CHILD};
use support::java::{self, create_topic};
use support::kafka;
use support::members::{
    await_reads, kafkit_config, produce, reads, settle, GroupView, KafkitMember, ReadLog,
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
/// assignment: kafkit members from their events, Java members from their
/// join lines (`java`: id and joins). Fails if two members own one
/// partition in a generation.
fn check_no_partition_owned_twice(
    view: &GroupView,
    java: &[(usize, Vec<ChildJoin>)],
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
    for (id, joins) in java {
        for join in joins {
            assert!(join.generation >= 0, "the Java member names its generation");
            by_gen
                .entry(join.generation)
                .or_default()
                .insert(*id, join.partitions.clone());
        }
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

/// One scenario's topic, group, read log and view of the kafkit members.
struct Rig {
    bootstrap: &'static str,
    strategy: &'static str,
    assignor: Arc<dyn Assignor>,
    topic: String,
    group: String,
    log: ReadLog,
    tx: mpsc::UnboundedSender<(usize, ConsumerEvent, Instant)>,
    events: mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>,
    view: GroupView,
    started: Instant,
}

impl Rig {
    async fn new(strategy: &'static str, assignor: Arc<dyn Assignor>) -> Option<Self> {
        let k = kafka::single()?;
        let topic = kafka::unique(&format!("java-group-{strategy}"));
        let group = kafka::unique(&format!("g-java-{strategy}"));
        create_topic(&k.bootstrap, &topic, PARTITIONS).await;
        let (tx, events) = mpsc::unbounded_channel();
        Some(Self {
            bootstrap: k.bootstrap.as_str(),
            strategy,
            assignor,
            topic,
            group,
            log: ReadLog::default(),
            tx,
            events,
            view: GroupView::default(),
            started: Instant::now(),
        })
    }

    async fn kafkit(&self, id: usize) -> KafkitMember {
        // Real brokers refuse sessions under group.min.session.timeout.ms (6 s).
        let config = kafkit_config(&self.group)
            .with_session_timeout(Duration::from_secs(10))
            .with_assignors(vec![self.assignor.clone()]);
        let (log, tx) = (self.log.clone(), self.tx.clone());
        KafkitMember::spawn(id, self.bootstrap, &self.topic, config, log, tx).await
    }

    fn java(&self, id: usize) -> ChildMember {
        let args = [
            "member",
            self.bootstrap,
            &self.topic,
            &self.group,
            self.strategy,
        ];
        ChildMember::spawn(java::peer(&args), id, self.log.clone())
    }

    /// Produces values `<prefix><i>` and waits until they were all read.
    async fn produce(&self, prefix: &str, n: usize) -> BTreeSet<String> {
        let values = produce(self.bootstrap, &self.topic, prefix, 0..n).await;
        await_reads(&self.log, &values).await;
        values
    }

    async fn settle(&mut self, kafkit: &[usize], java: &ChildMember) -> Owners {
        let (join, mut owners) =
            settle_with(&mut self.view, &mut self.events, kafkit, java, PARTITIONS).await;
        assert_eq!(join.protocol, self.strategy, "{join:?}");
        owners.insert(JAVA, join.partitions);
        owners
    }

    /// Every record read exactly once over the whole run, and no partition
    /// owned twice in any generation; returns the generations.
    fn check_run(&mut self, java: &[(usize, Vec<ChildJoin>)]) -> usize {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for r in reads(&self.log) {
            *count.entry(r.value).or_default() += 1;
        }
        let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "read more than once: {twice:?}");
        assert_eq!(count.len(), 360, "every record read");
        while let Ok(e) = self.events.try_recv() {
            self.view.apply(e);
        }
        let generations = check_no_partition_owned_twice(&self.view, java);
        eprintln!(
            "{}: {} records read once; {} generations {generations:?}; {:?}",
            self.strategy,
            count.len(),
            generations.len(),
            self.started.elapsed()
        );
        generations.len()
    }
}

type Owners = BTreeMap<usize, BTreeSet<i32>>;

/// The Java members' ids in the read log (a second one joins later).
const JAVA: usize = CHILD;
const JAVA_2: usize = CHILD + 1;

fn java_committed_line(java: &ChildMember) -> BTreeMap<i32, i64> {
    let committed = tokio::task::block_in_place(|| java.await_line("committed", 0));
    committed
        .as_object()
        .expect("committed offsets")
        .iter()
        .map(|(p, o)| (p.parse().expect("partition"), o.as_i64().expect("offset")))
        .collect()
}

/// kafkit leads Java, leaves; Java takes over and leads a new kafkit member.
async fn kafkit_first(strategy: &'static str, assignor: Arc<dyn Assignor>) {
    let Some(mut rig) = Rig::new(strategy, assignor).await else {
        return;
    };
    // 1. kafkit leads, Java follows.
    let first = rig.kafkit(0).await;
    rig.produce("early-", 60).await;
    let mut java = rig.java(JAVA);
    let owners = rig.settle(&[0], &java).await;
    assert!(!java.last_join().unwrap().leader, "the kafkit member leads");
    assert_eq!(owners[&JAVA].len(), 3, "kafkit gives Java half: {owners:?}");
    let shared = rig.produce("shared-", 120).await;
    read_once_by_owner(&rig.log, &shared, &owners);
    // What kafkit committed when it gave these up is where Java started.
    resumed_where_left(&rig.log, 0, JAVA, &owners[&JAVA]);

    // 2. kafkit leaves (committing); Java takes everything and leads.
    first.leave().await;
    rig.view.remove(0);
    let all = rig.settle(&[], &java).await;
    assert!(
        java.last_join().unwrap().leader,
        "Java leads once kafkit left"
    );
    assert_eq!(all[&JAVA].len(), PARTITIONS as usize, "{all:?}");
    rig.produce("alone-", 60).await;
    resumed_where_left(&rig.log, 0, JAVA, &owners[&0]);

    // 3. Java commits; a new kafkit member joins and Java leads.
    java.send("commit");
    let java_committed = java_committed_line(&java);
    assert_eq!(java_committed.len(), PARTITIONS as usize);
    assert_eq!(
        committed_by_kafkit(rig.bootstrap, &rig.group, &rig.topic).await,
        java_committed,
        "kafkit's OffsetFetch reads what Java committed"
    );
    let second = rig.kafkit(1).await;
    let owners = rig.settle(&[1], &java).await;
    assert!(java.last_join().unwrap().leader, "Java leads");
    assert_eq!(owners[&1].len(), 3, "Java gives kafkit half: {owners:?}");
    let late = rig.produce("late-", 120).await;
    read_once_by_owner(&rig.log, &late, &owners);
    // What Java committed is where kafkit resumed.
    let resumed = resumed_where_left(&rig.log, JAVA, 1, &owners[&1]);
    for (p, offset) in &resumed {
        assert_eq!(java_committed.get(p), Some(offset), "partition {p}");
    }

    second.leave().await;
    rig.check_run(&[(JAVA, java.joins())]);
    tokio::task::block_in_place(|| java.leave());
}

/// Java leads kafkit, leaves; kafkit takes over and leads a new Java member.
async fn java_first(strategy: &'static str, assignor: Arc<dyn Assignor>) {
    let Some(mut rig) = Rig::new(strategy, assignor).await else {
        return;
    };
    // 1. Java leads, kafkit follows.
    let java = rig.java(JAVA);
    rig.produce("early-", 60).await;
    let member = rig.kafkit(0).await;
    let owners = rig.settle(&[0], &java).await;
    assert!(java.last_join().unwrap().leader, "the Java member leads");
    assert_eq!(owners[&0].len(), 3, "Java gives kafkit half: {owners:?}");
    let shared = rig.produce("shared-", 120).await;
    read_once_by_owner(&rig.log, &shared, &owners);
    // What Java committed when it gave these up is where kafkit started.
    resumed_where_left(&rig.log, JAVA, 0, &owners[&0]);

    // 2. Java leaves (its close commits); kafkit takes everything and leads.
    let first_joins = java.joins();
    tokio::task::block_in_place(|| java.leave());
    let all = settle(&mut rig.view, &mut rig.events, &[0], &[], PARTITIONS).await;
    assert_eq!(all[0].len(), PARTITIONS as usize, "{all:?}");
    rig.produce("alone-", 60).await;
    resumed_where_left(&rig.log, JAVA, 0, &owners[&JAVA]);

    // 3. kafkit commits; a new Java member joins and kafkit leads.
    member.commit().await;
    let kafkit_committed = committed_by_kafkit(rig.bootstrap, &rig.group, &rig.topic).await;
    assert_eq!(kafkit_committed.len(), PARTITIONS as usize);
    let java = rig.java(JAVA_2);
    let mut owners = rig.settle(&[0], &java).await;
    let joined = owners.remove(&JAVA).unwrap_or_default();
    owners.insert(JAVA_2, joined.clone());
    assert!(!java.last_join().unwrap().leader, "the kafkit member leads");
    assert_eq!(joined.len(), 3, "kafkit gives Java half: {owners:?}");
    let late = rig.produce("late-", 120).await;
    read_once_by_owner(&rig.log, &late, &owners);
    // What kafkit committed is where the new Java member resumed.
    let resumed = resumed_where_left(&rig.log, 0, JAVA_2, &joined);
    for (p, offset) in &resumed {
        assert_eq!(kafkit_committed.get(p), Some(offset), "partition {p}");
    }

    member.leave().await;
    rig.check_run(&[(JAVA, first_joins), (JAVA_2, java.joins())]);
    tokio::task::block_in_place(|| java.leave());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_kafkit_leads_java_then_java_takes_over_and_leads() {
    kafkit_first("range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_kafkit_leads_java_then_java_takes_over_and_leads() {
    kafkit_first("cooperative-sticky", Arc::new(CooperativeStickyAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_java_leads_kafkit_then_kafkit_takes_over_and_leads() {
    java_first("range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_java_leads_kafkit_then_kafkit_takes_over_and_leads() {
    java_first("cooperative-sticky", Arc::new(CooperativeStickyAssignor)).await;
}
