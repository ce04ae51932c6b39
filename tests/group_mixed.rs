//! kafkit and librdkafka consumers in the same group on librdkafka's mock
//! cluster (3 brokers, 6 partitions): with range, roundrobin and
//! cooperative-sticky they share the partitions without overlap and read
//! each record once; offsets one client commits are where the other starts.
//!
//! The kafkit members lead (static membership: the mock elects the member
//! whose `group.instance.id` sorts first). The mock completes a generation
//! as soon as the leader's SyncGroup arrives, so a follower must sync
//! first: an in-process librdkafka leader always beats a kafkit follower,
//! while a kafkit leader, which fetches metadata before assigning, lets
//! both kinds of followers in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use kafkit::consumer::ConsumerEvent;
use kafkit::group::{Assignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor};
use rdkafka::mocking::MockCluster;
use tokio::sync::mpsc;

mod support;
use support::cap_mock_group_versions;
use support::members::{
    await_reads, check_once_by_owner, committed_by_librdkafka, kafkit_config, produce, reads,
    settle, GroupView, KafkitMember, RdMember, Read, ReadLog,
};

const PARTITIONS: i32 = 6;

type Events = (
    mpsc::UnboundedSender<(usize, ConsumerEvent, Instant)>,
    mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>,
);

fn mock(
    topic: &str,
) -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mock = MockCluster::new(3).expect("mock");
    cap_mock_group_versions(&mock);
    mock.create_topic(topic, PARTITIONS, 3).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    (mock, bootstrap)
}

