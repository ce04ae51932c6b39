//! Group members for the group interop tests: kafkit consumers (each in its
//! own task) and librdkafka consumers (each in its own thread), all polling
//! all the time and recording what they read into one shared log, plus a
//! view of the group built from their events, to wait on instead of sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot, watch};

/// One record a member read.
#[derive(Debug, Clone)]
pub struct Read {
    pub member: usize,
    pub partition: i32,
    pub offset: i64,
    pub value: String,
    pub at: Instant,
}

/// Everything every member read, in arrival order.
pub type ReadLog = Arc<Mutex<Vec<Read>>>;

fn log(reads: &ReadLog, read: Read) {
    reads.lock().unwrap_or_else(|p| p.into_inner()).push(read);
}

/// A snapshot of the log.
pub fn reads(log: &ReadLog) -> Vec<Read> {
    log.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The group settings every test member uses: short session (the mock waits
/// a session timeout minus one second before starting each generation).
pub fn kafkit_config(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_session_timeout(Duration::from_secs(4))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(100))
}

/// A kafkit consumer running in its own task.
pub struct KafkitMember {
    stop: watch::Sender<bool>,
    commits: mpsc::UnboundedSender<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl KafkitMember {
    /// Connects, subscribes to `topic` and consumes into `reads`; its events
    /// go to `events` tagged with `id`.
    pub async fn spawn(
        id: usize,
        bootstrap: &str,
        topic: &str,
        config: ConsumerConfig,
        reads: ReadLog,
        events: mpsc::UnboundedSender<(usize, ConsumerEvent, Instant)>,
    ) -> Self {
        let mut consumer = Consumer::connect(ClientConfig::new([bootstrap]), config)
            .await
            .expect("kafkit consumer");
        let mut ev = consumer.events().expect("events");
        consumer.subscribe(&[topic]).expect("subscribe");
        let (stop, mut stopped) = watch::channel(false);
        let (commits, mut commit_rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = consumer.recv() => match r {
                        Some(Ok(r)) => {
                            log(&reads, Read {
                                member: id,
                                partition: r.partition,
                                offset: r.offset,
                                value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
                                at: Instant::now(),
                            });
                            consumer.mark_processed();
                        }
                        Some(Err(e)) => panic!("member {id}: {e}"),
                        None => break,
                    },
                    Some(e) = ev.recv() => { let _ = events.send((id, e, Instant::now())); }
                    Some(done) = commit_rx.recv() => {
                        consumer.commit().await.expect("commit");
                        let _ = done.send(());
                    }
                    _ = stopped.changed() => break,
                }
            }
            consumer.close().await.expect("close");
            while let Ok(e) = ev.try_recv() {
                let _ = events.send((id, e, Instant::now()));
            }
        });
        Self {
            stop,
            commits,
            task,
        }
    }

    /// Commits everything read so far (synchronously).
    pub async fn commit(&self) {
        let (tx, rx) = oneshot::channel();
        self.commits.send(tx).expect("member running");
        tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("commit in time")
            .expect("committed");
    }

    /// Drops the consumer without closing it (no commit, no LeaveGroup), as
    /// a crashed process would: the group notices when its session expires.
    pub fn crash(self) {
        self.task.abort();
    }

    /// Closes the consumer (commit, LeaveGroup) and waits for it.
    pub async fn leave(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("member closes in time")
            .expect("member task");
    }
}

