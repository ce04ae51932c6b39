//! A listener on a share group (KIP-932): one async handler over the
//! records a [`ShareConsumer`] acquires, with the broker doing the retries.
//!
//! ```no_run
//! use kafkit::listener::{DeadLetter, ShareListener};
//! use kafkit::share::{ShareConsumerConfig, ShareRecord};
//! use kafkit::ClientConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = ShareListener::builder(
//!     ClientConfig::new(["localhost:9092"]),
//!     ShareConsumerConfig::new("billing"),
//!     ["orders"],
//!     |record: ShareRecord| async move {
//!         if record.value.as_deref().unwrap_or_default().is_empty() {
//!             return Err("empty order".into()); // released, redelivered by the broker
//!         }
//!         Ok(())
//!     },
//! )
//! .max_deliveries(3)
//! .dead_letter(DeadLetter::default_topic()) // orders.dlt, else Reject
//! .run();
//! # listener.shutdown(std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! - `Ok` → the record is **accepted** (done for the whole group).
//! - `Err` → the record is **released**: the broker makes it available
//!   again with a higher delivery count, to this member or another one,
//!   while the partition's other records keep flowing (no pause, no
//!   head-of-line blocking; there is no client-side backoff).
//! - A record whose delivery count reached [`max_deliveries`] (or a
//!   [`HandlerError::permanent`] failure, or a panic on the last delivery)
//!   goes to the [`DeadLetter`] destination and is then accepted; with
//!   [`DeadLetter::Skip`] it is **rejected** (archived, never redelivered).
//! - The broker stops redelivering by itself after
//!   `group.share.delivery.count.limit` deliveries (5 by default): keep
//!   [`max_deliveries`] at or below it, or the last deliveries never happen.
//! - Every outcome is reported as a [`ShareListenerEvent::Handled`].
//! - A handler may run longer than the acquisition lock: while it runs,
//!   the listener renews the locks of its record and of the records of
//!   the same poll still waiting (KIP-1222 `Renew`, every half lock;
//!   brokers from Kafka 4.2), so no other member gets them meanwhile.
//!   [`renew_locks(false)`](ShareListenerBuilder::renew_locks) turns it off.
//!
//! The listener owns one background task (the consumer loop), stopped by
//! [`ShareListener::shutdown`], which closes the consumer (releasing what
//! it still holds).
//!
//! [`max_deliveries`]: ShareListenerBuilder::max_deliveries
//!
//! Spec: KIP-932 (acknowledge types, delivery counts), KIP-1222 (lock
//! renewal).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinHandle};
use tracing::debug;

use super::dead_letter::dead_letter_record;
use super::{DeadLetter, HandlerError, HandlerResult, ListenerError};
use crate::config::ClientConfig;
use crate::error::Result;
use crate::producer::{Producer, ProducerConfig};
use crate::share::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareRecord,
};

/// Handles one acquired record of a share group.
///
/// Implemented by every `Fn(ShareRecord) -> impl Future<Output =
/// HandlerResult>` closure; [`ShareRecord`] derefs to the
/// [`ConsumerRecord`](crate::consumer::ConsumerRecord) and carries the
/// broker's delivery count.
pub trait ShareHandler: Send + Sync + 'static {
    /// Handles one record; `Err` asks the broker for a redelivery.
    fn handle(&self, record: ShareRecord) -> impl Future<Output = HandlerResult> + Send;
}

impl<F, Fut> ShareHandler for F
where
    F: Fn(ShareRecord) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn handle(&self, record: ShareRecord) -> impl Future<Output = HandlerResult> + Send {
        self(record)
    }
}

/// What became of a handled record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareOutcome {
    /// The handler succeeded: accepted.
    Accepted,
    /// The handler failed: released for redelivery.
    Released,
    /// Out of deliveries, no dead-letter topic: rejected (archived).
    Rejected,
    /// Out of deliveries: written to this topic, then accepted.
    DeadLettered(String),
}

/// What a [`ShareListener`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareListenerEvent {
    /// A record was handled.
    Handled {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// The broker's delivery count of this delivery (1 the first time).
        delivery_count: i16,
        /// What was done with it.
        outcome: ShareOutcome,
        /// The handler's error, rendered, when it failed.
        error: Option<String>,
    },
    /// The loop ended (shutdown or an error, given here).
    Stopped {
        /// The error that ended it, if any.
        error: Option<String>,
    },
}

/// Builds a [`ShareListener`].
#[must_use = "call run() to start the listener"]
pub struct ShareListenerBuilder<H> {
    client: ClientConfig,
    config: ShareConsumerConfig,
    topics: Vec<String>,
    handler: Arc<H>,
    max_deliveries: u32,
    dead_letter: DeadLetter,
    producer: ProducerConfig,
    renew_locks: bool,
}

