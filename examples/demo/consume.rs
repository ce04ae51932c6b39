//! The demo's consume half: a group of consumers reading what the producer
//! sent, with auto-commit, reporting lag and throughput, and accounting for
//! every acknowledged record: read, removed by the broker's retention (below
//! its partition's log start offset), or lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::admin::{Admin, OffsetSpec, TopicPartition};
use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::ClientConfig;
use tokio::sync::watch;

use super::{BoxError, Settings, Written};

/// What the consumer tasks share with the reporter.
struct Progress {
    /// Per record index: how many times a consumer read it.
    seen: Vec<AtomicU8>,
    /// Acknowledged records read at least once.
    distinct: AtomicU64,
    /// Every record read, this run's or not.
    total: AtomicU64,
    /// Bytes of key and value read.
    bytes: AtomicU64,
    /// Records of this run read more than once.
    duplicates: AtomicU64,
    /// Each consumer's lag, as it last measured it.
    lag: Vec<AtomicI64>,
    /// When the first record arrived.
    first: std::sync::OnceLock<Instant>,
}

/// What one consumer did.
struct Report {
    read: u64,
    partitions: BTreeSet<i32>,
    rebalances: u32,
}

/// Each partition's log start offset, as ListOffsets (earliest) last said.
struct LogStart {
    admin: Admin,
    partitions: Vec<TopicPartition>,
    start: BTreeMap<i32, i64>,
}

impl LogStart {
    async fn connect(
        bootstrap: &str,
        topic: &str,
        delivered: &[Written],
    ) -> Result<Self, BoxError> {
        let partitions: BTreeSet<i32> = delivered.iter().flatten().map(|(p, _)| *p).collect();
        let admin = Admin::connect(ClientConfig::new([bootstrap]))
            .await?
            .with_timeout(Duration::from_secs(5));
        Ok(Self {
            admin,
            partitions: partitions
                .into_iter()
                .map(|partition| TopicPartition {
                    topic: topic.to_owned(),
                    partition,
                })
                .collect(),
            start: BTreeMap::new(),
        })
    }

    /// Asks again; a partition whose lookup fails keeps its last answer.
    async fn refresh(&mut self) {
        match self
            .admin
            .list_offsets(&self.partitions, OffsetSpec::Earliest)
            .await
        {
            Ok(rows) => {
                for (tp, r) in rows {
                    match r {
                        Ok(o) => {
                            self.start.insert(tp.partition, o.offset);
                        }
                        Err(e) => eprintln!("log start offset of partition {}: {e}", tp.partition),
                    }
                }
            }
            Err(e) => eprintln!("log start offsets: {e}"),
        }
    }

    /// Whether the broker removed the record at `offset` of `partition`.
    fn removed(&self, (partition, offset): (i32, i64)) -> bool {
        self.start
            .get(&partition)
            .is_some_and(|start| offset < *start)
    }
}

/// Where the acknowledged records are: read, removed unread, lost.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    read: u64,
    removed: u64,
    lost: u64,
}

impl Tally {
    fn count(progress: &Progress, delivered: &[Written], log: &LogStart) -> Self {
        let mut t = Self::default();
        for (written, seen) in delivered.iter().zip(&progress.seen) {
            let Some(at) = written else { continue };
            if seen.load(Ordering::Acquire) > 0 {
                t.read += 1;
            } else if log.removed(*at) {
                t.removed += 1;
            } else {
                t.lost += 1;
            }
        }
        t
    }
}

/// Reads the topic with `s.consumers` group members until every record in
/// `delivered` has been read or removed by the broker's retention (or the
/// timeout); fails if one is lost.
pub async fn run(bootstrap: &str, s: &Settings, delivered: Vec<Written>) -> Result<(), BoxError> {
    let wanted = delivered.iter().flatten().count() as u64;
    let mut log = LogStart::connect(bootstrap, &s.topic, &delivered).await?;
    log.refresh().await;
    let group = format!("kafkit-demo-{}", s.run);
    println!(
        "\nconsuming with {} consumers in group {group} (auto-commit every second)",
        s.consumers
    );
    let progress = Arc::new(Progress {
        seen: (0..delivered.len()).map(|_| AtomicU8::new(0)).collect(),
        distinct: AtomicU64::new(0),
        total: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        lag: (0..s.consumers).map(|_| AtomicI64::new(-1)).collect(),
        first: std::sync::OnceLock::new(),
    });
    let delivered = Arc::new(delivered);
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..s.consumers {
        let mut consumer = Consumer::connect(
            ClientConfig::new([bootstrap]),
            ConsumerConfig::group(group.clone())
                .from_beginning()
                .with_auto_commit_interval(Duration::from_secs(1))
                .with_session_timeout(Duration::from_secs(10))
                .with_heartbeat_interval(Duration::from_secs(1))
                .with_fetch_max_wait(Duration::from_millis(100)),
        )
        .await?;
        consumer.subscribe(&[&s.topic])?;
        let member = Member {
            id,
            run: format!("{}:", s.run),
            progress: progress.clone(),
            delivered: delivered.clone(),
        };
        tasks.push(tokio::spawn(member.consume(consumer, stop.clone())));
    }

    let deadline = started + s.timeout;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = (Instant::now(), 0u64);
    // Records removed unread, as of the last look at the log start offsets.
    let mut removed = Tally::count(&progress, &delivered, &log).removed;
    let settled = |removed: u64| progress.distinct.load(Ordering::Acquire) + removed >= wanted;
    println!("\n  time   read total   records/s     MB/s   group lag");
    while !settled(removed) && Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {
                log.refresh().await;
                removed = Tally::count(&progress, &delivered, &log).removed;
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                // Finish promptly once the last record is in.
                if !settled(removed) {
                    continue;
                }
            }
        }
        let total = progress.total.load(Ordering::Acquire);
        let now = Instant::now();
        let rate = (total - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
        let lags: Vec<i64> = progress
            .lag
            .iter()
            .map(|l| l.load(Ordering::Acquire))
            .collect();
        let lag = if lags.iter().all(|l| *l < 0) {
            "-".to_owned()
        } else {
            lags.iter().filter(|l| **l >= 0).sum::<i64>().to_string()
        };
        println!(
            "{:>5.1}s {:>12} {:>11.0} {:>8.1} {:>11}",
            started.elapsed().as_secs_f64(),
            total,
            rate,
            rate * (progress.bytes.load(Ordering::Acquire) as f64 / total.max(1) as f64) / 1e6,
            lag
        );
        last = (now, total);
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(true);
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await??);
    }
    log.refresh().await;
    let tally = Tally::count(&progress, &delivered, &log);
    log.admin.close();
    summarize(&progress, &reports, elapsed, wanted, tally)
}