/// A librdkafka consumer polling in its own thread.
pub struct RdMember {
    stop: Arc<AtomicBool>,
    /// Set to ask the thread for a synchronous commit; cleared when done.
    commit: Arc<AtomicBool>,
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RdMember {
    /// Subscribes with `strategy`; `instance` is its `group.instance.id`.
    pub fn spawn(
        id: usize,
        bootstrap: &str,
        group: &str,
        topic: &str,
        strategy: &str,
        instance: Option<&str>,
        reads: ReadLog,
    ) -> Self {
        let session = Duration::from_secs(4);
        Self::spawn_with(
            id,
            bootstrap,
            (group, topic, strategy),
            instance,
            session,
            reads,
        )
    }

    /// [`RdMember::spawn`] with another session timeout (Apache Kafka
    /// refuses one under its `group.min.session.timeout.ms`, 6 s).
    pub fn spawn_with(
        id: usize,
        bootstrap: &str,
        (group, topic, strategy): (&str, &str, &str),
        instance: Option<&str>,
        session: Duration,
        reads: ReadLog,
    ) -> Self {
        let mut cfg = RdConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("partition.assignment.strategy", strategy)
            .set("session.timeout.ms", session.as_millis().to_string())
            .set("heartbeat.interval.ms", "300")
            .set("auto.offset.reset", "earliest")
            .set("auto.commit.interval.ms", "200")
            .set("fetch.wait.max.ms", "100");
        if let Some(i) = instance {
            cfg.set("group.instance.id", i);
        }
        let consumer: BaseConsumer = cfg.create().expect("rdkafka consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let commit = Arc::new(AtomicBool::new(false));
        let (s, a, c) = (stop.clone(), assignment.clone(), commit.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                if c.load(Ordering::Acquire) {
                    // NoOffset: auto-commit already stored everything read.
                    match consumer.commit_consumer_state(CommitMode::Sync) {
                        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                        Err(e) => panic!("rdkafka commit: {e}"),
                    }
                    c.store(false, Ordering::Release);
                }
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(20)) {
                    log(
                        &reads,
                        Read {
                            member: id,
                            partition: m.partition(),
                            offset: m.offset(),
                            value: String::from_utf8_lossy(m.payload().unwrap_or_default())
                                .into_owned(),
                            at: Instant::now(),
                        },
                    );
                }
                if let Ok(tpl) = consumer.assignment() {
                    *a.lock().unwrap_or_else(|p| p.into_inner()) =
                        tpl.elements().iter().map(|e| e.partition()).collect();
                }
            }
        });
        Self {
            stop,
            commit,
            assignment,
            thread: Some(thread),
        }
    }

    /// Commits what it has read (synchronously, from its polling thread).
    pub async fn commit(&self) {
        self.commit.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.commit.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "librdkafka commit in time");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The partitions librdkafka says it owns.
    pub fn assignment(&self) -> BTreeSet<i32> {
        self.assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for RdMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The group as its kafkit members' events describe it.
#[derive(Debug, Default)]
pub struct GroupView {
    /// Per kafkit member: owned partitions.
    pub owned: BTreeMap<usize, BTreeSet<i32>>,
    /// Per kafkit member: the generation of its latest assignment.
    pub generation: BTreeMap<usize, i32>,
    /// Every event, in order.
    pub events: Vec<(usize, ConsumerEvent, Instant)>,
}

impl GroupView {
    pub fn apply(&mut self, (id, event, at): (usize, ConsumerEvent, Instant)) {
        let owned = self.owned.entry(id).or_default();
        match &event {
            ConsumerEvent::Assigned {
                partitions,
                generation_id,
            } => {
                owned.extend(partitions.iter().map(|p| p.partition));
                self.generation.insert(id, *generation_id);
            }
            ConsumerEvent::Revoked { partitions } | ConsumerEvent::Lost { partitions, .. } => {
                for p in partitions {
                    owned.remove(&p.partition);
                }
            }
            _ => {}
        }
        self.events.push((id, event, at));
    }

    /// Forgets a member that left.
    pub fn remove(&mut self, id: usize) {
        self.owned.remove(&id);
        self.generation.remove(&id);
    }

    /// Events of one member.
    pub fn of(&self, id: usize) -> impl Iterator<Item = &(usize, ConsumerEvent, Instant)> {
        self.events.iter().filter(move |(m, _, _)| *m == id)
    }
}

/// Waits until the kafkit members `ids` (all on the same generation) and the
/// librdkafka members together own each of `partitions` partitions exactly
/// once, and nothing changed for a second. Returns each member's partitions
/// (kafkit ones first, by id, then librdkafka ones).
pub async fn settle(
    view: &mut GroupView,
    events: &mut mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>,
    ids: &[usize],
    rd: &[&RdMember],
    partitions: i32,
) -> Vec<BTreeSet<i32>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut settled_since: Option<Instant> = None;
    loop {
        let mut all: Vec<BTreeSet<i32>> = ids
            .iter()
            .map(|id| view.owned.get(id).cloned().unwrap_or_default())
            .collect();
        all.extend(rd.iter().map(|m| m.assignment()));
        let gens: BTreeSet<Option<&i32>> = ids.iter().map(|id| view.generation.get(id)).collect();
        let total: usize = all.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = all.iter().flatten().copied().collect();
        let ok = (ids.is_empty() || (gens.len() == 1 && !gens.contains(&None)))
            && total == union.len()
            && union == (0..partitions).collect();
        settled_since = if ok {
            settled_since.or(Some(Instant::now()))
        } else {
            None
        };
        if settled_since.is_some_and(|t| t.elapsed() >= Duration::from_secs(1)) {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "group did not settle: {all:?}, generations {:?}, events {:#?}",
            view.generation,
            view.events
        );
        // Wake on the next event, or re-check the librdkafka members shortly.
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
            settled_since = None;
            view.apply(e);
        }
    }
}

/// Each value in `read` read exactly once, and only by the member owning
/// its partition (`owners`: partitions per member id).
pub fn check_once_by_owner(read: &[Read], owners: &BTreeMap<usize, BTreeSet<i32>>) {
    let mut seen = BTreeSet::new();
    for r in read {
        assert!(seen.insert(r.value.clone()), "{} read twice", r.value);
        assert!(
            owners
                .get(&r.member)
                .is_some_and(|o| o.contains(&r.partition)),
            "member {} read partition {} it does not own ({owners:?})",
            r.member,
            r.partition
        );
    }
}

/// Waits until `log` holds a read of every value in `values` (60 s at most).
pub async fn await_reads(log: &ReadLog, values: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: BTreeSet<String> = reads(log).into_iter().map(|r| r.value).collect();
        let missing = values.difference(&seen).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} records never read",
            values.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes values `"<prefix><i>"` for `range`, keyed `k<i>`; returns the values.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> BTreeSet<String> {
    let producer = Producer::connect(ClientConfig::new([bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    let values: Vec<String> = range.clone().map(|i| format!("{prefix}{i}")).collect();
    let records: Vec<ProducerRecord> = range
        .zip(values.iter().cloned())
        .map(|(i, v)| ProducerRecord::new(topic).key(format!("k{i}")).value(v))
        .collect();
    producer.send_all(records).await.expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");
    values.into_iter().collect()
}

/// The group's committed offsets per partition, as librdkafka reads them
/// (OffsetFetch; the reader does not join the group).
pub fn committed_by_librdkafka(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, Option<i64>> {
    let reader: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("rdkafka reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = reader
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    got.elements()
        .iter()
        .map(|e| {
            let o = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            (e.partition(), o)
        })
        .collect()
}
