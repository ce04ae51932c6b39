//! `kafkit consume`: print records, like `kcat -C` (and `kcat -G` with a group).
//!
//! Without `-G` the command assigns itself every partition of the topics
//! (or `-p`'s) from `-o`'s position. With `-G` it joins the group, reads the
//! partitions the group assigns from the committed offsets (`-o beginning`
//! or `end` where nothing is committed), commits what it printed every 5 s
//! and, on exit, commits and leaves the group. Its session timeout is 10 s
//! (heartbeats every second) rather than the Java client's 45 s: a
//! command-line reader is short-lived, and if it dies its partitions should
//! move on soon. With `-X group.protocol=consumer` (KIP-848, Kafka 4.0+)
//! the coordinator assigns (`-X group.remote.assignor=uniform|range`) and
//! the session timeout and heartbeat interval are the broker's
//! (`group.consumer.*`).
//!
//! `-e` ends the command once every partition read has been printed up to
//! the high watermark of its latest fetch (with `-G`: every partition
//! assigned, once something is assigned). The check runs whenever the
//! consumer has nothing more to hand out: the fetcher's positions are read
//! first, then everything it had delivered is printed, so a partition
//! counts as finished only when the records it had fetched are out.
//!
//! Exit status: 0 when stopped by `-c`, `-e` or Ctrl-C; 1 when the consumer
//! could not start (unknown topic, unreachable cluster) or stopped on an
//! error.
//!
//! `--share-group NAME` reads as a member of a share group instead
//! (KIP-932; see the `share` module).

mod args;
mod format;
mod output;
mod printable;
mod share;

pub use args::{ConsumeArgs, StartOffset};

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent, OffsetReset};
use kafkit::producer::TopicPartition;
use kafkit::ClientConfig;
use tokio::sync::mpsc;

use output::Format;
use printable::Printable;

/// How often an idle consumer re-checks `-e` and flushes.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// Flush stdout once this much output is buffered.
pub(crate) const FLUSH_BYTES: usize = 64 * 1024;

