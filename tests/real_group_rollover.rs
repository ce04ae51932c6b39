//! A rolling migration of a whole live group, classic -> consumer protocol
//! and back, against real Apache Kafka 4.4.0 (`group.consumer.migration.policy`
//! defaults to `bidirectional`): a producer writes numbered records to six
//! partitions all the time; three classic kafkit members read them; one at a
//! time a classic member closes (commit, LeaveGroup) and a
//! `GroupProtocol::Consumer` member takes its place (the first one converts
//! the group into a consumer group online); then one at a time back (when the
//! last consumer-protocol member leaves, the broker converts the group back
//! into a classic group and the classic members rejoin).
//!
//! A second test crashes members instead (no commit, no LeaveGroup) in a
//! mixed and in a consumer group; the last consumer member's session expiry
//! turns the group classic again, and the records the crashed members read
//! after their last commit are read again.
//!
//! Measured per step: how long the leave took, the time from the change until
//! the group settled (each partition owned once, balanced), until every
//! partition was read by its new owner, the longest pause of a partition,
//! and the duplicates read during the step. Asserted: nothing lost; no read
//! beyond what was written; a duplicate only re-reads records that were not
//! committed when the re-reading began (the at-least-once window: every
//! re-read run of a partition starts at or after the group's commit observed
//! before it started); committed offsets never go back; at the end the
//! commits are the log ends; no running member is fenced, loses partitions
//! or crashes; and the group's type after each step (ConsumerGroupDescribe,
//! DescribeGroups, ListGroups by type).
//!
//! Peer: the KIP-848 tests' broker (`support::kip848`: 500 ms consumer
//! heartbeats, 6 s sessions); classic members use 6 s sessions (the broker's
//! `group.min.session.timeout.ms`) and 300 ms heartbeats.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::admin::AnyGroupDescription;
use kafkit::consumer::{ConsumerConfig, ConsumerEvent, GroupProtocol};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ErrorCode;
use kafkit::{Admin, ClientConfig, TopicPartition};
use tokio::sync::{mpsc, watch};

#[path = "support/at_least_once.rs"]
mod at_least_once;
mod support;
use at_least_once::{check_commits_monotonic, check_reads};
use support::kafka;
use support::kip848::{broker, settle_848, Events};
use support::members::{await_reads, kafkit_config, reads, GroupView, KafkitMember, Read, ReadLog};

const PARTITIONS: i32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Classic,
    Consumer,
}

/// How a member goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Commit and leave the group (`close`).
    Leave,
    /// Vanish: no commit, no LeaveGroup; its session expires.
    Crash,
}

fn config(group: &str, kind: Kind) -> ConsumerConfig {
    match kind {
        Kind::Classic => kafkit_config(group).with_session_timeout(Duration::from_secs(6)),
        Kind::Consumer => ConsumerConfig::group(group)
            .from_beginning()
            .with_group_protocol(GroupProtocol::Consumer)
            .with_auto_commit_interval(Duration::from_millis(200))
            .with_fetch_max_wait(Duration::from_millis(100)),
    }
}

fn partitions(topic: &str) -> Vec<TopicPartition> {
    (0..PARTITIONS)
        .map(|partition| TopicPartition {
            topic: topic.to_owned(),
            partition,
        })
        .collect()
}

/// The group's committed offsets per partition.
async fn committed(admin: &Admin, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
    let got = admin
        .committed_offsets(group, &partitions(topic))
        .await
        .expect("OffsetFetch");
    got.into_iter()
        .map(|(tp, r)| (tp.partition, r.unwrap_or_else(|e| panic!("{tp:?}: {e}"))))
        .collect()
}

/// Every commit observed: (when the answer came, partition, offset).
type Commits = Arc<Mutex<Vec<(Instant, i32, i64)>>>;

