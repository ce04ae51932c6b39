//! Consumer groups of kafkit members against the run's real Apache Kafka
//! broker: eager (range, roundrobin) and cooperative-sticky rebalances as
//! members join and leave (every partition owned once, no record lost or
//! read twice, commits on revoke and on close read back with OffsetFetch),
//! static membership (a restart within the session timeout keeps the
//! assignment without a rebalance), `heartbeat()` from a slow handler, and
//! a session timeout the broker refuses reaching `recv`.
//! (kafkit and librdkafka in one group: `group_mixed`'s `*_on_kafka`.)
//!
//! Peer: the broker (`support::kafka::single()`, started with
//! `group.initial.rebalance.delay.ms=0`). Session timeouts are 6 s, the
//! broker's `group.min.session.timeout.ms`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::group::{Assignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor};
use kafkit::protocol::ErrorCode;
use kafkit::Error;
use tokio::sync::mpsc;

mod support;
use support::kafka::unique;
use support::members::{
    await_reads, kafkit_config, produce, reads, settle, GroupView, KafkitMember, ReadLog,
};
use support::real::{admin, broker, client, next_records, topic, tp, WAIT};

const PARTITIONS: i32 = 6;
const SESSION: Duration = Duration::from_secs(6);

type EventTx = mpsc::UnboundedSender<(usize, ConsumerEvent, Instant)>;
type EventRx = mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>;

/// One group's members, what they read and what they reported.
struct Group {
    bootstrap: String,
    topic: String,
    group: String,
    log: ReadLog,
    tx: EventTx,
    rx: EventRx,
    view: GroupView,
    members: BTreeMap<usize, KafkitMember>,
}

impl Group {
    async fn new(bootstrap: String, name: &str) -> Self {
        let topic = topic(&bootstrap, name, PARTITIONS).await;
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            bootstrap,
            topic,
            group: unique(name),
            log: ReadLog::default(),
            tx,
            rx,
            view: GroupView::default(),
            members: BTreeMap::new(),
        }
    }

    fn config(&self) -> ConsumerConfig {
        kafkit_config(&self.group).with_session_timeout(SESSION)
    }

    async fn join(&mut self, id: usize, config: ConsumerConfig) {
        let (b, t) = (&self.bootstrap, &self.topic);
        let member = KafkitMember::spawn(id, b, t, config, self.log.clone(), self.tx.clone()).await;
        self.members.insert(id, member);
    }

    /// Closes member `id` (commit, then LeaveGroup unless it is static).
    async fn leave(&mut self, id: usize) {
        if let Some(m) = self.members.remove(&id) {
            m.leave().await;
        }
        self.view.remove(id);
    }

    /// Waits until the members own every partition once; their partitions.
    async fn settle(&mut self) -> BTreeMap<usize, BTreeSet<i32>> {
        let ids: Vec<usize> = self.members.keys().copied().collect();
        let owned = settle(&mut self.view, &mut self.rx, &ids, &[], PARTITIONS).await;
        ids.into_iter().zip(owned).collect()
    }

    /// Writes `n` records and waits until the group read them all.
    async fn write_and_read(&self, prefix: &str, n: usize) -> BTreeSet<String> {
        let values = produce(&self.bootstrap, &self.topic, prefix, 0..n).await;
        await_reads(&self.log, &values).await;
        values
    }

    /// The group's committed offsets (OffsetFetch, from outside the group).
    async fn committed(&self) -> i64 {
        let admin = admin(&self.bootstrap).await;
        let tps: Vec<_> = (0..PARTITIONS).map(|p| tp(&self.topic, p)).collect();
        let committed = admin
            .committed_offsets(&self.group, &tps)
            .await
            .expect("OffsetFetch");
        admin.close();
        committed
            .into_iter()
            .map(|(tp, r)| r.unwrap_or_else(|e| panic!("{tp:?}: {e}")).unwrap_or(0))
            .sum()
    }
}