/// Runs the command: `Ok(true)` on a clean stop, `Err` when it could not start.
pub async fn run(
    client: ClientConfig,
    args: ConsumeArgs,
    progress: Option<Duration>,
) -> Result<bool, String> {
    if let Some(group) = &args.share_group {
        let format = match (&args.format, args.json) {
            (Some(pieces), _) => Format::Custom(pieces.clone()),
            (None, true) => Format::Json,
            (None, false) => Format::Plain {
                key_delimiter: args.key_delimiter.clone(),
            },
        };
        return share::run(client, &args, group, format).await;
    }
    let start = args.start();
    let reset = match start {
        StartOffset::Beginning => OffsetReset::Earliest,
        // `stored` falls back to the end, as librdkafka's default does.
        _ => OffsetReset::Latest,
    };
    let config = match &args.group {
        Some(g) => ConsumerConfig::group(g.clone()),
        None => ConsumerConfig::default(),
    }
    .with_offset_reset(reset)
    .with_fetch_max_wait(Duration::from_millis(100))
    .with_session_timeout(Duration::from_secs(10))
    .with_heartbeat_interval(Duration::from_secs(1));
    // `-X group.protocol=consumer` (KIP-848) and `group.remote.assignor`.
    let mut config = crate::settings::consumer_config(config, &args.conn.settings);
    config.max_buffered_bytes = 16 * 1024 * 1024;
    let mut consumer = Consumer::connect(client, config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let events = consumer.events();
    let topics = args.all_topics();
    let started = match &args.group {
        Some(_) => consumer.subscribe(&topics).map_err(|e| e.to_string()),
        None => assign(&consumer, &topics, args.partition, start).await,
    };
    if let Err(e) = started {
        let _ = consumer.close().await;
        return Err(e);
    }
    let mut session = Session {
        format: match (&args.format, args.json) {
            (Some(pieces), _) => Format::Custom(pieces.clone()),
            (None, true) => Format::Json,
            (None, false) => Format::Plain {
                key_delimiter: args.key_delimiter.clone(),
            },
        },
        out: Vec::with_capacity(FLUSH_BYTES * 2),
        stdout: std::io::stdout(),
        printed: 0,
        limit: args.count,
        grouped: args.group.is_some(),
        assigned: BTreeSet::new(),
        events,
        failed: false,
        count: Arc::new(AtomicU64::new(0)),
    };
    let shown = crate::progress::start(progress, session.count.clone(), "consumed");
    let stop = session.consume(&mut consumer, args.exit_at_end).await;
    drop(shown);
    let flushed = session.flush();
    if let Err(e) = consumer.close().await {
        eprintln!("kafkit: close: {e}");
    }
    if !args.quiet {
        eprintln!(
            "kafkit: {} records consumed ({})",
            session.printed,
            stop.describe()
        );
    }
    Ok(flushed && !session.failed && stop != Stop::Failed)
}

/// Assigns every partition (or `only`) of `topics` from `start`.
async fn assign(
    consumer: &Consumer,
    topics: &[String],
    only: Option<i32>,
    start: StartOffset,
) -> Result<(), String> {
    let timeout = consumer.client().config().request_timeout;
    let mut partitions = Vec::new();
    for topic in topics {
        let meta = consumer
            .client()
            .topic(topic, timeout)
            .await
            .map_err(|e| format!("topic {topic}: {e}"))?;
        let ids: Vec<i32> = meta.partitions.iter().map(|p| p.partition).collect();
        if let Some(p) = only.filter(|p| !ids.contains(p)) {
            return Err(format!("topic {topic} has no partition {p}"));
        }
        for partition in ids.into_iter().filter(|p| only.is_none_or(|o| o == *p)) {
            partitions.push(TopicPartition {
                topic: topic.clone(),
                partition,
            });
        }
    }
    let list = match start {
        StartOffset::Absolute(o) => partitions.into_iter().map(|tp| (tp, Some(o))).collect(),
        StartOffset::FromEnd(n) => from_end(consumer, partitions, n).await?,
        StartOffset::Timestamp(ts) => at_time(consumer, partitions, ts).await?,
        _ => partitions.into_iter().map(|tp| (tp, None)).collect(),
    };
    consumer.assign(list).map_err(|e| e.to_string())
}

/// Start offsets at the first record at or after `ts` (`-o s@TS`); where
/// no record is that recent, the end (the reset policy's `Latest`).
async fn at_time(
    consumer: &Consumer,
    partitions: Vec<TopicPartition>,
    ts: i64,
) -> Result<Vec<(TopicPartition, Option<i64>)>, String> {
    let client = consumer.client();
    let mut starts = BTreeMap::new();
    for (leader, topics) in &by_leader(consumer, &partitions)? {
        starts.extend(crate::metadata::query(client, *leader, topics, ts).await?);
    }
    partitions
        .into_iter()
        .map(
            |tp| match starts.remove(&(tp.topic.clone(), tp.partition)) {
                Some(Ok(o)) => Ok((tp, (o >= 0).then_some(o))),
                Some(Err(e)) => Err(format!("{}/{}: {e}", tp.topic, tp.partition)),
                None => Err(format!("no offsets for {}/{}", tp.topic, tp.partition)),
            },
        )
        .collect()
}

/// `partitions` grouped by leader, for one ListOffsets per leader.
fn by_leader<'a>(
    consumer: &Consumer,
    partitions: &'a [TopicPartition],
) -> Result<BTreeMap<i32, BTreeMap<&'a str, Vec<i32>>>, String> {
    let meta = consumer.client().metadata();
    let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for tp in partitions {
        let leader = meta
            .leader(&tp.topic, tp.partition)
            .ok_or_else(|| format!("{}/{} has no leader", tp.topic, tp.partition))?;
        by_leader
            .entry(leader)
            .or_default()
            .entry(&tp.topic)
            .or_default()
            .push(tp.partition);
    }
    Ok(by_leader)
}

/// Start offsets `n` records before each partition's end (not before its start).
async fn from_end(
    consumer: &Consumer,
    partitions: Vec<TopicPartition>,
    n: i64,
) -> Result<Vec<(TopicPartition, Option<i64>)>, String> {
    use kafkit::protocol::messages::list_offsets::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
    let client = consumer.client();
    let mut starts = BTreeMap::new();
    for (leader, topics) in &by_leader(consumer, &partitions)? {
        let low = crate::metadata::query(client, *leader, topics, EARLIEST_TIMESTAMP).await?;
        let high = crate::metadata::query(client, *leader, topics, LATEST_TIMESTAMP).await?;
        for (key, h) in high {
            let (l, h) = (low.get(&key).cloned().unwrap_or(Ok(0))?, h?);
            starts.insert(key, h.saturating_sub(n).max(l));
        }
    }
    partitions
        .into_iter()
        .map(|tp| {
            let key = (tp.topic.clone(), tp.partition);
            match starts.get(&key) {
                Some(o) => Ok((tp, Some(*o))),
                None => Err(format!("no offsets for {}/{}", tp.topic, tp.partition)),
            }
        })
        .collect()
}

/// Why consuming stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Count,
    End,
    Interrupted,
    Closed,
    Failed,
}

impl Stop {
    fn describe(self) -> &'static str {
        match self {
            Stop::Count => "count reached",
            Stop::End => "end of partitions",
            Stop::Interrupted => "interrupted",
            Stop::Closed => "consumer closed",
            Stop::Failed => "stopped on an error",
        }
    }
}

/// What one step of the loop found.
enum Step {
    Continue,
    Idle,
    Done(Stop),
}