fn summarize(
    progress: &Progress,
    reports: &[Report],
    elapsed: Duration,
    wanted: u64,
    tally: Tally,
) -> Result<(), BoxError> {
    let total = progress.total.load(Ordering::Acquire);
    let bytes = progress.bytes.load(Ordering::Acquire);
    let reading = progress
        .first
        .get()
        .map_or(elapsed, |t| t.elapsed())
        .as_secs_f64();
    println!(
        "\n{total} records read in {:.2} s ({:.2} s from the first record): {:.0} records/s, {:.1} MB/s",
        elapsed.as_secs_f64(),
        reading,
        total as f64 / reading,
        bytes as f64 / reading / 1e6
    );
    println!("\nconsumer  records  rebalances  partitions");
    for (id, r) in reports.iter().enumerate() {
        let parts: Vec<String> = r.partitions.iter().map(i32::to_string).collect();
        println!(
            "{id:>8}  {:>7}  {:>10}  {}",
            r.read,
            r.rebalances,
            parts.join(",")
        );
    }
    let duplicates = progress.duplicates.load(Ordering::Acquire);
    let Tally {
        read,
        removed,
        lost,
    } = tally;
    println!(
        "\n{read} of {wanted} acknowledged records read, {removed} removed by the broker's retention before they were read (below the log start offset), {lost} lost, {duplicates} read twice (redelivered after a rebalance)"
    );
    if lost > 0 {
        return Err(format!(
            "{lost} acknowledged records at or above their partition's log start offset were never read"
        )
        .into());
    }
    Ok(())
}

struct Member {
    id: usize,
    /// `<run>:`, the prefix of this run's `demo` headers.
    run: String,
    progress: Arc<Progress>,
    delivered: Arc<Vec<Written>>,
}

impl Member {
    /// Reads until told to stop, then closes (committing what it read).
    async fn consume(
        self,
        mut consumer: Consumer,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Report, kafkit::Error> {
        let mut events = consumer.events();
        let mut report = Report {
            read: 0,
            partitions: BTreeSet::new(),
            rebalances: 0,
        };
        let mut lag_tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                r = consumer.recv() => match r {
                    Some(Ok(record)) => {
                        report.read += 1;
                        report.partitions.insert(record.partition);
                        self.note(&record);
                    }
                    Some(Err(e)) => eprintln!("consumer {}: {e}", self.id),
                    None => break,
                },
                Some(event) = recv_event(&mut events) => match event {
                    ConsumerEvent::Assigned { .. } => report.rebalances += 1,
                    // What explains a stall or a re-read: said as it happens.
                    ConsumerEvent::Rebalancing { .. } if report.rebalances == 0 => {}
                    ConsumerEvent::Rebalancing { .. }
                    | ConsumerEvent::Lost { .. }
                    | ConsumerEvent::Disconnected { .. }
                    | ConsumerEvent::RequestDropped(_)
                    | ConsumerEvent::Crashed { .. } => eprintln!("consumer {}: {event:?}", self.id),
                    _ => {}
                },
                _ = lag_tick.tick() => {
                    // -1 until the group has assigned this member something.
                    let lags = consumer.lag().await?;
                    let lag = if lags.is_empty() { -1 } else { lags.values().sum() };
                    self.progress.lag[self.id].store(lag, Ordering::Release);
                }
                _ = stop.changed() => break,
            }
        }
        consumer.close().await?;
        Ok(report)
    }

    fn note(&self, record: &kafkit::consumer::ConsumerRecord) {
        let p = &self.progress;
        p.first.get_or_init(Instant::now);
        p.total.fetch_add(1, Ordering::AcqRel);
        let size = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len());
        p.bytes.fetch_add(size as u64, Ordering::AcqRel);
        let Some(tag) = record.header("demo") else {
            return; // an older run's record
        };
        let index = std::str::from_utf8(&tag)
            .ok()
            .and_then(|t| t.strip_prefix(self.run.as_str()))
            .and_then(|i| i.parse::<usize>().ok());
        let Some(i) = index else { return };
        let Some(slot) = p.seen.get(i) else { return };
        if slot.fetch_add(1, Ordering::AcqRel) == 0 {
            if self.delivered.get(i).is_some_and(Option::is_some) {
                p.distinct.fetch_add(1, Ordering::AcqRel);
            }
        } else {
            p.duplicates.fetch_add(1, Ordering::AcqRel);
        }
    }
}

async fn recv_event(
    events: &mut Option<tokio::sync::mpsc::UnboundedReceiver<ConsumerEvent>>,
) -> Option<ConsumerEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
