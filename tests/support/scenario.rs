//! The fault matrix's scenario runner.
//!
//! A scenario runs, on a 3-broker mock cluster, an idempotent `acks=all`
//! kafkit producer and a group of kafkit consumers while a fault schedule
//! acts between rounds of production. Afterwards it checks, with independent
//! readers, that
//! - every acknowledged record is in the log exactly once and, per key, in
//!   the order it was sent (librdkafka reads the topic back);
//! - the group consumed every acknowledged record, and a consumer only went
//!   back in a partition after a new assignment;
//! - the group's committed offsets never went backwards (a librdkafka client
//!   outside the group polls them with OffsetFetch throughout), and after the
//!   consumers closed they equal the end of every partition.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::audit::{audit, Acked};
use crate::commits::CommitWatch;
use crate::mock::Mock;
use crate::support::read_back;

/// What a scenario runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Row name.
    pub name: &'static str,
    /// Partitions of the topic (replication factor 3).
    pub partitions: i32,
    /// Rounds of production; the fault schedule runs before each.
    pub rounds: u64,
    /// Records per round.
    pub per_round: u64,
    /// Pause after each round.
    pub pace: Duration,
    /// Producer batches in flight per partition.
    pub max_in_flight: usize,
    /// Consumers started before producing.
    pub consumers: usize,
    /// Consumer auto-commit period.
    pub auto_commit: Duration,
    /// Client request timeout (producer and consumers).
    pub request_timeout: Duration,
}

impl Plan {
    /// Defaults: 4 partitions, 20 rounds of 100 records 100 ms apart, two
    /// consumers committing every 250 ms.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            partitions: 4,
            rounds: 20,
            per_round: 100,
            pace: Duration::from_millis(100),
            max_in_flight: 5,
            consumers: 2,
            auto_commit: Duration::from_millis(250),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// One line of the fault table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub scenario: String,
    pub produced: usize,
    pub acknowledged: usize,
    pub consumed: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Acknowledged records the mock had also written from an attempt whose
    /// response was lost (see `support/audit.rs`; Apache Kafka drops those).
    pub rewritten: usize,
    /// Records the group saw more than once (allowed: uncommitted records
    /// after a rebalance).
    pub redelivered: usize,
    /// Committed offsets observed (OffsetFetch answers).
    pub commit_checks: usize,
}

/// What a scenario hands back: its row and every check that failed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub row: Row,
    pub failures: Vec<String>,
    /// Every consumer event, tagged with the consumer's index.
    pub events: Vec<(usize, ConsumerEvent)>,
}

/// Group changes a fault schedule asks for (applied after it returns).
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Start one more consumer.
    AddConsumer,
    /// Drop consumer `i` without LeaveGroup or commit (a crash).
    Kill(usize),
    /// Close consumer `i` cleanly (commit, LeaveGroup).
    Close(usize),
}

/// Handed to the fault schedule before every round.
pub struct Ctl<'a> {
    pub mock: &'a Mock,
    pub topic: &'a str,
    pub group: &'a str,
    actions: Vec<Action>,
}

impl Ctl<'_> {
    pub fn act(&mut self, a: Action) {
        self.actions.push(a);
    }
}

#[derive(Debug, Clone)]
struct Seen {
    consumer: usize,
    partition: i32,
    offset: i64,
    value: String,
}

/// What a running consumer is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Stop consuming and commit what was processed (then wait).
    Commit,
    /// Close cleanly (commit, LeaveGroup).
    Close,
    /// Drop without LeaveGroup or commit.
    Kill,
}