struct Session {
    format: Format,
    out: Vec<u8>,
    stdout: std::io::Stdout,
    printed: u64,
    limit: Option<u64>,
    grouped: bool,
    /// With a group: the partitions it assigned us.
    assigned: BTreeSet<TopicPartition>,
    events: Option<mpsc::UnboundedReceiver<ConsumerEvent>>,
    failed: bool,
    /// `printed`, for the progress line.
    count: Arc<AtomicU64>,
}

impl Session {
    async fn consume(&mut self, consumer: &mut Consumer, exit_at_end: bool) -> Stop {
        if self.limit == Some(0) {
            return Stop::Count;
        }
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        let mut idle = false;
        loop {
            let step = if idle {
                tokio::select! {
                    _ = &mut interrupt => return Stop::Interrupted,
                    r = consumer.recv() => self.take(consumer, r),
                    () = tokio::time::sleep(IDLE_CHECK) => Step::Idle,
                }
            } else {
                self.next_ready(consumer)
            };
            match step {
                Step::Done(stop) => return stop,
                Step::Continue => idle = false,
                Step::Idle => {
                    if !self.flush() {
                        return Stop::Closed;
                    }
                    if let Some(stop) = self.handle_events() {
                        return stop;
                    }
                    if exit_at_end {
                        match self.at_end(consumer).await {
                            Ok(true) => return Stop::End,
                            Ok(false) => {}
                            Err(stop) => return stop,
                        }
                    }
                    idle = true;
                }
            }
        }
    }

    /// The next record if one is ready now, else `Idle`.
    fn next_ready(&mut self, consumer: &mut Consumer) -> Step {
        // One poll with a no-op waker: the idle path polls again with the
        // task's waker before it sleeps.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let polled = std::pin::pin!(consumer.recv()).poll(&mut cx);
        match polled {
            std::task::Poll::Ready(r) => self.take(consumer, r),
            std::task::Poll::Pending => Step::Idle,
        }
    }

    fn take(
        &mut self,
        consumer: &mut Consumer,
        r: Option<kafkit::Result<kafkit::consumer::ConsumerRecord>>,
    ) -> Step {
        match r {
            None => Step::Done(Stop::Closed),
            Some(Err(e)) => {
                eprintln!("kafkit: {e}");
                self.failed = true;
                Step::Continue
            }
            Some(Ok(record)) => {
                let broker = consumer
                    .client()
                    .metadata()
                    .leader(&record.topic, record.partition)
                    .unwrap_or(-1);
                self.format
                    .write(&mut self.out, &Printable::of(&record, broker));
                consumer.mark_processed();
                self.printed += 1;
                self.count.store(self.printed, Ordering::Relaxed);
                if self.out.len() >= FLUSH_BYTES && !self.flush() {
                    return Step::Done(Stop::Closed);
                }
                if self.limit.is_some_and(|l| self.printed >= l) {
                    return Step::Done(Stop::Count);
                }
                Step::Continue
            }
        }
    }

    /// Writes the buffered output; `false` when stdout is gone (e.g. `| head`).
    fn flush(&mut self) -> bool {
        let mut stdout = self.stdout.lock();
        let r = stdout.write_all(&self.out).and_then(|()| stdout.flush());
        self.out.clear();
        match r {
            Ok(()) => true,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("kafkit: writing to stdout: {e}");
                    self.failed = true;
                }
                false
            }
        }
    }

    /// Follows the group's assignment; stops on a crash.
    fn handle_events(&mut self) -> Option<Stop> {
        let events = self.events.as_mut()?;
        while let Ok(event) = events.try_recv() {
            match event {
                ConsumerEvent::Assigned { partitions, .. } => self.assigned.extend(partitions),
                ConsumerEvent::Revoked { partitions } | ConsumerEvent::Lost { partitions, .. } => {
                    for p in &partitions {
                        self.assigned.remove(p);
                    }
                }
                // A broker that keeps closing the connection on a group
                // request is the library's warning (always on stderr).
                ConsumerEvent::Crashed { error, .. } => {
                    eprintln!("kafkit: consumer stopped: {error}");
                    return Some(Stop::Failed);
                }
                _ => {}
            }
        }
        None
    }

    /// Whether every partition has been printed up to its high watermark.
    async fn at_end(&mut self, consumer: &mut Consumer) -> Result<bool, Stop> {
        let positions = consumer.positions().await.map_err(|_| Stop::Closed)?;
        // Print whatever the fetcher delivered before answering.
        loop {
            match self.next_ready(consumer) {
                Step::Continue => {}
                Step::Idle => break,
                Step::Done(stop) => return Err(stop),
            }
        }
        if self.grouped
            && (self.assigned.is_empty()
                || !self.assigned.iter().all(|tp| positions.contains_key(tp)))
        {
            return Ok(false);
        }
        Ok(!positions.is_empty()
            && positions
                .values()
                .all(|(pos, hw)| *hw >= 0 && pos.is_some_and(|p| p >= *hw)))
    }
}