/// Two members, a third joins, the first leaves, the rest close: after
/// each step the partitions are owned once and what was written is read;
/// nothing is read twice (each rebalance commits what was read before
/// partitions move), and the commits made on close cover everything.
async fn join_and_leave(name: &str, assignor: Arc<dyn Assignor>) {
    let Some(bootstrap) = broker() else { return };
    let mut g = Group::new(bootstrap, name).await;
    let config = g.config().with_assignors(vec![assignor]);
    for id in 0..2 {
        g.join(id, config.clone()).await;
    }
    let two = g.settle().await;
    g.write_and_read("a", 300).await;

    let join_from = g.view.events.len();
    g.join(2, config.clone()).await;
    let three = g.settle().await;
    let join_events = g.view.events[join_from..].to_vec();
    assert!(three.values().all(|p| !p.is_empty()), "{name}: {three:?}");
    if name == "cooperative" {
        // Sticky: the first two only gave partitions up, to the newcomer.
        for id in 0..2 {
            assert!(
                three[&id].is_subset(&two[&id]),
                "{name}: {two:?} -> {three:?}"
            );
        }
    }
    g.write_and_read("b", 300).await;

    g.leave(0).await;
    let rest = g.settle().await;
    assert_eq!(rest.len(), 2, "{name}: {rest:?}");
    g.write_and_read("c", 300).await;
    g.leave(1).await;
    g.leave(2).await;

    let read = reads(&g.log);
    let mut seen = BTreeSet::new();
    for r in &read {
        assert!(seen.insert(&r.value), "{name}: {} read twice", r.value);
    }
    assert_eq!(seen.len(), 900, "{name}");
    assert_eq!(
        g.committed().await,
        900,
        "{name}: commits on revoke and close"
    );
    if name == "cooperative" {
        // While the third member joined, the first two revoked only the
        // partitions that moved, never all they had.
        for (id, e, _) in &join_events {
            if let ConsumerEvent::Revoked { partitions } = e {
                assert!(*id < 2 && partitions.len() < two[id].len(), "{name}: {e:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_range_members_join_and_leave() {
    join_and_leave("range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_roundrobin_members_join_and_leave() {
    join_and_leave("roundrobin", Arc::new(RoundRobinAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_members_join_and_leave() {
    join_and_leave("cooperative", Arc::new(CooperativeStickyAssignor)).await;
}

/// A static member restarted within the session timeout gets its old
/// partitions back, and the other member sees no rebalance at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarts_without_a_rebalance() {
    let Some(bootstrap) = broker() else { return };
    let mut g = Group::new(bootstrap, "static").await;
    let instance = |i: usize| g.config().with_group_instance_id(format!("static-{i}"));
    let (first, second) = (instance(0), instance(1));
    g.join(0, first.clone()).await;
    g.join(1, second).await;
    let before = g.settle().await;
    g.write_and_read("a", 120).await;
    let events_before = g.view.events.len();
    let generation = g.view.generation.clone();

    // Closed (commit, no LeaveGroup: it is static) and back as member 2.
    g.leave(0).await;
    g.join(2, first).await;
    let after = g.settle().await;
    assert_eq!(after[&2], before[&0], "the same partitions come back");
    assert_eq!(after[&1], before[&1]);
    assert_eq!(
        g.view.generation.get(&2),
        generation.get(&0),
        "no new generation"
    );
    let of_member_1: Vec<_> = g.view.events[events_before..]
        .iter()
        .filter(|(id, ..)| *id == 1)
        .collect();
    assert!(of_member_1.is_empty(), "member 1 saw {of_member_1:?}");
    // The restarted member goes on from the commit of its predecessor.
    g.write_and_read("b", 120).await;
    let read = reads(&g.log);
    assert_eq!(read.len(), 240, "nothing read twice across the restart");
    g.leave(1).await;
    g.leave(2).await;
}

/// A handler slower than `max_poll_interval`: calling `heartbeat()` keeps
/// the member in its generation; without it the member gives up its
/// partitions and rejoins.
async fn slow_handler(heartbeat: bool) -> Vec<ConsumerEvent> {
    let Some(bootstrap) = broker() else {
        return Vec::new();
    };
    let topic = topic(&bootstrap, "slow", 1).await;
    produce(&bootstrap, &topic, "s", 0..3).await;
    let config = support::real::group_config(&unique("slow"))
        .with_max_poll_interval(Duration::from_millis(1500));
    let mut consumer = Consumer::connect(client(&bootstrap), config)
        .await
        .expect("consumer");
    let mut events = consumer.events().expect("events");
    consumer.subscribe(&[&topic]).expect("subscribe");
    next_records(&mut consumer, 1).await;
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let settled = seen.len();
    // Three seconds of work, twice the poll interval.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if heartbeat {
            consumer.heartbeat();
        }
    }
    next_records(&mut consumer, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    consumer.close().await.expect("close");
    seen.split_off(settled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_calling_heartbeat_stays_in_its_generation() {
    let after = slow_handler(true).await;
    assert!(
        !after.iter().any(|e| matches!(
            e,
            ConsumerEvent::PollTimeoutExpired
                | ConsumerEvent::Rebalancing { .. }
                | ConsumerEvent::Lost { .. }
                | ConsumerEvent::Revoked { .. }
        )),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_without_heartbeat_times_out_and_rejoins() {
    let after = slow_handler(false).await;
    if support::kafka::single().is_none() {
        return;
    }
    assert!(
        after.contains(&ConsumerEvent::PollTimeoutExpired),
        "{after:?}"
    );
    assert!(
        after
            .iter()
            .any(|e| matches!(e, ConsumerEvent::Assigned { .. })),
        "rejoined: {after:?}"
    );
}

/// Apache Kafka refuses a session timeout under
/// `group.min.session.timeout.ms` (6 s) with INVALID_SESSION_TIMEOUT: the
/// membership ends, and `recv` says so (it used to wait forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_timeout_the_broker_refuses_reaches_recv() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "refused", 1).await;
    let config = support::real::group_config(&unique("refused"))
        .with_session_timeout(Duration::from_secs(2))
        .with_heartbeat_interval(Duration::from_millis(300));
    let mut consumer = Consumer::connect(client(&bootstrap), config)
        .await
        .expect("consumer");
    let mut events = consumer.events().expect("events");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let got = tokio::time::timeout(WAIT, consumer.recv())
        .await
        .expect("recv returns");
    match got {
        Some(Err(Error::Broker { code, .. })) => {
            assert_eq!(code, ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        other => panic!("expected INVALID_SESSION_TIMEOUT, got {other:?}"),
    }
    let crashed = std::iter::from_fn(|| events.try_recv().ok()).any(|e| {
        matches!(
            e,
            ConsumerEvent::Crashed {
                retriable: false,
                ..
            }
        )
    });
    assert!(crashed, "a Crashed event too");
    consumer.close().await.expect("close");
}