impl<H: ShareHandler> ShareListenerBuilder<H> {
    /// Whether the acquisition locks of the records in hand are renewed
    /// while a handler runs (default on; a broker older than Kafka 4.2
    /// cannot renew, and then the records of a handler slower than the lock
    /// go to other members as before).
    pub fn renew_locks(mut self, on: bool) -> Self {
        self.renew_locks = on;
        self
    }

    /// Deliveries (the broker's count) before a failing record goes to the
    /// dead-letter destination; default 3, at least 1.
    pub fn max_deliveries(mut self, n: u32) -> Self {
        self.max_deliveries = n.max(1);
        self
    }

    /// Where records out of deliveries go; [`DeadLetter::Skip`] (default)
    /// rejects them.
    pub fn dead_letter(mut self, dead_letter: DeadLetter) -> Self {
        self.dead_letter = dead_letter;
        self
    }

    /// The producer writing dead letters.
    pub fn dead_letter_producer(mut self, config: ProducerConfig) -> Self {
        self.producer = config;
        self
    }

    /// Starts the listener's task.
    pub fn run(self) -> ShareListener {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_loop(self, stop_rx, events_tx));
        ShareListener {
            task: Some(task),
            stop: stop_tx,
            events: Some(events_rx),
        }
    }
}

/// A running listener on a share group (see the module doc).
pub struct ShareListener {
    task: Option<JoinHandle<Result<()>>>,
    stop: watch::Sender<bool>,
    events: Option<mpsc::UnboundedReceiver<ShareListenerEvent>>,
}

impl ShareListener {
    /// A builder: `handler` runs for every record of `topics` in `config`'s
    /// share group (acknowledged explicitly by the listener).
    pub fn builder<H, I, S>(
        client: ClientConfig,
        config: ShareConsumerConfig,
        topics: I,
        handler: H,
    ) -> ShareListenerBuilder<H>
    where
        H: ShareHandler,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ShareListenerBuilder {
            client,
            config: config.with_acknowledgement_mode(AcknowledgementMode::Explicit),
            topics: topics.into_iter().map(Into::into).collect(),
            handler: Arc::new(handler),
            max_deliveries: 3,
            dead_letter: DeadLetter::Skip,
            producer: ProducerConfig::default(),
            renew_locks: true,
        }
    }

    /// The event stream (taken once).
    pub fn events(&mut self) -> Option<mpsc::UnboundedReceiver<ShareListenerEvent>> {
        self.events.take()
    }

    /// Stops the loop after the record in hand, closes the consumer
    /// (releasing what it holds) and waits up to `deadline`.
    pub async fn shutdown(mut self, deadline: Duration) -> std::result::Result<(), ListenerError> {
        let _ = self.stop.send(true);
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(deadline, task).await {
            Err(_) => Err(ListenerError::ShutdownTimedOut),
            Ok(Err(join)) => Err(ListenerError::Panicked(join.to_string())),
            Ok(Ok(Err(error))) => Err(ListenerError::Crashed {
                retriable: error.is_retriable(),
                error,
            }),
            Ok(Ok(Ok(()))) => Ok(()),
        }
    }
}