/// Polls the group's commits every 50 ms until `stop`.
fn watch_commits(
    admin: Admin,
    group: String,
    topic: String,
    stop: watch::Receiver<bool>,
) -> (Commits, tokio::task::JoinHandle<()>) {
    let seen = Commits::default();
    let out = seen.clone();
    let task = tokio::spawn(async move {
        while !*stop.borrow() {
            let got = committed(&admin, &group, &topic).await;
            let at = Instant::now();
            out.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(got.into_iter().filter_map(|(p, o)| o.map(|o| (at, p, o))));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    (seen, task)
}

/// Writes `r<i>` to partition `i % PARTITIONS`, six records every 10 ms,
/// until `stop`; returns each value's partition and offset.
fn write_continuously(
    producer: Producer,
    topic: String,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<BTreeMap<String, (i32, i64)>> {
    tokio::spawn(async move {
        let mut pending = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut i = 0usize;
        while !*stop.borrow() {
            tick.tick().await;
            for p in 0..PARTITIONS {
                let value = format!("r{i}");
                let record = ProducerRecord::new(topic.as_str())
                    .partition(p)
                    .value(value.clone());
                pending.push((value, producer.enqueue(record).await.expect("enqueue")));
                i += 1;
            }
        }
        let mut out = BTreeMap::new();
        for (value, delivery) in pending {
            let r = delivery.await.expect("delivered");
            assert!(r.offset >= 0, "{value}: offset {}", r.offset);
            out.insert(value, (r.partition, r.offset));
        }
        producer.close(Duration::from_secs(5)).await.expect("close");
        out
    })
}

/// One member change, measured.
struct Step {
    label: String,
    /// The member replaced.
    old: usize,
    change: Instant,
    leave: Duration,
    settled: Duration,
    reading: Duration,
    max_pause: Duration,
    group: String,
}

/// The running group: its members (oldest first) and what they report.
struct Rig {
    bootstrap: String,
    topic: String,
    group: String,
    admin: Admin,
    log: ReadLog,
    view: GroupView,
    events: Events,
    tx: mpsc::UnboundedSender<(usize, ConsumerEvent, Instant)>,
    members: VecDeque<(usize, Kind, KafkitMember)>,
    next_id: usize,
}

impl Rig {
    async fn spawn(&mut self, kind: Kind) {
        let id = self.next_id;
        self.next_id += 1;
        let config = config(&self.group, kind);
        let (b, t) = (&self.bootstrap, &self.topic);
        let m = KafkitMember::spawn(id, b, t, config, self.log.clone(), self.tx.clone()).await;
        self.members.push_back((id, kind, m));
    }

    fn ids(&self) -> Vec<usize> {
        self.members.iter().map(|(id, _, _)| *id).collect()
    }

    /// Waits for a settled group; returns each partition's owner and when
    /// that state began.
    async fn settle(&mut self) -> (BTreeMap<i32, usize>, Instant) {
        let ids = self.ids();
        let none = BTreeSet::new;
        let (owners, since) = settle_848(
            &mut self.view,
            &mut self.events,
            &ids,
            PARTITIONS,
            false,
            none,
        )
        .await;
        let by_partition = owners
            .iter()
            .flat_map(|(id, ps)| ps.iter().map(move |p| (*p, *id)))
            .collect();
        (by_partition, since)
    }

    /// Replaces the oldest member with one of `kind`, and measures.
    async fn roll(&mut self, exit: Exit, kind: Kind) -> Step {
        let (old, was, member) = self.members.pop_front().expect("a member");
        let label = format!("{exit:?} {was:?} -> {kind:?}").to_lowercase();
        let change = Instant::now();
        match exit {
            Exit::Leave => member.leave().await,
            Exit::Crash => member.crash(),
        }
        let leave = change.elapsed();
        self.view.remove(old);
        self.spawn(kind).await;
        let (owners, since) = self.settle().await;
        let resumed = read_by_owners(&self.log, &owners, since).await;
        let reading = resumed.duration_since(change);
        Step {
            label,
            old,
            change,
            leave,
            settled: since.duration_since(change),
            reading,
            max_pause: max_pause(&reads(&self.log), change, resumed),
            group: self.check_type().await,
        }
    }

    /// The group's type and members, checked against the members running.
    async fn check_type(&self) -> String {
        let consumer = self
            .members
            .iter()
            .filter(|m| m.1 == Kind::Consumer)
            .count();
        let classic = self.members.len() - consumer;
        let d = self
            .admin
            .describe_any_groups(std::slice::from_ref(&self.group))
            .await
            .expect("describe");
        match &d[0].1 {
            Ok(AnyGroupDescription::Consumer(g)) => {
                let old = g.members.iter().filter(|m| m.classic).count();
                assert!(
                    consumer > 0,
                    "a consumer group without consumer members: {g:?}"
                );
                assert_eq!(
                    (g.members.len(), old),
                    (consumer + classic, classic),
                    "{g:?}"
                );
                self.check_listed("consumer").await;
                format!("consumer ({consumer} consumer, {classic} classic)")
            }
            Ok(AnyGroupDescription::Classic(g)) => {
                assert_eq!(consumer, 0, "a classic group with consumer members: {g:?}");
                assert_eq!(g.members.len(), classic, "{g:?}");
                self.check_listed("classic").await;
                format!("classic ({classic} members)")
            }
            other => panic!("{other:?}"),
        }
    }
}

impl Rig {
    /// ListGroups (filtered by type) lists the group as `kind`.
    async fn check_listed(&self, kind: &str) {
        let (listed, errors) = self
            .admin
            .list_groups_filtered(&[], &[kind.to_owned()])
            .await
            .expect("ListGroups");
        assert!(errors.is_empty(), "{errors:?}");
        let found = listed.iter().find(|s| s.group_id == self.group);
        assert_eq!(
            found.map(|s| s.group_type.as_str()),
            Some(kind),
            "{listed:?}"
        );
    }
}

/// Waits until every partition was read by its owner at or after `since`;
/// returns when the last of them was.
async fn read_by_owners(log: &ReadLog, owners: &BTreeMap<i32, usize>, since: Instant) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = reads(log);
        let firsts: Vec<Option<Instant>> = (0..PARTITIONS)
            .map(|p| {
                all.iter()
                    .find(|r| {
                        r.partition == p && Some(&r.member) == owners.get(&p) && r.at >= since
                    })
                    .map(|r| r.at)
            })
            .collect();
        if firsts.iter().all(Option::is_some) {
            return firsts.into_iter().flatten().max().unwrap_or(since);
        }
        assert!(
            Instant::now() < deadline,
            "partitions not read again: {firsts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The longest time a partition went unread between `from` and `to`
/// (counting from its last read before `from`).
fn max_pause(all: &[Read], from: Instant, to: Instant) -> Duration {
    let mut longest = Duration::ZERO;
    for p in 0..PARTITIONS {
        let mut last: Option<Instant> = None;
        for r in all.iter().filter(|r| r.partition == p && r.at <= to) {
            if r.at >= from {
                let gap = r.at.duration_since(last.unwrap_or(from));
                longest = longest.max(gap);
            }
            last = Some(r.at);
        }
    }
    longest
}

/// No member was fenced, lost partitions, crashed or lost its coordinator:
/// every change went through revocations and assignments.
fn check_events(view: &GroupView, closed: usize) {
    for (id, e, _) in &view.events {
        let bad = matches!(
            e,
            ConsumerEvent::Lost { .. }
                | ConsumerEvent::Crashed { .. }
                | ConsumerEvent::PollTimeoutExpired
                | ConsumerEvent::Disconnected { .. }
                | ConsumerEvent::RequestDropped(_)
        );
        assert!(!bad, "member {id}: {e:?}");
    }
    let stopped = view
        .events
        .iter()
        .filter(|(_, e, _)| matches!(e, ConsumerEvent::Stopped));
    assert_eq!(stopped.count(), closed, "every member closed stopped once");
}

/// What member `old` had read of the partitions it was reading at `change`
/// beyond the latest commit observed before another member read them: the
/// records its replacement may read again (an upper bound: a commit the
/// watcher, polling every 50 ms, had not seen yet counts as not made).
fn uncommitted(all: &[Read], commits: &[(Instant, i32, i64)], old: usize, change: Instant) -> i64 {
    let mut n = 0;
    for p in 0..PARTITIONS {
        let of_p = || all.iter().filter(move |r| r.partition == p);
        if of_p().rfind(|r| r.at <= change).map(|r| r.member) != Some(old) {
            continue;
        }
        let last = of_p().filter(|r| r.member == old).map(|r| r.offset).max();
        let next = of_p().find(|r| r.at > change && r.member != old);
        let taken = next.map_or(change, |r| r.at);
        let commit = commits
            .iter()
            .filter(|(at, q, _)| *q == p && *at < taken)
            .map(|(_, _, o)| *o)
            .max()
            .unwrap_or(0);
        n += last.map_or(0, |l| (l + 1 - commit).max(0));
    }
    n
}

fn print_table(
    steps: &[Step],
    all: &[Read],
    dup: &[bool],
    commits: &[(Instant, i32, i64)],
    end: Instant,
) {
    println!(
        "{:<26} {:>6} {:>9} {:>9} {:>9} {:>11} {:>5}  group after",
        "step", "leave", "settled", "reading", "max pause", "uncommitted", "dups"
    );
    for (i, s) in steps.iter().enumerate() {
        let until = steps.get(i + 1).map_or(end, |n| n.change);
        let dups = all
            .iter()
            .zip(dup)
            .filter(|(r, d)| **d && r.at >= s.change && r.at < until)
            .count();
        println!(
            "{:<26} {:>4}ms {:>7}ms {:>7}ms {:>7}ms {:>11} {:>5}  {}",
            s.label,
            s.leave.as_millis(),
            s.settled.as_millis(),
            s.reading.as_millis(),
            s.max_pause.as_millis(),
            uncommitted(all, commits, s.old, s.change),
            dups,
            s.group
        );
    }
}

/// Starts `initial` classic members under a continuous producer, replaces
/// the oldest member once per `plan` entry, then stops writing, drains,
/// checks and prints the steps. `name` names the topic and group.
async fn roll_group(b: &str, name: &str, initial: usize, plan: &[(Exit, Kind)]) {
    let started = Instant::now();
    let topic = support::real::topic(b, name, PARTITIONS).await;
    let group = kafka::unique(name);
    let connect = || Admin::connect(ClientConfig::new([b]));
    let admin = connect().await.expect("admin");
    let (stop, stopped) = watch::channel(false);
    let producer = Producer::connect(ClientConfig::new([b]), ProducerConfig::default())
        .await
        .expect("producer");
    let writer = write_continuously(producer, topic.clone(), stopped.clone());
    let (commits, watcher) = watch_commits(
        connect().await.expect("admin"),
        group.clone(),
        topic.clone(),
        stopped,
    );
    let (tx, events) = mpsc::unbounded_channel();
    let mut rig = Rig {
        bootstrap: b.to_owned(),
        topic: topic.clone(),
        group: group.clone(),
        admin,
        log: ReadLog::default(),
        view: GroupView::default(),
        events,
        tx,
        members: VecDeque::new(),
        next_id: 0,
    };

    for _ in 0..initial {
        rig.spawn(Kind::Classic).await;
    }
    let (owners, since) = rig.settle().await;
    read_by_owners(&rig.log, &owners, since).await;
    assert!(rig.check_type().await.starts_with("classic"));
    let mut steps = Vec::new();
    for (exit, kind) in plan {
        steps.push(rig.roll(*exit, *kind).await);
    }

    // Stop writing, read everything, commit it.
    let _ = stop.send(true);
    let written = writer.await.expect("writer");
    let values: BTreeSet<String> = written.keys().cloned().collect();
    await_reads(&rig.log, &values).await;
    let end = Instant::now();
    for (_, _, m) in &rig.members {
        m.commit().await;
    }
    let mut log_end: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o) in written.values() {
        let e = log_end.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = committed(&rig.admin, &group, &topic).await;
        if (0..PARTITIONS).all(|p| got[&p] == log_end.get(&p).copied()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "commits {got:?} vs log ends {log_end:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watcher.await.expect("commit watcher");
    let commits = commits.lock().unwrap_or_else(|p| p.into_inner()).clone();
    check_commits_monotonic(&commits);

    let all = reads(&rig.log);
    let dup = check_reads(&all, &written, &commits);
    let dups = dup.iter().filter(|d| **d).count();
    println!("{name}:");
    print_table(&steps, &all, &dup, &commits, end);
    println!(
        "written {}, read {}, lost 0, duplicates {dups}, log ends {log_end:?}, total {:?}",
        written.len(),
        all.len(),
        started.elapsed()
    );

    // Everyone leaves: the classic group is empty (or gone).
    while let Some((_, _, m)) = rig.members.pop_front() {
        m.leave().await;
    }
    while let Ok(e) = rig.events.try_recv() {
        rig.view.apply(e);
    }
    let crashed = plan.iter().filter(|(e, _)| *e == Exit::Crash).count();
    check_events(&rig.view, initial + plan.len() - crashed);
    let gone = rig
        .admin
        .describe_any_groups(std::slice::from_ref(&group))
        .await
        .expect("describe");
    match &gone[0].1 {
        Ok(AnyGroupDescription::Classic(g)) => {
            assert_eq!((g.state.as_str(), g.members.len()), ("Empty", 0), "{g:?}")
        }
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}"),
        other => panic!("{other:?}"),
    }
    rig.admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_rolls_to_the_consumer_protocol_and_back_while_records_flow() {
    support::real::init_tracing();
    let Some(b) = broker() else { return };
    use {Exit::Leave, Kind::*};
    let plan = [(Leave, Consumer), (Leave, Consumer), (Leave, Consumer)];
    let back = [(Leave, Classic), (Leave, Classic), (Leave, Classic)];
    roll_group(&b, "rollover", 3, &[plan, back].concat()).await;
}

/// Members crash instead of leaving (no commit, no LeaveGroup): a classic
/// member of a mixed group, a consumer member, then the last consumer
/// member, whose session expiry turns the group classic again. What the
/// crashed members read after their last commit is read again, and only
/// that (`check_reads`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_members_are_replaced_across_the_protocols() {
    support::real::init_tracing();
    let Some(b) = broker() else { return };
    use {Exit::*, Kind::*};
    let plan = [
        (Leave, Consumer),
        (Crash, Consumer),
        (Crash, Classic),
        (Crash, Classic),
    ];
    roll_group(&b, "rollcrash", 2, &plan).await;
}
