//! The runner of `tests/real_faults.rs`: an idempotent `acks=all` kafkit
//! producer sending at a fixed rate and a group of kafkit consumers with
//! auto-commit, on a real 3-node Apache Kafka cluster, while a fault acts.
//!
//! The producer enqueues `RATE` records every tick; each value is
//! `"k<n % 16>:<n>"` (key `"k<n % 16>"`), so the sequence number `n` says
//! the send order per key. The fault runs after a warm-up; when it returns
//! (its recovery included) production goes on for a few seconds, stops,
//! every delivery report is awaited, the group drains, commits and closes.
//! Then the row is computed:
//! - the log, read from the beginning by librdkafka (a fresh reader outside
//!   the group): every acknowledged record at its offset exactly once, per
//!   key in send order (`support/audit.rs`); copies of a record are log
//!   duplicates, which idempotence must prevent;
//! - the group: every acknowledged record consumed; records handed to the
//!   application twice are the at-least-once window after a rebalance,
//!   reported as `redelivered`, not hidden; a consumer may only go back in
//!   a partition after it was assigned that partition again;
//! - committed offsets, polled from outside by librdkafka every 100 ms
//!   (`support/commits.rs`): never backwards, and at the end of every
//!   partition after the group closed;
//! - recovery: for each disruption the fault marks ([`Ctl::mark`]: a kill,
//!   a pause, each restart of a rolling restart), the time until every
//!   partition acknowledged a record sent after the mark (producer), and
//!   until every partition handed such a record to a consumer (end to end);
//!   the worst over the marks. This measures availability, not backlog, so
//!   a loaded test machine inflates it less than a latency threshold would.

mod group;
mod report;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::admin::{Admin, NewTopic};
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::{Client, ClientConfig};
use tokio::task::JoinHandle;

use crate::audit::Acked;
use crate::commits::CommitWatch;
use crate::support::kafka::Cluster;
use crate::support::read_back;
use group::{drain_and_close, member, wait_assigned, Observed};
pub use report::table;
use report::{judge, Collected};

/// Partitions of each scenario's topic (replication factor 3, min ISR 2).
pub const PARTITIONS: i32 = 6;
/// Records enqueued per tick.
pub const RATE: u64 = 10;
/// Tick of the producer: `RATE` records every 50 ms, 200 records/s.
pub const TICK: Duration = Duration::from_millis(50);
/// Client request timeout (producer and consumers).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Broker-side wait for replicas (`timeout_ms` of Produce).
pub const ACK_TIMEOUT: Duration = Duration::from_millis(2500);
/// Producer delivery timeout.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Group session timeout (the brokers allow 1 s and up).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
/// Group heartbeat interval.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// Auto-commit period.
pub const AUTO_COMMIT: Duration = Duration::from_millis(500);
/// Production before the fault.
const WARM_UP: Duration = Duration::from_secs(4);
/// Production after the fault (and its recovery) returned.
const COOL_DOWN: Duration = Duration::from_secs(3);

/// One line of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub scenario: String,
    pub produced: usize,
    pub acknowledged: usize,
    pub consumed: usize,
    /// Acknowledged records missing from the log or never consumed.
    pub lost: usize,
    /// Acknowledged records with a second copy in the log.
    pub duplicated: usize,
    /// Records handed to the application more than once (at-least-once
    /// redelivery after a rebalance).
    pub redelivered: usize,
    /// Committed offsets that went backwards.
    pub commits_backwards: usize,
    /// OffsetFetch answers the commit watcher saw.
    pub commit_checks: usize,
    /// Disruption until every partition acknowledged again (worst mark).
    pub producer_recovery: Duration,
    /// Disruption until every partition delivered again (worst mark).
    pub e2e_recovery: Duration,
    /// Slowest acknowledgement.
    pub max_ack: Duration,
    /// Errors consumers saw from `recv` (retried by kafkit, surfaced).
    pub consumer_errors: usize,
    /// How long the scenario ran.
    pub wall: Duration,
}

/// A scenario's row and every check that failed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub row: Row,
    pub failures: Vec<String>,
}

/// What the fault function gets.
#[derive(Clone)]
pub struct Ctl {
    pub cluster: &'static Cluster,
    pub client: Client,
    pub topic: String,
    marks: Arc<Mutex<Vec<Instant>>>,
}

impl Ctl {
    /// A disruption starts now (recovery is measured from each mark).
    pub fn mark(&self) {
        lock(&self.marks).push(Instant::now());
    }

    /// Runs a blocking cluster action (`scripts/kafka.sh`) without stalling
    /// the runtime's other tasks.
    pub fn act<T>(&self, f: impl FnOnce(&Cluster) -> T) -> T {
        tokio::task::block_in_place(|| f(self.cluster))
    }

