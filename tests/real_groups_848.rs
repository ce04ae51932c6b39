//! The consumer on the KIP-848 consumer group protocol
//! (`GroupProtocol::Consumer`) against real Apache Kafka 4.4.0: members
//! splitting a topic, joining and leaving, a member killed without leaving,
//! Java members in the same group, a regular-expression subscription, the
//! listener.
//!
//! Peer: a broker of this test process (the consumer protocol needs no
//! enabling on 4.x) with `group.consumer.heartbeat.interval.ms=500` and
//! `group.consumer.session.timeout.ms=6000` (the defaults, 5 s and 45 s,
//! make every rebalance take seconds); `KAFKIT_KAFKA_848` names an already
//! running one started with those settings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent, GroupProtocol};
use kafkit::ClientConfig;
use tokio::sync::mpsc;

mod support;
use support::child_member::ChildMember;
use support::java;
use support::kafka;
use support::kip848::{broker, settle_848, Events};
use support::members::{await_reads, produce, reads, GroupView, KafkitMember, ReadLog};

const PARTITIONS: i32 = 6;

/// A KIP-848 member's settings for these tests.
fn config(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_group_protocol(GroupProtocol::Consumer)
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(100))
}

async fn topic(bootstrap: &str, base: &str, partitions: i32) -> String {
    support::real::topic(bootstrap, base, partitions).await
}

