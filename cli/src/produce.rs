//! `kafkit produce`: one record per line of stdin.
//!
//! The reading loop hands each record to [`Producer::enqueue`], which
//! returns as soon as the record is buffered (waiting only when the buffer
//! is full), so lines keep flowing while earlier batches are in flight. A
//! collector task awaits the delivery futures in order and counts the
//! outcomes. At end of input (or on the first Ctrl-C) the command waits for
//! every outstanding delivery, each bounded by the delivery timeout, then
//! closes the producer; a second Ctrl-C exits at once with status 130.
//!
//! With `--transactional-id` everything read goes into one transaction,
//! committed at end of input when every record was written; any failure (a
//! rejected or undelivered record, Ctrl-C, a failed commit) aborts it and
//! the command exits non-zero.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafkit::producer::{Acks, DeliveryFuture, Producer, ProducerRecord};
use kafkit::{ClientConfig, Error};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, Notify};

use crate::args::ProduceArgs;
use crate::settings;

/// How long `close` may take once every delivery has resolved.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Failures reported one by one before the rest are only counted.
const ERRORS_SHOWN: u64 = 5;

/// What happened to the records read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Records the broker acknowledged (or, with acks=0, that were sent).
    pub delivered: u64,
    /// Records that failed (rejected before sending, or never acknowledged).
    pub failed: u64,
}

/// How every line becomes a record.
#[derive(Debug, Clone)]
pub struct RecordTemplate {
    /// Topic.
    pub topic: String,
    /// Explicit partition, or `None` for the partitioner.
    pub partition: Option<i32>,
    /// Key delimiter (`-K`).
    pub key_delimiter: Option<Bytes>,
    /// Fixed key (`-k`).
    pub fixed_key: Option<Bytes>,
    /// Headers added to each record.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Whether empty keys and values become null (`-Z`).
    pub null_empty: bool,
}

impl RecordTemplate {
    /// The template the command-line arguments describe.
    pub fn from_args(args: &ProduceArgs) -> Self {
        Self {
            topic: args.topic.clone(),
            partition: (args.partition >= 0).then_some(args.partition),
            key_delimiter: args.key_delimiter.clone(),
            fixed_key: args.key.clone().map(Bytes::from),
            headers: args
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            null_empty: args.null_empty,
        }
    }

    /// The record for one line (without its trailing newline).
    pub fn record(&self, line: Bytes) -> ProducerRecord {
        let (key, value) = match (&self.key_delimiter, &self.fixed_key) {
            (Some(delim), _) => split_key(line, delim),
            (None, Some(key)) => (Some(key.clone()), line),
            (None, None) => (None, line),
        };
        let keep = |b: Bytes| (!(self.null_empty && b.is_empty())).then_some(b);
        let mut record = ProducerRecord::new(self.topic.clone());
        record.key = key.and_then(keep);
        record.value = keep(value);
        record.partition = self.partition;
        record.headers = self.headers.clone();
        record
    }
}

/// Splits `line` at the first `delim`: (key, value). No delimiter: no key.
pub fn split_key(mut line: Bytes, delim: &[u8]) -> (Option<Bytes>, Bytes) {
    let at = if delim.is_empty() {
        None
    } else {
        line.windows(delim.len()).position(|w| w == delim)
    };
    match at {
        Some(i) => {
            let key = line.split_to(i);
            let value = line.split_off(delim.len());
            (Some(key), value)
        }
        None => (None, line),
    }
}

/// One line's fate as the collector sees it.
enum Item {
    Pending(u64, DeliveryFuture),
    Rejected(u64, Error),
}

