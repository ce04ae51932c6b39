//! kafkit and librdkafka consumers in the same group on librdkafka's mock
//! cluster (3 brokers, 6 partitions): with range, roundrobin and
//! cooperative-sticky they share the partitions without overlap and read
//! each record once; offsets one client commits are where the other starts.
//!
//! The same scenarios run on the run's real Apache Kafka broker
//! (`*_on_kafka`), where the first member to join leads.
//!
//! On the mock, the kafkit members lead (static membership: the mock elects the member
//! whose `group.instance.id` sorts first). The mock completes a generation
//! as soon as the leader's SyncGroup arrives, so a follower must sync
//! first: an in-process librdkafka leader always beats a kafkit follower,
//! while a kafkit leader, which fetches metadata before assigning, lets
//! both kinds of followers in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Where a scenario runs: its cluster, topic (6 partitions) and group.
struct Setup {
    _mock: Option<MockCluster<'static, rdkafka::producer::DefaultProducerContext>>,
    bootstrap: String,
    topic: String,
    group: String,
    /// Members' session timeout: Apache Kafka refuses less than 6 s
    /// (`group.min.session.timeout.ms`); the mock starts each generation a
    /// session timeout minus a second after the first join, so it gets 4 s.
    session: Duration,
}

impl Setup {
    /// A 3-broker mock cluster.
    fn mock(name: &str) -> Self {
        support::real::init_tracing();
        let mock = MockCluster::new(3).expect("mock");
        cap_mock_group_versions(&mock);
        let topic = format!("mixed-{name}");
        mock.create_topic(&topic, PARTITIONS, 3).expect("topic");
        Self {
            bootstrap: mock.bootstrap_servers(),
            _mock: Some(mock),
            topic,
            group: format!("g-{name}"),
            session: Duration::from_secs(4),
        }
    }

    /// The run's real Apache Kafka broker (`None`: none here, see
    /// `support::kafka`).
    async fn kafka(name: &str) -> Option<Self> {
        let bootstrap = support::real::broker()?;
        let topic = support::real::topic(&bootstrap, &format!("mixed-{name}"), PARTITIONS).await;
        Some(Self {
            _mock: None,
            bootstrap,
            topic,
            group: support::kafka::unique(&format!("g-{name}")),
            session: Duration::from_secs(6),
        })
    }
}

async fn mixed_group(setup: Setup, strategy: &str, assignor: Arc<dyn Assignor>) {
    let Setup {
        bootstrap,
        topic,
        group,
        session,
        ..
    } = &setup;
    let (bootstrap, topic, group) = (bootstrap.as_str(), topic.as_str(), group.as_str());
    let log = ReadLog::default();
    let (tx, mut events): Events = mpsc::unbounded_channel();
    let mut kafkit = Vec::new();
    for id in 0..2 {
        let cfg = kafkit_config(group)
            .with_session_timeout(*session)
            .with_group_instance_id(format!("a-kafkit-{id}"))
            .with_assignors(vec![assignor.clone()]);
        kafkit.push(KafkitMember::spawn(id, bootstrap, topic, cfg, log.clone(), tx.clone()).await);
    }
    let rd: Vec<RdMember> = (2..4)
        .map(|id| {
            let instance = format!("b-rdkafka-{id}");
            RdMember::spawn_with(
                id,
                bootstrap,
                (group, topic, strategy),
                Some(&instance),
                *session,
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
    let values = produce(bootstrap, topic, "v", 0..600).await;
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
    mixed_group(Setup::mock("range"), "range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_range_on_kafka() {
    let Some(setup) = Setup::kafka("range").await else {
        return;
    };
    mixed_group(setup, "range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin() {
    mixed_group(
        Setup::mock("roundrobin"),
        "roundrobin",
        Arc::new(RoundRobinAssignor),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin_on_kafka() {
    let Some(setup) = Setup::kafka("roundrobin").await else {
        return;
    };
    mixed_group(setup, "roundrobin", Arc::new(RoundRobinAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_cooperative_sticky() {
    let setup = Setup::mock("cooperative-sticky");
    mixed_group(
        setup,
        "cooperative-sticky",
        Arc::new(CooperativeStickyAssignor),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_cooperative_sticky_on_kafka() {
    let Some(setup) = Setup::kafka("cooperative-sticky").await else {
        return;
    };
    mixed_group(
        setup,
        "cooperative-sticky",
        Arc::new(CooperativeStickyAssignor),
    )
    .await;
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
async fn commits_cross(setup: Setup, first_is_kafkit: bool) {
    let name = if first_is_kafkit { "k2r" } else { "r2k" };
    let Setup {
        bootstrap,
        topic,
        group,
        session,
        ..
    } = &setup;
    let (bootstrap, topic, group) = (bootstrap.as_str(), topic.as_str(), group.as_str());
    let log = ReadLog::default();
    let (tx, mut events): Events = mpsc::unbounded_channel();
    let mut view = GroupView::default();
    // kafkit is member 0, librdkafka member 1; kafkit leads (instance ids).
    let kafkit_cfg = kafkit_config(group)
        .with_session_timeout(*session)
        .with_group_instance_id("a-kafkit")
        .with_auto_commit(false);
    let spawn_rd = || {
        RdMember::spawn_with(
            1,
            bootstrap,
            (group, topic, "range"),
            Some("b-rdkafka"),
            *session,
            log.clone(),
        )
    };
    let phase1 = produce(bootstrap, topic, "a", 0..600).await;
    let (k, r);
    if first_is_kafkit {
        k = KafkitMember::spawn(0, bootstrap, topic, kafkit_cfg, log.clone(), tx.clone()).await;
        settle(&mut view, &mut events, &[0], &[], PARTITIONS).await;
        await_reads(&log, &phase1).await;
        k.commit().await;
        r = spawn_rd();
    } else {
        r = spawn_rd();
        settle(&mut view, &mut events, &[], &[&r], PARTITIONS).await;
        await_reads(&log, &phase1).await;
        r.commit().await;
        k = KafkitMember::spawn(0, bootstrap, topic, kafkit_cfg, log.clone(), tx.clone()).await;
    }
    let committed = tokio::task::spawn_blocking({
        let (b, g, t) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
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
    let phase2 = produce(bootstrap, topic, "&b", 0..600).await;
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
    commits_cross(Setup::mock("k2r"), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_resumes_from_kafkit_commits_on_kafka() {
    let Some(setup) = Setup::kafka("k2r").await else {
        return;
    };
    commits_cross(setup, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_resumes_from_librdkafka_commits() {
    commits_cross(Setup::mock("r2k"), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_resumes_from_librdkafka_commits_on_kafka() {
    let Some(setup) = Setup::kafka("r2k").await else {
        return;
    };
    commits_cross(setup, false).await;
}