async fn mixed_group(strategy: &str, assignor: Arc<dyn Assignor>) {
    let topic = format!("mixed-{strategy}");
    let group = format!("g-{strategy}");
    let (_mock, bootstrap) = mock(&topic);
    let log = ReadLog::default();
    let (tx, mut events): Events = mpsc::unbounded_channel();
    let mut kafkit = Vec::new();
    for id in 0..2 {
        let cfg = kafkit_config(&group)
            .with_group_instance_id(format!("a-kafkit-{id}"))
            .with_assignors(vec![assignor.clone()]);
        kafkit
            .push(KafkitMember::spawn(id, &bootstrap, &topic, cfg, log.clone(), tx.clone()).await);
    }
    let rd: Vec<RdMember> = (2..4)
        .map(|id| {
            let instance = format!("b-rdkafka-{id}");
            RdMember::spawn(
                id,
                &bootstrap,
                &group,
                &topic,
                strategy,
                Some(&instance),
                log.clone(),
            )
        })
        .collect();
    let mut view = GroupView::default();
    let rd_refs: Vec<&RdMember> = rd.iter().collect();
    let owned = settle(&mut view, &mut events, &[0, 1], &rd_refs, PARTITIONS).await;
    assert!(
        owned.iter().all(|o| !o.is_empty()),
        "{strategy}: every member got partitions: {owned:?}"
    );
    if strategy == "range" {
        // Range on one topic: contiguous blocks, in member order.
        for o in &owned {
            let v: Vec<i32> = o.iter().copied().collect();
            assert!(v.windows(2).all(|w| w[1] == w[0] + 1), "range: {owned:?}");
        }
    }
    let values = produce(&bootstrap, &topic, "v", 0..600).await;
    await_reads(&log, &values).await;
    let owners: BTreeMap<usize, BTreeSet<i32>> = owned.into_iter().enumerate().collect();
    let read = reads(&log);
    check_once_by_owner(&read, &owners);
    let by_kind =
        |ids: std::ops::Range<usize>| read.iter().filter(|r| ids.contains(&r.member)).count();
    eprintln!(
        "{strategy}: owners {owners:?}; kafkit read {}, librdkafka read {}",
        by_kind(0..2),
        by_kind(2..4)
    );
    assert!(by_kind(0..2) > 0 && by_kind(2..4) > 0);
    drop(rd);
    for m in kafkit {
        m.leave().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_range() {
    mixed_group("range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin() {
    mixed_group("roundrobin", Arc::new(RoundRobinAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_cooperative_sticky() {
    mixed_group("cooperative-sticky", Arc::new(CooperativeStickyAssignor)).await;
}

/// The first offset each member read in each partition.
fn starts(read: &[Read], member: usize) -> BTreeMap<i32, i64> {
    let mut s = BTreeMap::new();
    for r in read.iter().filter(|r| r.member == member) {
        let e = s.entry(r.partition).or_insert(r.offset);
        *e = (*e).min(r.offset);
    }
    s
}

/// One client reads and commits everything of phase 1; the other joins
/// (and the group rebalances); phase 2 is written. The newcomer must start
/// each partition it got at the committed offset (100), never at 0 (its
/// reset policy), and nothing is read twice.
async fn commits_cross(first_is_kafkit: bool) {
    let name = if first_is_kafkit { "k2r" } else { "r2k" };
    let topic = format!("commits-{name}");
    let group = format!("g-commits-{name}");
    let (_mock, bootstrap) = mock(&topic);
    let log = ReadLog::default();
    let (tx, mut events): Events = mpsc::unbounded_channel();
    let mut view = GroupView::default();
    // kafkit is member 0, librdkafka member 1; kafkit leads (instance ids).
    let kafkit_cfg = kafkit_config(&group)
        .with_group_instance_id("a-kafkit")
        .with_auto_commit(false);
    let spawn_rd = || {
        RdMember::spawn(
            1,
            &bootstrap,
            &group,
            &topic,
            "range",
            Some("b-rdkafka"),
            log.clone(),
        )
    };
    let phase1 = produce(&bootstrap, &topic, "a", 0..600).await;
    let (k, r);
    if first_is_kafkit {
        k = KafkitMember::spawn(0, &bootstrap, &topic, kafkit_cfg, log.clone(), tx.clone()).await;
        settle(&mut view, &mut events, &[0], &[], PARTITIONS).await;
        await_reads(&log, &phase1).await;
        k.commit().await;
        r = spawn_rd();
    } else {
        r = spawn_rd();
        settle(&mut view, &mut events, &[], &[&r], PARTITIONS).await;
        await_reads(&log, &phase1).await;
        r.commit().await;
        k = KafkitMember::spawn(0, &bootstrap, &topic, kafkit_cfg, log.clone(), tx.clone()).await;
    }
    let committed = tokio::task::spawn_blocking({
        let (b, g, t) = (bootstrap.clone(), group.clone(), topic.clone());
        move || committed_by_librdkafka(&b, &g, &t, PARTITIONS)
    })
    .await
    .expect("reader");
    assert_eq!(
        committed.values().map(|o| o.unwrap_or(-1)).sum::<i64>(),
        600,
        "{name}: committed {committed:?}"
    );
    let owned = settle(&mut view, &mut events, &[0], &[&r], PARTITIONS).await;
    let newcomer = if first_is_kafkit { 1 } else { 0 };
    assert!(
        !owned[newcomer].is_empty(),
        "{name}: the newcomer got nothing: {owned:?}"
    );
    let phase2 = produce(&bootstrap, &topic, "b", 0..600).await;
    await_reads(&log, &phase2).await;
    let read = reads(&log);
    let mut seen = BTreeSet::new();
    for rec in &read {
        assert!(
            seen.insert(rec.value.clone()),
            "{name}: {} read twice",
            rec.value
        );
    }
    let first = starts(&read, newcomer);
    for p in &owned[newcomer] {
        assert_eq!(
            first.get(p),
            committed.get(p).copied().flatten().as_ref(),
            "{name}: newcomer started partition {p} elsewhere than the commit"
        );
    }
    drop(r);
    k.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_resumes_from_kafkit_commits() {
    commits_cross(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_resumes_from_librdkafka_commits() {
    commits_cross(false).await;
}
