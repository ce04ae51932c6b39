//! The demo's consume half: a group of consumers reading what the producer
//! sent, with auto-commit, reporting lag and throughput.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::ClientConfig;
use tokio::sync::watch;

use super::{BoxError, Settings};

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

/// Reads the topic with `s.consumers` group members until every record in
/// `delivered` has been read (or the timeout); fails if one is missing.
pub async fn run(bootstrap: &str, s: &Settings, delivered: Vec<bool>) -> Result<(), BoxError> {
    let wanted = delivered.iter().filter(|d| **d).count() as u64;
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
    println!("\n  time   read total   records/s     MB/s   group lag");
    while progress.distinct.load(Ordering::Acquire) < wanted && Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                // Finish promptly once the last record is in.
                if progress.distinct.load(Ordering::Acquire) < wanted {
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
    summarize(&progress, &delivered, &reports, elapsed, wanted)
}

fn summarize(
    progress: &Progress,
    delivered: &[bool],
    reports: &[Report],
    elapsed: Duration,
    wanted: u64,
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
    let missing = delivered
        .iter()
        .zip(&progress.seen)
        .filter(|(d, seen)| **d && seen.load(Ordering::Acquire) == 0)
        .count();
    let duplicates = progress.duplicates.load(Ordering::Acquire);
    println!(
        "\n{} of {wanted} acknowledged records read, {missing} missing, {duplicates} read twice (redelivered after a rebalance)",
        progress.distinct.load(Ordering::Acquire)
    );
    if missing > 0 {
        return Err(format!("{missing} acknowledged records were never read").into());
    }
    Ok(())
}

struct Member {
    id: usize,
    /// `<run>:`, the prefix of this run's `demo` headers.
    run: String,
    progress: Arc<Progress>,
    delivered: Arc<Vec<bool>>,
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
                Some(event) = recv_event(&mut events) => {
                    if matches!(event, ConsumerEvent::Assigned { .. }) {
                        report.rebalances += 1;
                    }
                }
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
            if self.delivered.get(i) == Some(&true) {
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
