//! Three kafkit consumers in one group on librdkafka's mock cluster (3
//! brokers, 6 partitions): they split the partitions and read each record
//! once; when one leaves the others take over its partitions from the
//! committed offsets, losing nothing and re-reading only records whose
//! offsets were not committed yet. With cooperative-sticky the remaining
//! members keep reading their own partitions during that rebalance.
//!
//! The mock completes a generation as soon as the leader's SyncGroup
//! arrives (a follower whose SyncGroup comes later gets INVALID_REQUEST and
//! rejoins), so a generation may take a few rounds: the tests wait for the
//! members' `Assigned` events to agree instead of sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::consumer::{ConsumerConfig, ConsumerEvent};
use kafkit::group::CooperativeStickyAssignor;
use rdkafka::mocking::MockCluster;
use tokio::sync::mpsc;

mod support;
use support::cap_mock_group_versions;
use support::members::{
    await_reads, committed_by_librdkafka, kafkit_config, produce, reads, settle, GroupView,
    KafkitMember, Read, ReadLog,
};

const PARTITIONS: i32 = 6;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Per value: how many times it was read.
fn counts(reads: &[Read]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for r in reads {
        *c.entry(r.value.clone()).or_default() += 1;
    }
    c
}

/// Waits until the group has committed `per_partition` in every partition.
async fn await_commits(bootstrap: &str, group: &str, topic: &str, want: &BTreeMap<i32, i64>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (b, g, t) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
        let got =
            tokio::task::spawn_blocking(move || committed_by_librdkafka(&b, &g, &t, PARTITIONS))
                .await
                .expect("reader");
        let got: BTreeMap<i32, i64> = got.into_iter().map(|(p, o)| (p, o.unwrap_or(-1))).collect();
        if &got == want {
            return;
        }
        assert!(Instant::now() < deadline, "commits {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The offset after the last record of each partition in `reads`.
fn ends(reads: &[Read]) -> BTreeMap<i32, i64> {
    let mut e = BTreeMap::new();
    for r in reads {
        let slot = e.entry(r.partition).or_insert(0);
        *slot = (*slot).max(r.offset + 1);
    }
    e
}

struct Scenario {
    _mock: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    bootstrap: String,
    topic: String,
    group: String,
    log: ReadLog,
    view: GroupView,
    events: mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>,
    members: BTreeMap<usize, KafkitMember>,
}

impl Scenario {
    /// A mock cluster, a topic and three members of one group; returns
    /// once they share the partitions (two each).
    async fn start(name: &str, config: impl Fn(usize) -> ConsumerConfig) -> Self {
        init_tracing();
        let mock = MockCluster::new(3).expect("mock");
        cap_mock_group_versions(&mock);
        let topic = format!("{name}-topic");
        mock.create_topic(&topic, PARTITIONS, 3).expect("topic");
        let bootstrap = mock.bootstrap_servers();
        let log = ReadLog::default();
        let (tx, events) = mpsc::unbounded_channel();
        let mut members = BTreeMap::new();
        for id in 0..3 {
            let m =
                KafkitMember::spawn(id, &bootstrap, &topic, config(id), log.clone(), tx.clone())
                    .await;
            members.insert(id, m);
        }
        let mut s = Self {
            _mock: mock,
            bootstrap,
            topic,
            group: name.to_owned(),
            log,
            view: GroupView::default(),
            events,
            members,
        };
        let owned = s.settle().await;
        assert!(
            owned.iter().all(|o| o.len() == 2),
            "two partitions each: {owned:?}"
        );
        s
    }

    async fn settle(&mut self) -> Vec<BTreeSet<i32>> {
        let ids: Vec<usize> = self.members.keys().copied().collect();
        settle(&mut self.view, &mut self.events, &ids, &[], PARTITIONS).await
    }

    async fn leave(&mut self, id: usize) {
        let m = self.members.remove(&id).expect("member");
        m.leave().await;
        while let Ok(e) = self.events.try_recv() {
            self.view.apply(e);
        }
        self.view.remove(id);
    }

    /// Phase 1: records written once the group is stable are read exactly
    /// once, by the owner of their partition, and committed.
    async fn read_once_and_commit(&self, values: &BTreeSet<String>) -> Vec<Read> {
        await_reads(&self.log, values).await;
        let read = reads(&self.log);
        let c = counts(&read);
        let twice: Vec<_> = c.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "read twice without a rebalance: {twice:?}"
        );
        for r in &read {
            let owner = self.view.owned.get(&r.member).expect("owner");
            assert!(
                owner.contains(&r.partition),
                "member {} read partition {} it does not own",
                r.member,
                r.partition
            );
        }
        await_commits(&self.bootstrap, &self.group, &self.topic, &ends(&read)).await;
        read
    }
}

/// Phase 2 checks after a member left: nothing lost, no gaps, records of
/// phase 1 (all committed before the leave) never re-read, and in each
/// partition the re-read records are one run of offsets (the new owner
/// resumed from the committed offset once). With `only_in`, re-reads happen
/// only in those partitions (the ones that changed owner).
fn check_handover(all: &[Read], phase1: &BTreeSet<String>, only_in: Option<&BTreeSet<i32>>) {
    let c = counts(all);
    for v in phase1 {
        assert_eq!(
            c.get(v),
            Some(&1),
            "{v}: committed before the rebalance, read {:?} times",
            c.get(v)
        );
    }
    let mut by_partition: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    let mut reread: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for r in all {
        by_partition
            .entry(r.partition)
            .or_default()
            .insert(r.offset);
        if c.get(&r.value).is_some_and(|n| *n > 1) {
            reread.entry(r.partition).or_default().insert(r.offset);
        }
    }
    for (p, offsets) in &by_partition {
        let last = offsets.last().copied().unwrap_or(-1);
        assert_eq!(offsets.first().copied(), Some(0), "partition {p}");
        assert_eq!(offsets.len() as i64, last + 1, "partition {p} has gaps");
    }
    for (p, offsets) in &reread {
        if let Some(moved) = only_in {
            assert!(
                moved.contains(p),
                "re-reads in partition {p}, which kept its owner: {offsets:?}"
            );
        }
        let (first, last) = (offsets.first().copied(), offsets.last().copied());
        let span = last.unwrap_or(0) - first.unwrap_or(0) + 1;
        assert_eq!(
            offsets.len() as i64,
            span,
            "partition {p}: re-reads are not one run: {offsets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_split_partitions_and_survive_a_leave() {
    let mut s = Scenario::start("g-eager", |_| kafkit_config("g-eager")).await;
    let phase1 = produce(&s.bootstrap, &s.topic, "a", 0..600).await;
    s.read_once_and_commit(&phase1).await;

    // Member 1 leaves while records keep arriving.
    let (b, t) = (s.bootstrap.clone(), s.topic.clone());
    let writer = tokio::spawn(async move { produce(&b, &t, "b", 0..300).await });
    s.leave(1).await;
    let mut phase2 = writer.await.expect("writer");
    phase2.extend(produce(&s.bootstrap, &s.topic, "c", 0..300).await);
    let owned = s.settle().await;
    assert_eq!(owned.iter().map(BTreeSet::len).collect::<Vec<_>>(), [3, 3]);
    await_reads(&s.log, &phase2).await;

    let all = reads(&s.log);
    check_handover(&all, &phase1, None);
    let dups = counts(&all).values().filter(|n| **n > 1).count();
    eprintln!(
        "eager: {} reads, {dups} records read twice (uncommitted at the handover)",
        all.len()
    );
    for id in [0, 2] {
        s.leave(id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_members_keep_reading_through_a_rebalance() {
    let config =
        |_| kafkit_config("g-coop").with_assignors(vec![Arc::new(CooperativeStickyAssignor)]);
    let mut s = Scenario::start("g-coop", config).await;
    let phase1 = produce(&s.bootstrap, &s.topic, "a", 0..600).await;
    s.read_once_and_commit(&phase1).await;
    let before = s.view.owned.clone();
    let events_before = s.view.events.len();

    // A steady trickle of records while member 1 leaves and the group rebalances.
    let (b, t) = (s.bootstrap.clone(), s.topic.clone());
    let writer = tokio::spawn(async move {
        let mut all = BTreeSet::new();
        for batch in 0..40 {
            all.extend(produce(&b, &t, &format!("t{batch}-"), 0..12).await);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        all
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.leave(1).await;
    let owned = s.settle().await;
    assert_eq!(owned.iter().map(BTreeSet::len).collect::<Vec<_>>(), [3, 3]);
    let phase2 = writer.await.expect("writer");
    await_reads(&s.log, &phase2).await;

    let all = reads(&s.log);
    check_handover(&all, &phase1, before.get(&1));
    for id in [0, 2] {
        let kept = before.get(&id).expect("owned before");
        assert!(
            kept.is_subset(&s.view.owned[&id]),
            "member {id} lost {kept:?}"
        );
        let later = &s.view.events[events_before..];
        assert!(
            !later.iter().any(|(m, e, _)| *m == id
                && matches!(
                    e,
                    ConsumerEvent::Revoked { .. } | ConsumerEvent::Lost { .. }
                )),
            "member {id} gave up partitions: {later:?}"
        );
        // The rebalance window: its first Rebalancing after the leave, to
        // the Assigned that ended it.
        let start = later.iter().find_map(|(m, e, at)| {
            (*m == id && matches!(e, ConsumerEvent::Rebalancing { .. })).then_some(*at)
        });
        let start = start.expect("member saw the rebalance");
        let end = later
            .iter()
            .find_map(|(m, e, at)| {
                (*m == id && *at > start && matches!(e, ConsumerEvent::Assigned { .. }))
                    .then_some(*at)
            })
            .expect("rebalance ended");
        let during = all
            .iter()
            .filter(|r| r.member == id && kept.contains(&r.partition) && r.at > start && r.at < end)
            .count();
        assert!(
            during > 0,
            "member {id} read nothing of {kept:?} during the rebalance ({:?})",
            end - start
        );
        eprintln!(
            "cooperative: member {id} read {during} records during a {:?} rebalance",
            end - start
        );
    }
    for id in [0, 2] {
        s.leave(id).await;
    }
}