    /// Node id of partition `p`'s leader, by kafkit's Metadata.
    pub async fn leader(&self, p: i32) -> Option<i32> {
        let md = self.client.refresh_metadata().await.ok()?;
        md.topics.get(&self.topic)?.partition(p)?.leader
    }

    /// The active KRaft controller: the leader of the newest epoch in the
    /// nodes' `quorum-state` files. (A KRaft broker's Metadata answers a
    /// random live broker as `controller_id`, so Metadata cannot tell.)
    pub fn active_controller(&self) -> Option<u8> {
        active_controller(self.cluster)
    }

    /// Waits until every node answers and every partition of the topic has
    /// all three replicas in sync (bounded by `limit`).
    pub async fn wait_healthy(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let secs = u32::try_from(limit.as_secs()).unwrap_or(60);
        if !self.act(|c| c.wait_ready(secs)) {
            return false;
        }
        while Instant::now() < deadline {
            if let Ok(md) = self.client.refresh_metadata().await {
                let full = md.topics.get(&self.topic).is_some_and(|t| {
                    t.partitions.len() == PARTITIONS as usize
                        && t.partitions
                            .iter()
                            .all(|p| p.leader.is_some() && p.isr.len() == 3)
                });
                if full {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }
}

/// See [`Ctl::active_controller`].
pub fn active_controller(cluster: &Cluster) -> Option<u8> {
    let field = |text: &str, name: &str| -> Option<i64> {
        let rest = &text[text.find(&format!("\"{name}\":"))? + name.len() + 3..];
        let end = rest.find([',', '}'])?;
        rest[..end].trim().parse().ok()
    };
    (1..=cluster.nodes)
        .filter_map(|n| {
            let path = cluster
                .dir
                .join(format!("node-{n}/data/__cluster_metadata-0/quorum-state"));
            let text = std::fs::read_to_string(path).ok()?;
            Some((field(&text, "leaderEpoch")?, field(&text, "leaderId")?))
        })
        // A node voting in an election has a newer epoch and no leader yet.
        .filter(|(_, id)| *id >= 1)
        .max()
        .and_then(|(_, id)| u8::try_from(id).ok())
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::new([bootstrap])
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .with_metadata_max_age(Duration::from_secs(5))
}

fn producer_config() -> ProducerConfig {
    let mut c = ProducerConfig::default()
        .with_acks(Acks::All)
        .with_idempotence(true)
        .with_max_in_flight(5)
        .with_linger(Duration::from_millis(5))
        .with_retry_backoff(Duration::from_millis(100))
        .with_delivery_timeout(DELIVERY_TIMEOUT);
    c.ack_timeout = ACK_TIMEOUT;
    c
}

/// The settings, for the table's caption.
pub fn settings() -> String {
    format!(
        "{PARTITIONS} partitions, RF 3, min ISR 2; {} records/s; producer acks=all, idempotent, \
         5 in flight, request timeout {REQUEST_TIMEOUT:?}, Produce timeout {ACK_TIMEOUT:?}, \
         retry backoff 100 ms, delivery timeout {DELIVERY_TIMEOUT:?}; 2 consumers, session \
         timeout {SESSION_TIMEOUT:?}, heartbeat {HEARTBEAT:?}, auto-commit {AUTO_COMMIT:?}; \
         brokers: broker.session.timeout.ms=4000, broker.heartbeat.interval.ms=1000, \
         group.min.session.timeout.ms=1000; recovery = from each disruption until every partition \
         acknowledged (producer) / delivered to a consumer (end to end) a record sent after it, \
         worst disruption",
        RATE * 1000 / u64::try_from(TICK.as_millis()).unwrap_or(50)
    )
}

/// A record on its way: value, when enqueued, when acknowledged (or why not).
type Sent = JoinHandle<(String, Instant, Instant, kafkit::Result<(i32, i64)>)>;

/// Enqueues `RATE` records every `TICK` until `stop` is set.
fn produce(producer: Arc<Producer>, topic: String, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Sent>> {
    tokio::spawn(async move {
        let mut sent = Vec::new();
        let mut n = 0u64;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !stop.load(Ordering::Acquire) {
            tick.tick().await;
            for _ in 0..RATE {
                let key = format!("k{}", n % 16);
                let value = format!("{key}:{n}");
                n += 1;
                let at = Instant::now();
                let record = ProducerRecord::new(&topic).key(key).value(value.clone());
                match producer.enqueue(record).await {
                    Ok(f) => sent.push(tokio::spawn(async move {
                        let r = f.await.map(|d| (d.partition, d.offset));
                        (value, at, Instant::now(), r)
                    })),
                    Err(e) => {
                        sent.push(tokio::spawn(
                            async move { (value, at, Instant::now(), Err(e)) },
                        ))
                    }
                }
            }
        }
        sent
    })
}

async fn create_topic(bootstrap: &str, topic: &str) {
    let admin = Admin::connect(client_config(bootstrap))
        .await
        .expect("admin");
    let result = admin
        .create_topics(&[NewTopic::new(topic, PARTITIONS, 3)], false)
        .await
        .expect("create topic");
    assert!(result.iter().all(|(_, r)| r.is_ok()), "{result:?}");
    admin.close();
}

/// Runs one scenario on `cluster`: `fault` is called after the warm-up
/// and returns once it is over (the cluster healed). Panics only when the
/// scenario cannot run; failed checks are in [`Outcome::failures`].
pub async fn run<F, Fut>(name: &str, cluster: &'static Cluster, fault: F) -> Outcome
where
    F: FnOnce(Ctl) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let bootstrap = cluster.bootstrap.clone();
    let topic = crate::support::kafka::unique(&format!("rf-{}", name.replace(' ', "-")));
    let group = format!("{topic}-group");
    create_topic(&bootstrap, &topic).await;
    let client = Client::connect(client_config(&bootstrap))
        .await
        .expect("client");
    client.track_topics([topic.clone()]);
    let ctl = Ctl {
        cluster,
        client: client.clone(),
        topic: topic.clone(),
        marks: Arc::default(),
    };
    let mut failures = Vec::new();
    if !ctl.wait_healthy(Duration::from_secs(60)).await {
        failures.push("the cluster was not healthy before the fault".to_owned());
    }
    let commits = CommitWatch::start(&bootstrap, &group, &topic, PARTITIONS);
    let obs = Arc::new(Observed::default());
    let mut members = Vec::new();
    for i in 0..2 {
        members.push(member(i, &bootstrap, &group, &topic, obs.clone()).await);
    }
    // Both members in the group before the first record, so the warm-up
    // shows the healthy cluster.
    wait_assigned(&obs, members.len()).await;
    let producer = Arc::new(
        Producer::connect(client_config(&bootstrap), producer_config())
            .await
            .expect("producer"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let producing = produce(producer.clone(), topic.clone(), stop.clone());

    tokio::time::sleep(WARM_UP).await;
    let fault_at = Instant::now();
    if let Err(e) = fault(ctl.clone()).await {
        failures.push(format!("fault: {e}"));
    }
    tokio::time::sleep(COOL_DOWN).await;
    stop.store(true, Ordering::Release);
    let sent = producing.await.expect("producer task");
    let produced = sent.len();
    let (acked, latencies) = acknowledgements(sent, &mut failures).await;
    if let Err(e) = producer.close(Duration::from_secs(5)).await {
        failures.push(format!("producer close: {e}"));
    }
    drain_and_close(members, &obs, &acked).await;

    let read = {
        let (b, t, n) = (bootstrap.clone(), topic.clone(), acked.len());
        tokio::task::spawn_blocking(move || read_back(&b, &t, PARTITIONS, n))
            .await
            .expect("read back")
    };
    let commits =
        tokio::task::spawn_blocking(move || commits.finish(&bootstrap, &topic, PARTITIONS))
            .await
            .expect("commit watcher");
    client.close();
    let mut marks = lock(&ctl.marks).clone();
    if marks.is_empty() {
        marks.push(fault_at);
    }
    let (seen, events, errors) = (
        lock(&obs.seen).clone(),
        lock(&obs.events).clone(),
        lock(&obs.errors).clone(),
    );
    judge(Collected {
        name: name.to_owned(),
        started,
        produced,
        acked,
        latencies,
        read,
        commits,
        seen,
        events,
        errors,
        marks,
        failures,
    })
}

/// Awaits every delivery report: the acknowledged records and their
/// `(partition, enqueued, acknowledged)`; a record not acknowledged is a failure.
async fn acknowledgements(
    sent: Vec<Sent>,
    failures: &mut Vec<String>,
) -> (Vec<Acked>, Vec<(i32, Instant, Instant)>) {
    let mut acked = Vec::new();
    let mut latencies = Vec::new();
    for s in sent {
        let (value, at, done, r) = s.await.expect("delivery task");
        match r {
            Ok((partition, offset)) => {
                latencies.push((partition, at, done));
                acked.push(Acked {
                    value,
                    partition,
                    offset,
                });
            }
            Err(e) => failures.push(format!("{value} not acknowledged: {e}")),
        }
    }
    (acked, latencies)
}