/// The group's committed offsets per partition (an OffsetFetch without a
/// member, as an admin reads them).
async fn committed(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
    let admin = kafkit::Admin::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("admin");
    let partitions: Vec<kafkit::TopicPartition> = (0..PARTITIONS)
        .map(|partition| kafkit::TopicPartition {
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
        .map(|(tp, r)| (tp.partition, r.unwrap_or_else(|e| panic!("{tp:?}: {e}"))))
        .collect()
}

/// Records read per partition (the highest offset + 1).
fn read_ends(log: &ReadLog) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for r in reads(log) {
        let e = ends.entry(r.partition).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    ends
}

/// Values read more than once.
fn duplicates(log: &ReadLog) -> usize {
    let all = reads(log);
    let distinct: BTreeSet<&str> = all.iter().map(|r| r.value.as_str()).collect();
    all.len() - distinct.len()
}

struct Group {
    bootstrap: String,
    topic: String,
    group: String,
    log: ReadLog,
    view: GroupView,
    tx: mpsc::UnboundedSender<(usize, ConsumerEvent, Instant)>,
    rx: Events,
}

impl Group {
    async fn new(name: &str) -> Option<Self> {
        support::real::init_tracing();
        let bootstrap = broker()?;
        let topic = topic(&bootstrap, name, PARTITIONS).await;
        let (tx, rx) = mpsc::unbounded_channel();
        Some(Self {
            group: kafka::unique(name),
            bootstrap,
            topic,
            log: ReadLog::default(),
            view: GroupView::default(),
            tx,
            rx,
        })
    }

    async fn member(&self, id: usize) -> KafkitMember {
        self.member_with(id, config(&self.group)).await
    }

    async fn member_with(&self, id: usize, cfg: ConsumerConfig) -> KafkitMember {
        KafkitMember::spawn(
            id,
            &self.bootstrap,
            &self.topic,
            cfg,
            self.log.clone(),
            self.tx.clone(),
        )
        .await
    }

    async fn settle(&mut self, ids: &[usize]) -> BTreeMap<usize, BTreeSet<i32>> {
        settle_848(
            &mut self.view,
            &mut self.rx,
            ids,
            PARTITIONS,
            false,
            BTreeSet::new,
        )
        .await
        .0
    }

    async fn produce(&self, prefix: &str, n: usize) -> BTreeSet<String> {
        produce(&self.bootstrap, &self.topic, prefix, 0..n).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_six_partitions_and_commit_what_they_read() {
    let Some(mut g) = Group::new("k848-split").await else {
        return;
    };
    let a = g.member(0).await;
    let b = g.member(1).await;
    let owners = g.settle(&[0, 1]).await;
    assert_eq!(owners[&0].len(), 3, "uniform split: {owners:?}");
    assert_eq!(owners[&1].len(), 3, "uniform split: {owners:?}");
    let values = g.produce("split-", 600).await;
    await_reads(&g.log, &values).await;
    assert_eq!(duplicates(&g.log), 0, "a record read twice");
    for r in reads(&g.log) {
        assert!(
            owners[&r.member].contains(&r.partition),
            "member {} read partition {} it does not own",
            r.member,
            r.partition
        );
    }
    // Auto-commit (every 200 ms) stores what was processed, with the member epoch.
    let ends = read_ends(&g.log);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = committed(&g.bootstrap, &g.group, &g.topic).await;
        if (0..PARTITIONS).all(|p| got[&p] == ends.get(&p).copied()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "auto-commit: {got:?} vs {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A manual commit with nothing new succeeds and changes nothing.
    a.commit().await;
    b.commit().await;
    let got = committed(&g.bootstrap, &g.group, &g.topic).await;
    for p in 0..PARTITIONS {
        assert_eq!(
            got[&p],
            ends.get(&p).copied(),
            "partition {p}: {got:?} vs {ends:?}"
        );
    }
    a.leave().await;
    b.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_member_joins_and_the_partitions_rebalance_without_loss() {
    let Some(mut g) = Group::new("k848-third").await else {
        return;
    };
    let a = g.member(0).await;
    let b = g.member(1).await;
    g.settle(&[0, 1]).await;
    let first = g.produce("first-", 300).await;
    await_reads(&g.log, &first).await;
    let c = g.member(2).await;
    let owners = g.settle(&[0, 1, 2]).await;
    assert!(
        owners.values().all(|o| o.len() == 2),
        "three members, two partitions each: {owners:?}"
    );
    let second = produce(&g.bootstrap, &g.topic, "second-", 0..300).await;
    await_reads(&g.log, &second).await;
    // Revoked partitions were committed before they moved: their new owner
    // read on from there (a duplicate only for a record handed out but not
    // yet marked processed when the revocation committed).
    let moved = g
        .view
        .events
        .iter()
        .filter_map(|(_, e, _)| match e {
            ConsumerEvent::Revoked { partitions } => Some(partitions.len()),
            _ => None,
        })
        .sum::<usize>();
    assert!(
        moved >= 2,
        "the newcomer's partitions were revoked from the others"
    );
    assert!(
        duplicates(&g.log) <= moved,
        "{} duplicates",
        duplicates(&g.log)
    );
    let late: Vec<_> = reads(&g.log)
        .into_iter()
        .filter(|r| r.value.starts_with("second-"))
        .filter(|r| !owners[&r.member].contains(&r.partition))
        .collect();
    assert!(
        late.is_empty(),
        "read by a member that no longer owns it: {late:?}"
    );
    for m in [a, b, c] {
        m.leave().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_member_leaves_and_the_other_takes_over_quickly() {
    let Some(mut g) = Group::new("k848-close").await else {
        return;
    };
    let a = g.member(0).await;
    let b = g.member(1).await;
    g.settle(&[0, 1]).await;
    let first = g.produce("before-", 120).await;
    await_reads(&g.log, &first).await;
    let left_at = Instant::now();
    b.leave().await;
    g.view.remove(1);
    // The leave heartbeat (epoch -1) frees the partitions at once: member 0
    // learns its new target at its next heartbeat (500 ms here), not after
    // the session timeout (6 s).
    let owners = g.settle(&[0]).await;
    let took = left_at.elapsed();
    assert_eq!(owners[&0].len(), PARTITIONS as usize);
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    let second = produce(&g.bootstrap, &g.topic, "after-", 0..120).await;
    await_reads(&g.log, &second).await;
    assert_eq!(duplicates(&g.log), 0, "the leaver committed before it left");
    a.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_members_split_the_partitions_of_one_group() {
    let Some(mut g) = Group::new("k848-java").await else {
        return;
    };
    let a = g.member(0).await;
    let args = ["member", &g.bootstrap, &g.topic, &g.group, "consumer"];
    let java = ChildMember::spawn(java::peer(&args), 1, g.log.clone());
    let java_owned = || java.last_join().map(|j| j.partitions).unwrap_or_default();
    let owners = settle_848(&mut g.view, &mut g.rx, &[0], PARTITIONS, true, java_owned)
        .await
        .0;
    let theirs = java_owned();
    assert_eq!(
        (owners[&0].len(), theirs.len()),
        (3, 3),
        "{owners:?} / {theirs:?}"
    );
    let values = g.produce("mixed-", 300).await;
    await_reads(&g.log, &values).await;
    assert_eq!(duplicates(&g.log), 0);
    for r in reads(&g.log) {
        let owned = if r.member == 0 { &owners[&0] } else { &theirs };
        assert!(
            owned.contains(&r.partition),
            "member {} read {}",
            r.member,
            r.partition
        );
    }
    // The Java member leaves: the kafkit member takes every partition.
    tokio::task::block_in_place(|| java.leave());
    let owners = g.settle(&[0]).await;
    assert_eq!(owners[&0].len(), PARTITIONS as usize);
    let more = produce(&g.bootstrap, &g.topic, "after-java-", 0..60).await;
    await_reads(&g.log, &more).await;
    a.leave().await;
}

/// A member on a runtime of its own, killed by shutting that runtime down:
/// no leave heartbeat, no commit, its connections just close.
fn killable_member(
    id: usize,
    g: &Group,
) -> (std::thread::JoinHandle<()>, std::sync::mpsc::Sender<()>) {
    let (kill, killed) = std::sync::mpsc::channel::<()>();
    let (bootstrap, topic, group) = (g.bootstrap.clone(), g.topic.clone(), g.group.clone());
    let (log, tx) = (g.log.clone(), g.tx.clone());
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.spawn(async move {
            let member = KafkitMember::spawn(id, &bootstrap, &topic, config(&group), log, tx).await;
            // Never closed: the runtime's shutdown drops it mid-flight.
            std::future::pending::<()>().await;
            drop(member);
        });
        let _ = killed.recv();
        rt.shutdown_background();
    });
    (thread, kill)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_without_leaving_is_replaced_after_the_session_timeout() {
    let Some(mut g) = Group::new("k848-kill").await else {
        return;
    };
    let a = g.member(0).await;
    let (thread, kill) = killable_member(1, &g);
    g.settle(&[0, 1]).await;
    let killed_at = Instant::now();
    kill.send(()).expect("kill");
    thread.join().expect("killed member's thread");
    // Its partitions are still its own until the coordinator expires the
    // session (6 s here): no leave was sent.
    let owners = settle_848(
        &mut g.view,
        &mut g.rx,
        &[0],
        PARTITIONS,
        false,
        BTreeSet::new,
    )
    .await
    .0;
    let took = killed_at.elapsed();
    assert_eq!(owners[&0].len(), PARTITIONS as usize);
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(20),
        "reassigned after {took:?} (session timeout 6 s)"
    );
    let values = produce(&g.bootstrap, &g.topic, "after-kill-", 0..60).await;
    await_reads(&g.log, &values).await;
    a.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_subscription_picks_up_a_topic_created_later() {
    let Some(bootstrap) = broker() else { return };
    support::real::init_tracing();
    let prefix = kafka::unique("k848-re");
    let first = format!("{prefix}-a");
    support::real::create_topics(&bootstrap, &[(&first, 2)], 1).await;
    let mut consumer = Consumer::connect(
        ClientConfig::new([bootstrap.as_str()]),
        config(&kafka::unique("k848-regex")),
    )
    .await
    .expect("consumer");
    consumer
        .subscribe_pattern(&format!("{prefix}-.*"))
        .expect("subscribe_pattern");
    produce(&bootstrap, &first, "a-", 0..10).await;
    let got = support::real::next_records_of(&mut consumer, 10, &first).await;
    assert!(got.iter().all(|r| *r.topic == *first));
    let second = format!("{prefix}-b");
    support::real::create_topics(&bootstrap, &[(&second, 2)], 1).await;
    produce(&bootstrap, &second, "b-", 0..10).await;
    let got = support::real::next_records_of(&mut consumer, 10, &second).await;
    let values: BTreeSet<String> = got
        .iter()
        .map(|r| support::real::text(r.value.as_ref()))
        .collect();
    assert_eq!(values, (0..10).map(|i| format!("b-{i}")).collect());
    consumer.close().await.expect("close");
}

#[tokio::test]
async fn subscribe_pattern_needs_the_consumer_protocol() {
    let Some(bootstrap) = broker() else { return };
    let mut consumer = Consumer::connect(
        ClientConfig::new([bootstrap.as_str()]),
        ConsumerConfig::group(kafka::unique("k848-classic-regex")),
    )
    .await
    .expect("consumer");
    let err = consumer.subscribe_pattern("t-.*").unwrap_err();
    assert!(
        err.to_string().contains("group_protocol = Consumer"),
        "{err}"
    );
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_runs_on_the_consumer_protocol() {
    use kafkit::consumer::ConsumerRecord;
    use kafkit::listener::{Context, Listener, ListenerEvent};
    use std::sync::{Arc, Mutex};
    let Some(g) = Group::new("k848-listener").await else {
        return;
    };
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let handled = seen.clone();
    let mut listener =
        Listener::builder(ClientConfig::new([g.bootstrap.as_str()]), config(&g.group))
            .topic(&g.topic, move |r: ConsumerRecord, _ctx: Context| {
                let handled = handled.clone();
                async move {
                    let v = support::real::text(r.value.as_ref());
                    handled.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                    Ok(())
                }
            })
            .run()
            .expect("listener");
    let mut events = listener.events().expect("events");
    let values = g.produce("listened-", 120).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut assigned = BTreeSet::new();
    loop {
        while let Ok(e) = events.try_recv() {
            if let ListenerEvent::Assigned { partitions, .. } = e {
                assigned.extend(partitions.into_iter().map(|tp| tp.partition));
            }
        }
        let got: BTreeSet<String> = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        if got == values {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} handled",
            got.len(),
            values.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        assigned,
        (0..PARTITIONS).collect(),
        "Assigned events of the one member"
    );
    assert_eq!(
        seen.lock().unwrap_or_else(|p| p.into_inner()).len(),
        120,
        "each record handled once"
    );
    listener
        .shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
    // Shutdown committed everything handled: the committed offsets add up
    // to every record.
    let got = committed(&g.bootstrap, &g.group, &g.topic).await;
    let total: i64 = got.values().map(|o| o.unwrap_or(0)).sum();
    assert_eq!(total, 120, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_describes_a_consumer_group_and_a_classic_one() {
    use kafkit::admin::AnyGroupDescription;
    let Some(mut g) = Group::new("k848-describe").await else {
        return;
    };
    let a = g.member(0).await;
    let b = g.member(1).await;
    let owners = g.settle(&[0, 1]).await;
    let admin = kafkit::Admin::connect(ClientConfig::new([g.bootstrap.as_str()]))
        .await
        .expect("admin");
    let described = admin
        .describe_consumer_groups(std::slice::from_ref(&g.group))
        .await
        .expect("ConsumerGroupDescribe");
    let d = described[0].1.as_ref().expect("described");
    assert_eq!(d.state, "Stable");
    assert_eq!(d.members.len(), 2);
    let mut assigned: Vec<BTreeSet<i32>> = d
        .members
        .iter()
        .map(|m| m.assignment.iter().map(|tp| tp.partition).collect())
        .collect();
    assigned.sort();
    let mut expected: Vec<BTreeSet<i32>> = owners.values().cloned().collect();
    expected.sort();
    assert_eq!(
        assigned, expected,
        "the coordinator's view matches the members' events"
    );
    assert!(d.members.iter().all(|m| m.member_epoch > 0 && !m.classic));
    // A classic group: ConsumerGroupDescribe says it is no consumer group,
    // DescribeGroups describes it.
    let classic_group = kafka::unique("k848-classic");
    let mut classic = Consumer::connect(
        ClientConfig::new([g.bootstrap.as_str()]),
        ConsumerConfig::group(&classic_group).from_beginning(),
    )
    .await
    .expect("classic consumer");
    classic.subscribe(&[&g.topic]).expect("subscribe");
    g.produce("described-", 6).await;
    support::real::next_records_of(&mut classic, 1, "classic").await;
    let both = admin
        .describe_any_groups(&[g.group.clone(), classic_group.clone()])
        .await
        .expect("describe");
    assert!(matches!(&both[0].1, Ok(AnyGroupDescription::Consumer(c)) if c.members.len() == 2));
    assert!(
        matches!(&both[1].1, Ok(AnyGroupDescription::Classic(c)) if c.protocol_type == "consumer" && c.members.len() == 1),
        "{:?}",
        both[1]
    );
    classic.close().await.expect("close");
    admin.close();
    a.leave().await;
    b.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_leaves_with_epoch_minus_2_and_gets_its_partitions_back() {
    let Some(mut g) = Group::new("k848-static").await else {
        return;
    };
    let a = g
        .member_with(0, config(&g.group).with_group_instance_id("static-a"))
        .await;
    let b = g
        .member_with(1, config(&g.group).with_group_instance_id("static-b"))
        .await;
    let owners = g.settle(&[0, 1]).await;
    b.leave().await;
    g.view.remove(1);
    // The leave heartbeat of a static member (epoch -2) keeps its
    // partitions for its instance id until the session times out (6 s):
    // the other member does not get them meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(e) = g.rx.try_recv() {
        g.view.apply(e);
    }
    assert_eq!(
        g.view.owned[&0], owners[&0],
        "the static member's partitions stayed reserved"
    );
    let admin = kafkit::Admin::connect(ClientConfig::new([g.bootstrap.as_str()]))
        .await
        .expect("admin");
    let described = admin
        .describe_consumer_groups(std::slice::from_ref(&g.group))
        .await
        .expect("describe");
    let d = described[0].1.as_ref().expect("described");
    assert!(
        d.members
            .iter()
            .any(|m| m.instance_id.as_deref() == Some("static-b")),
        "the coordinator keeps static-b: {d:?}"
    );
    admin.close();
    // Back with the same instance id: the same partitions.
    let b = g
        .member_with(2, config(&g.group).with_group_instance_id("static-b"))
        .await;
    let again = g.settle(&[0, 2]).await;
    assert_eq!(again[&2], owners[&1], "static-b got its partitions back");
    a.leave().await;
    b.leave().await;
}