struct Member {
    stop: watch::Sender<Option<Stop>>,
    task: Option<JoinHandle<()>>,
    committed: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// The consumers of one scenario and what they saw.
struct Group {
    bootstrap: String,
    topic: String,
    group: String,
    plan: Plan,
    members: BTreeMap<usize, Member>,
    next: usize,
    seen: Arc<Mutex<Vec<Seen>>>,
    events: Arc<Mutex<Vec<(usize, ConsumerEvent)>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Group {
    async fn add(&mut self) {
        let i = self.next;
        self.next += 1;
        let cfg = ConsumerConfig::group(self.group.clone())
            .from_beginning()
            .with_session_timeout(Duration::from_secs(4))
            .with_heartbeat_interval(Duration::from_millis(300))
            .with_auto_commit_interval(self.plan.auto_commit)
            .with_fetch_max_wait(Duration::from_millis(100));
        let client = ClientConfig::new([&self.bootstrap])
            .with_request_timeout(self.plan.request_timeout)
            .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(300));
        let mut consumer = Consumer::connect(client, cfg).await.expect("consumer");
        consumer.subscribe(&[&self.topic]).expect("subscribe");
        let mut events = consumer.events().expect("events");
        let log = self.events.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                lock(&log).push((i, e));
            }
        });
        let (stop, mut stopped) = watch::channel(None);
        let (seen, errors) = (self.seen.clone(), self.errors.clone());
        let (committed_tx, committed) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut how = loop {
                tokio::select! {
                    _ = stopped.changed() => break stopped.borrow().unwrap_or(Stop::Close),
                    r = consumer.recv() => match r {
                        Some(Ok(r)) => lock(&seen).push(Seen {
                            consumer: i,
                            partition: r.partition,
                            offset: r.offset,
                            value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                                .into_owned(),
                        }),
                        Some(Err(e)) => lock(&errors).push(format!("consumer {i}: {e}")),
                        None => break Stop::Close,
                    },
                }
            };
            if how == Stop::Commit {
                // The end of a scenario: every consumer commits before any
                // leaves, so no commit meets the rebalance a LeaveGroup starts
                // (the mock rejects commits then; see DESIGN.md).
                consumer.mark_processed();
                if let Err(e) = consumer.commit().await {
                    lock(&errors).push(format!("consumer {i} final commit: {e}"));
                }
                let _ = committed_tx.send(());
                while stopped.changed().await.is_ok() {
                    how = stopped.borrow().unwrap_or(Stop::Close);
                    if how != Stop::Commit {
                        break;
                    }
                }
            }
            if how == Stop::Kill {
                drop(consumer); // no LeaveGroup, no commit
                return;
            }
            let started = Instant::now();
            if let Err(e) = consumer.close().await {
                lock(&errors).push(format!("consumer {i} close: {e}"));
            }
            if started.elapsed() > Duration::from_secs(10) {
                lock(&errors).push(format!("consumer {i} close took {:?}", started.elapsed()));
            }
        });
        self.members.insert(
            i,
            Member {
                stop,
                task: Some(task),
                committed: Some(committed),
            },
        );
    }

    async fn stop(&mut self, i: usize, how: Stop) {
        if let Some(mut m) = self.members.remove(&i) {
            let _ = m.stop.send(Some(how));
            if let Some(t) = m.task.take() {
                let _ = t.await;
            }
        }
    }

    /// Every consumer commits, then every consumer closes.
    async fn commit_then_close_all(&mut self) {
        for m in self.members.values_mut() {
            let _ = m.stop.send(Some(Stop::Commit));
        }
        for m in self.members.values_mut() {
            if let Some(rx) = m.committed.take() {
                let _ = rx.await;
            }
        }
        let live: Vec<usize> = self.members.keys().copied().collect();
        for i in live {
            self.stop(i, Stop::Close).await;
        }
    }

    async fn apply(&mut self, a: Action) {
        match a {
            Action::AddConsumer => self.add().await,
            Action::Kill(i) => self.stop(i, Stop::Kill).await,
            Action::Close(i) => self.stop(i, Stop::Close).await,
        }
    }

    fn consumed_values(&self) -> BTreeSet<String> {
        lock(&self.seen).iter().map(|s| s.value.clone()).collect()
    }
}

fn producer_config(plan: &Plan) -> ProducerConfig {
    ProducerConfig::default()
        .with_acks(Acks::All)
        .with_idempotence(true)
        .with_max_in_flight(plan.max_in_flight)
        .with_retry_backoff(Duration::from_millis(20))
        .with_delivery_timeout(Duration::from_secs(40))
        .with_linger(Duration::from_millis(2))
}