/// Runs the command: `Err` when the producer could not start.
pub async fn run(
    client: ClientConfig,
    args: ProduceArgs,
    progress: Option<Duration>,
) -> Result<Outcome, String> {
    let mut config = settings::producer_config(&args.conn.settings);
    if let Some(acks) = args.acks {
        config = config.with_acks(acks);
    }
    if let Some(codec) = args.compression {
        config = config.with_compression(codec);
    }
    if let Some(id) = &args.transactional_id {
        if args.acks.is_some_and(|a| a != Acks::All) {
            return Err("--transactional-id needs acks=all".to_owned());
        }
        config = config.with_transactional_id(id.clone());
    }
    let template = RecordTemplate::from_args(&args);
    let producer = Producer::connect(client, config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    if args.transactional_id.is_some() {
        if let Err(e) = begin(&producer).await {
            let _ = producer.close(CLOSE_TIMEOUT).await;
            return Err(format!("cannot start the transaction: {e}"));
        }
    }
    let (items, rx) = mpsc::unbounded_channel();
    let delivered = Arc::new(AtomicU64::new(0));
    let shown = crate::progress::start(progress, delivered.clone(), "delivered");
    let collector = tokio::spawn(collect(rx, delivered));
    let interrupted = interrupt_signal();
    let read = read_lines(&producer, &template, &items, &interrupted).await;
    drop(items);
    let mut outcome = collector.await.unwrap_or_else(|e| {
        eprintln!("kafkit: collector task failed: {e}");
        Outcome::default()
    });
    drop(shown);
    let complete = match read {
        Ok(complete) => complete,
        Err(e) => {
            eprintln!("kafkit: reading stdin failed: {e}");
            outcome.failed += 1;
            false
        }
    };
    if args.transactional_id.is_some() {
        finish(&producer, complete, &mut outcome).await;
    }
    if let Err(e) = producer.close(CLOSE_TIMEOUT).await {
        eprintln!("kafkit: close: {e}");
        outcome.failed = outcome.failed.max(1);
    }
    eprintln!(
        "kafkit: {} delivered, {} failed (topic {})",
        outcome.delivered, outcome.failed, template.topic
    );
    Ok(outcome)
}

/// `init_transactions` then `begin_transaction`.
async fn begin(producer: &Producer) -> kafkit::Result<()> {
    producer.init_transactions().await?;
    producer.begin_transaction().await
}

/// Commits the transaction if all of stdin was read and written, else (or
/// if the commit fails) aborts it; an aborted transaction delivered nothing.
async fn finish(producer: &Producer, complete: bool, outcome: &mut Outcome) {
    if complete && outcome.failed == 0 {
        match producer.commit_transaction().await {
            Ok(()) => {
                eprintln!("kafkit: transaction committed");
                return;
            }
            Err(e) => eprintln!("kafkit: commit failed: {e}"),
        }
    } else if !complete {
        eprintln!("kafkit: input not read to the end");
    }
    match producer.abort_transaction().await {
        Ok(()) => eprintln!(
            "kafkit: transaction aborted: none of its {} records is committed",
            outcome.delivered + outcome.failed
        ),
        Err(e) => eprintln!("kafkit: abort failed: {e}"),
    }
    outcome.failed = outcome.failed.max(1);
    outcome.delivered = 0;
}

/// Reads stdin until end of file or the first Ctrl-C, handing each line to
/// the producer; `true` if it reached the end of the input.
async fn read_lines(
    producer: &Producer,
    template: &RecordTemplate,
    items: &mpsc::UnboundedSender<Item>,
    interrupted: &Notify,
) -> std::io::Result<bool> {
    let mut stdin = BufReader::with_capacity(1 << 16, tokio::io::stdin());
    let mut stop = std::pin::pin!(interrupted.notified());
    for line_no in 1u64.. {
        let mut line = Vec::new();
        let n = tokio::select! {
            read = stdin.read_until(b'\n', &mut line) => read?,
            () = &mut stop => {
                eprintln!("kafkit: interrupted; waiting for outstanding deliveries (Ctrl-C again to quit now)");
                return Ok(false);
            }
        };
        if n == 0 {
            return Ok(true);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let item = match producer.enqueue(template.record(Bytes::from(line))).await {
            Ok(delivery) => Item::Pending(line_no, delivery),
            Err(e) => {
                let closed = matches!(e, Error::Closed);
                let _ = items.send(Item::Rejected(line_no, e));
                if closed {
                    return Ok(false);
                }
                continue;
            }
        };
        if items.send(item).is_err() {
            return Ok(false);
        }
    }
    Ok(false)
}

/// Awaits every delivery in order and counts; reports the first few failures.
async fn collect(mut rx: mpsc::UnboundedReceiver<Item>, delivered: Arc<AtomicU64>) -> Outcome {
    let mut outcome = Outcome::default();
    while let Some(item) = rx.recv().await {
        let (line, result) = match item {
            Item::Pending(line, delivery) => (line, delivery.await.map(|_| ())),
            Item::Rejected(line, e) => (line, Err(e)),
        };
        match result {
            Ok(()) => {
                outcome.delivered += 1;
                delivered.store(outcome.delivered, Ordering::Relaxed);
            }
            Err(e) => {
                outcome.failed += 1;
                if outcome.failed <= ERRORS_SHOWN {
                    eprintln!("kafkit: line {line}: {e}");
                }
                if outcome.failed == ERRORS_SHOWN + 1 {
                    eprintln!("kafkit: further failures are only counted");
                }
            }
        }
    }
    outcome
}

/// Notified on the first Ctrl-C; the second exits the process with status 130.
fn interrupt_signal() -> Arc<Notify> {
    let notify = Arc::new(Notify::new());
    let signalled = notify.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            signalled.notify_one();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    notify
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> RecordTemplate {
        RecordTemplate {
            topic: "t".into(),
            partition: None,
            key_delimiter: Some(Bytes::from_static(b":")),
            fixed_key: None,
            headers: vec![("src".into(), Some(Bytes::from_static(b"cli")))],
            null_empty: false,
        }
    }

    #[test]
    fn key_is_what_precedes_the_first_delimiter() {
        let split = |line: &'static [u8], d: &[u8]| split_key(Bytes::from_static(line), d);
        assert_eq!(split(b"k:v:w", b":"), (Some("k".into()), "v:w".into()));
        assert_eq!(split(b":v", b":"), (Some("".into()), "v".into()));
        assert_eq!(split(b"k:", b":"), (Some("k".into()), "".into()));
        assert_eq!(split(b"no key", b":"), (None, "no key".into()));
        assert_eq!(split(b"a::b::c", b"::"), (Some("a".into()), "b::c".into()));
        assert_eq!(split(b"a:b", b""), (None, "a:b".into()));
    }

    #[test]
    fn records_carry_key_value_partition_and_headers() {
        let r = template().record(Bytes::from_static(b"user-1:hello: world"));
        assert_eq!(r.topic, "t");
        assert_eq!(r.key.as_deref(), Some(&b"user-1"[..]));
        assert_eq!(r.value.as_deref(), Some(&b"hello: world"[..]));
        assert_eq!(r.partition, None);
        assert_eq!(
            r.headers,
            vec![("src".to_owned(), Some(Bytes::from_static(b"cli")))]
        );

        let fixed = RecordTemplate {
            key_delimiter: None,
            fixed_key: Some(Bytes::from_static(b"k")),
            partition: Some(3),
            ..template()
        };
        let r = fixed.record(Bytes::from_static(b"a:b"));
        assert_eq!(
            (r.key.as_deref(), r.value.as_deref()),
            (Some(&b"k"[..]), Some(&b"a:b"[..]))
        );
        assert_eq!(r.partition, Some(3));
    }

    #[test]
    fn empty_fields_are_empty_unless_z_makes_them_null() {
        let r = template().record(Bytes::from_static(b":"));
        assert_eq!(
            (r.key.as_deref(), r.value.as_deref()),
            (Some(&b""[..]), Some(&b""[..]))
        );
        let z = RecordTemplate {
            null_empty: true,
            ..template()
        };
        let r = z.record(Bytes::from_static(b":"));
        assert_eq!((r.key, r.value), (None, None));
        let r = z.record(Bytes::from_static(b"k:v"));
        assert_eq!(
            (r.key.as_deref(), r.value.as_deref()),
            (Some(&b"k"[..]), Some(&b"v"[..]))
        );
    }
}