impl Drop for ShareListener {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The consumer loop: poll, handle, acknowledge; the acknowledgements ride
/// on the next poll (or the close).
async fn run_loop<H: ShareHandler>(
    b: ShareListenerBuilder<H>,
    stop: watch::Receiver<bool>,
    events: mpsc::UnboundedSender<ShareListenerEvent>,
) -> Result<()> {
    let result = consume(&b, &stop, &events).await;
    let _ = events.send(ShareListenerEvent::Stopped {
        error: result.as_ref().err().map(ToString::to_string),
    });
    result
}

async fn consume<H: ShareHandler>(
    b: &ShareListenerBuilder<H>,
    stop: &watch::Receiver<bool>,
    events: &mpsc::UnboundedSender<ShareListenerEvent>,
) -> Result<()> {
    let mut consumer = ShareConsumer::connect(b.client.clone(), b.config.clone()).await?;
    consumer.subscribe(b.topics.iter().cloned());
    let mut producer: Option<Producer> = None;
    while !*stop.borrow() {
        let records = consumer.poll(Duration::from_millis(200)).await?;
        for (i, record) in records.iter().enumerate() {
            let in_hand = records.get(i..).unwrap_or_default();
            let (outcome, error) =
                handle_one(b, &mut producer, &mut consumer, in_hand, record).await?;
            let kind = match outcome {
                ShareOutcome::Released => AcknowledgeType::Release,
                ShareOutcome::Rejected => AcknowledgeType::Reject,
                _ => AcknowledgeType::Accept,
            };
            match consumer.acknowledge(record, kind) {
                // A renewal the broker refused gave the record up: it is
                // another member's now, nothing to acknowledge.
                Err(crate::Error::ShareSession {
                    source: kafkit_core::share::ShareSessionError::NotAcquired { .. },
                    ..
                }) => debug!(offset = record.offset, "lock lost while handling"),
                other => other?,
            }
            let _ = events.send(ShareListenerEvent::Handled {
                topic: record.topic.to_string(),
                partition: record.partition,
                offset: record.offset,
                delivery_count: record.delivery_count,
                outcome,
                error,
            });
        }
    }
    consumer.close().await?;
    if let Some(p) = producer {
        p.close(Duration::from_secs(5)).await?;
    }
    Ok(())
}

/// Runs the handler (in a task of its own, so a panic is a failed delivery)
/// and decides the outcome.
async fn handle_one<H: ShareHandler>(
    b: &ShareListenerBuilder<H>,
    producer: &mut Option<Producer>,
    consumer: &mut ShareConsumer,
    in_hand: &[ShareRecord],
    record: &ShareRecord,
) -> Result<(ShareOutcome, Option<String>)> {
    let handler = Arc::clone(&b.handler);
    let owned = record.clone();
    let task = tokio::spawn(async move { handler.handle(owned).await });
    let in_hand = if b.renew_locks { in_hand } else { &[] };
    let failed: HandlerError = match renewing(task, consumer, in_hand).await {
        Ok(Ok(())) => return Ok((ShareOutcome::Accepted, None)),
        Ok(Err(e)) => e,
        Err(join) => HandlerError::from(format!("handler panicked: {join}")),
    };
    let (permanent, text) = (failed.is_permanent(), failed.to_string());
    let count = u32::try_from(record.delivery_count).unwrap_or(0);
    let topic = match decide(
        permanent,
        count,
        b.max_deliveries,
        &b.dead_letter,
        &record.topic,
    ) {
        Some(ShareOutcome::DeadLettered(topic)) => topic,
        Some(other) => return Ok((other, Some(text))),
        None => return Ok((ShareOutcome::Released, Some(text))),
    };
    if producer.is_none() {
        *producer = Some(Producer::connect(b.client.clone(), b.producer.clone()).await?);
    }
    if let Some(p) = producer.as_ref() {
        p.send(dead_letter_record(&record.record, &topic, &text, count))
            .await?;
    }
    Ok((ShareOutcome::DeadLettered(topic), Some(text)))
}

/// Waits for the handler's task, renewing the locks of the records
/// `in_hand` every half lock meanwhile (until a renewal is refused).
async fn renewing<T>(
    mut task: JoinHandle<T>,
    consumer: &mut ShareConsumer,
    in_hand: &[ShareRecord],
) -> std::result::Result<T, JoinError> {
    let period = consumer
        .acquisition_lock_timeout()
        .map(|lock| lock / 2)
        .filter(|p| !in_hand.is_empty() && !p.is_zero());
    let Some(period) = period else {
        return task.await;
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            done = &mut task => return done,
            _ = tick.tick() => {
                if let Err(e) = renew(consumer, in_hand).await {
                    debug!(error = %e, "lock renewal refused; no more renewals for this handler");
                    return task.await;
                }
            }
        }
    }
}

/// Renews the locks of `records` and sends the renewals at once.
async fn renew(consumer: &mut ShareConsumer, records: &[ShareRecord]) -> Result<()> {
    for r in records {
        consumer.acknowledge(r, AcknowledgeType::Renew)?;
    }
    for (tp, result) in consumer.commit_sync().await? {
        if let Err(e) = result {
            debug!(?tp, error = %e, "a lock renewal failed");
        }
    }
    Ok(())
}

/// What a failed delivery becomes: `None` to release it (deliveries left),
/// else dead-lettered to the destination of `topic`, or rejected when there
/// is none.
fn decide(
    permanent: bool,
    delivery_count: u32,
    max_deliveries: u32,
    dead_letter: &DeadLetter,
    topic: &str,
) -> Option<ShareOutcome> {
    if !permanent && delivery_count < max_deliveries {
        return None;
    }
    Some(match dead_letter.destination(topic) {
        Some(to) => ShareOutcome::DeadLettered(to),
        None => ShareOutcome::Rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_release_until_the_last_delivery() {
        let skip = DeadLetter::Skip;
        let dlt = DeadLetter::default_topic();
        assert_eq!(decide(false, 1, 3, &dlt, "t"), None);
        assert_eq!(decide(false, 2, 3, &dlt, "t"), None);
        assert_eq!(
            decide(false, 3, 3, &dlt, "t"),
            Some(ShareOutcome::DeadLettered("t.dlt".into()))
        );
        assert_eq!(
            decide(false, 3, 3, &skip, "t"),
            Some(ShareOutcome::Rejected)
        );
        // A count past the limit (the broker's own limit is higher) too.
        assert_eq!(
            decide(false, 7, 3, &skip, "t"),
            Some(ShareOutcome::Rejected)
        );
        // A permanent failure skips the remaining deliveries.
        assert_eq!(decide(true, 1, 3, &skip, "t"), Some(ShareOutcome::Rejected));
        let one = DeadLetter::Topic("all.dlt".into());
        assert_eq!(
            decide(true, 1, 3, &one, "t"),
            Some(ShareOutcome::DeadLettered("all.dlt".into()))
        );
    }
}