/// Runs `plan` on a fresh cluster, calling `fault(round, ctl)` before each
/// round and `heal(ctl)` after the last. Panics only when the scenario
/// cannot run at all; failed checks are returned in [`Outcome::failures`].
pub async fn run(
    plan: Plan,
    mut fault: impl FnMut(u64, &mut Ctl<'_>),
    heal: impl FnOnce(&mut Ctl<'_>),
) -> Outcome {
    let mock = Mock::new(3);
    let topic = format!("fm-{}", plan.name.replace(' ', "-"));
    let group_id = format!("{topic}-group");
    mock.cluster()
        .create_topic(&topic, plan.partitions, 3)
        .expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let commits = CommitWatch::start(&bootstrap, &group_id, &topic, plan.partitions);
    let mut group = Group {
        bootstrap: bootstrap.clone(),
        topic: topic.clone(),
        group: group_id.clone(),
        plan: plan.clone(),
        members: BTreeMap::new(),
        next: 0,
        seen: Arc::default(),
        events: Arc::default(),
        errors: Arc::default(),
    };
    for _ in 0..plan.consumers {
        group.add().await;
    }
    let client = ClientConfig::new([&bootstrap])
        .with_request_timeout(plan.request_timeout)
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(300));
    let producer = Producer::connect(client, producer_config(&plan))
        .await
        .expect("producer");

    let mut failures = Vec::new();
    let mut pending = Vec::new();
    let mut n = 0u64;
    for round in 0..plan.rounds {
        let mut ctl = Ctl {
            mock: &mock,
            topic: &topic,
            group: &group_id,
            actions: Vec::new(),
        };
        fault(round, &mut ctl);
        for a in ctl.actions {
            group.apply(a).await;
        }
        for _ in 0..plan.per_round {
            let key = format!("k{}", n % 16);
            let value = format!("{key}:{n}");
            let f = producer
                .enqueue(ProducerRecord::new(&topic).key(key).value(value.clone()))
                .await
                .expect("enqueue");
            pending.push((value, f));
            n += 1;
        }
        tokio::time::sleep(plan.pace).await;
    }
    let mut ctl = Ctl {
        mock: &mock,
        topic: &topic,
        group: &group_id,
        actions: Vec::new(),
    };
    heal(&mut ctl);
    for a in ctl.actions {
        group.apply(a).await;
    }
    let produced = pending.len();
    let mut acked = Vec::new();
    for (value, f) in pending {
        match f.await {
            Ok(report) => acked.push(Acked {
                value,
                partition: report.partition,
                offset: report.offset,
            }),
            Err(e) => failures.push(format!("record {value} not acknowledged: {e}")),
        }
    }
    if let Err(e) = producer.close(Duration::from_secs(5)).await {
        failures.push(format!("producer close: {e}"));
    }

    // Let the group catch up, then close every consumer cleanly.
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let got = group.consumed_values();
        if acked.iter().all(|k| got.contains(&k.value)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    group.commit_then_close_all().await;

    let read = {
        let (b, t, p, n) = (
            bootstrap.clone(),
            topic.clone(),
            plan.partitions,
            acked.len(),
        );
        tokio::task::spawn_blocking(move || read_back(&b, &t, p, n))
            .await
            .expect("read back")
    };
    let log = audit(&read, &acked);
    failures.extend(log.problems.iter().map(|p| format!("log: {p}")));
    if log.out_of_order > 0 {
        failures.push(format!("{} records out of order", log.out_of_order));
    }
    if log.unacknowledged > 0 {
        failures.push(format!(
            "{} records in the log were never acknowledged",
            log.unacknowledged
        ));
    }
    let report = commits.finish(&bootstrap, &topic, plan.partitions);
    failures.extend(report.failures);

    let seen = lock(&group.seen).clone();
    let events = lock(&group.events).clone();
    failures.extend(lock(&group.errors).iter().cloned());
    failures.extend(check_consumption(&seen, &events));
    let consumed_values: BTreeSet<&str> = seen.iter().map(|s| s.value.as_str()).collect();
    let not_consumed = acked
        .iter()
        .filter(|k| !consumed_values.contains(k.value.as_str()))
        .count();
    let lost = log.lost.max(not_consumed);
    if log.lost > 0 {
        failures.push(format!(
            "{} acknowledged records missing from the log",
            log.lost
        ));
    }
    if not_consumed > 0 {
        failures.push(format!(
            "{not_consumed} acknowledged records never consumed"
        ));
    }
    if log.duplicated > 0 {
        failures.push(format!("{} records duplicated in the log", log.duplicated));
    }
    let distinct: BTreeSet<(i32, i64)> = seen.iter().map(|s| (s.partition, s.offset)).collect();
    Outcome {
        row: Row {
            scenario: plan.name.to_owned(),
            produced,
            acknowledged: acked.len(),
            consumed: acked
                .iter()
                .filter(|k| consumed_values.contains(k.value.as_str()))
                .count(),
            lost,
            duplicated: log.duplicated,
            rewritten: log.rewritten,
            redelivered: seen.len() - distinct.len(),
            commit_checks: report.observations,
        },
        failures,
        events,
    }
}

/// Per consumer and partition, offsets only go back after the consumer was
/// assigned that partition again; the same offset always holds the same value.
fn check_consumption(seen: &[Seen], events: &[(usize, ConsumerEvent)]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut assignments: HashMap<(usize, i32), usize> = HashMap::new();
    for (i, e) in events {
        if let ConsumerEvent::Assigned { partitions, .. } = e {
            for tp in partitions {
                *assignments.entry((*i, tp.partition)).or_default() += 1;
            }
        }
    }
    let mut last: HashMap<(usize, i32), i64> = HashMap::new();
    let mut rewinds: HashMap<(usize, i32), usize> = HashMap::new();
    let mut value_at: HashMap<(i32, i64), &str> = HashMap::new();
    for s in seen {
        let key = (s.consumer, s.partition);
        if let Some(prev) = last.insert(key, s.offset) {
            if s.offset <= prev {
                *rewinds.entry(key).or_default() += 1;
            }
        }
        if let Some(v) = value_at.insert((s.partition, s.offset), &s.value) {
            if v != s.value {
                failures.push(format!(
                    "partition {} offset {} read as {v} and as {}",
                    s.partition, s.offset, s.value
                ));
            }
        }
    }
    for ((consumer, partition), n) in rewinds {
        let allowed = assignments
            .get(&(consumer, partition))
            .copied()
            .unwrap_or(0)
            .saturating_sub(1);
        if n > allowed {
            failures.push(format!(
                "consumer {consumer} went back {n} times in partition {partition} \
                 after {allowed} reassignments"
            ));
        }
    }
    failures
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Renders rows as the fault table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | produced | acknowledged | consumed | lost | duplicated | rewritten (mock) | redelivered | commit checks |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario,
            r.produced,
            r.acknowledged,
            r.consumed,
            r.lost,
            r.duplicated,
            r.rewritten,
            r.redelivered,
            r.commit_checks
        ));
    }
    out
}
