//! Listeners: one async handler per topic on a group consumer, with
//! retries, a dead-letter topic and a restart policy (the shape of
//! Midway's `@KafkaListener`, NestJS's `@EventPattern` and kafkajs's
//! `eachMessage` / `eachBatch`).
//!
//! ```no_run
//! use std::time::Duration;
//! use kafkit::consumer::ConsumerConfig;
//! use kafkit::listener::{DeadLetter, Listener, ListenerEvent, RetryPolicy};
//! use kafkit::ClientConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut listener = Listener::builder(
//!     ClientConfig::new(["localhost:9092"]),
//!     ConsumerConfig::group("billing").from_beginning(),
//! )
//! .topic("orders", |record: kafkit::consumer::ConsumerRecord, ctx: kafkit::listener::Context| async move {
//!     let value = record.value.as_deref().unwrap_or_default();
//!     if value.is_empty() {
//!         return Err("empty order".into()); // redelivered, then dead-lettered
//!     }
//!     ctx.heartbeat(); // for handlers slower than max_poll_interval
//!     Ok(())
//! })
//! .retry(RetryPolicy::new(3, Duration::from_millis(200)))
//! .dead_letter(DeadLetter::default_topic()) // orders.dlt
//! .run()?;
//! let mut events = listener.events().expect("taken once");
//! while let Some(event) = events.recv().await {
//!     if let ListenerEvent::Stopped { .. } = event { break; }
//! }
//! listener.shutdown(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! - One consumer subscribes to every topic with a handler. Records are
//!   handled one at a time, in offset order within a partition.
//! - `Ok` marks the record processed (committed by auto-commit, on
//!   rebalance and on shutdown). `Err` means "redeliver": the partition is
//!   seeked back to the record and paused for the backoff while other
//!   partitions keep flowing; nothing past the record is committed. After
//!   [`RetryPolicy::max_attempts`] deliveries (or at once for
//!   [`HandlerError::permanent`]) the record goes to the [`DeadLetter`]
//!   destination (headers in [`dead_letter`]) and processing goes on.
//! - A handler that panics counts as a failed delivery.
//! - Committing a record's own offset from its handler
//!   ([`Context::commit_offsets`]) stores "read this record next"; with the
//!   retry policy it is delivered again (the manual-commit pattern of
//!   Midway's docs: 2 deliveries when the second succeeds).
//! - A consumer crash (a group member that failed, a non-retriable consumer
//!   error, a consumer that cannot start) is reported as
//!   [`ListenerEvent::Crashed`]; the [`RestartPolicy`] starts a new consumer
//!   up to its limit, then the listener stops.
//! - A handler slower than `max_poll_interval` must call
//!   [`Context::heartbeat`]; otherwise the member is evicted
//!   ([`ListenerEvent::PollTimeoutExpired`], its partitions
//!   [`ListenerEvent::Lost`]) and rejoins when the handler returns.
//!
//!
//! # Exactly once
//!
//! With [`ListenerBuilder::exactly_once`] each handler call (a record, or a
//! batch for [`ListenerBuilder::topic_batch`]) runs in one transaction
//! (the shape of Spring Kafka's transactional listener container and of
//! kafkajs's `eachBatch` with `transaction.sendOffsets`):
//!
//! - records the handler writes with [`Context::produce`] and the offset
//!   past its record commit together (the offsets with the consumer's group
//!   metadata, taken before the handler ran: KIP-447);
//! - `Err` aborts the transaction and the record is redelivered under the
//!   retry policy; once given up, its dead letter and the offset past it
//!   commit in one transaction (for [`DeadLetter::Skip`] the offset alone);
//! - a commit that fails with an abortable error (e.g. the group moved on:
//!   a rebalance during the handler) aborts and redelivers without
//!   counting a failed delivery; a fatal one (the producer was fenced by a
//!   newer instance with the same transactional id) crashes the consumer
//!   run, and the restart policy starts a new consumer and producer;
//! - a transaction never outlives its handler call, so none is open when
//!   partitions are revoked; a crash of the process leaves an open one that
//!   the coordinator aborts when the restarted instance initializes
//!   (or at the transaction timeout).
//!
//! Spec: KIP-62 (`max.poll.interval.ms`); KIP-98 and KIP-447 (exactly
//! once); the retry and dead-letter headers
//! are kafkit's own (see [`dead_letter`]).

pub mod dead_letter;
mod dispatch;
mod events;
mod handler;
mod policy;
mod retries;
mod runner;
mod share;
mod task;
mod transaction;
mod typed;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use events::ListenerEvent;
pub use handler::{
    Batch, BatchContext, BatchHandler, Context, Handler, HandlerError, HandlerResult, Resume,
};
pub use policy::{DeadLetter, RestartPolicy, RetryPolicy};
pub use share::{
    ShareHandler, ShareListener, ShareListenerBuilder, ShareListenerEvent, ShareOutcome,
};
#[cfg(feature = "serde")]
pub use typed::json;
pub use typed::typed;

use crate::config::ClientConfig;
use crate::consumer::ConsumerConfig;
use crate::error::{Error, Result};
use crate::producer::ProducerConfig;
use handler::{DynBatchHandler, DynHandler};
use task::{Runner, Stop};

/// Why a listener ended other than by a clean shutdown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// The consumer crashed and the restart policy allowed no more restarts.
    #[error("listener crashed: {error}")]
    Crashed {
        /// The last crash.
        error: crate::error::Error,
        /// Whether that error was retriable.
        retriable: bool,
    },
    /// The listener did not stop within the shutdown deadline (it was aborted;
    /// offsets processed since the last commit were not committed).
    #[error("listener did not stop within the shutdown deadline")]
    ShutdownTimedOut,
    /// The listener's task panicked.
    #[error("listener task failed: {0}")]
    Panicked(String),
}

/// How the records of a topic are handled.
#[derive(Clone)]
pub(crate) enum Route {
    One(DynHandler),
    Batch(DynBatchHandler),
}

/// Builds a [`Listener`]: topics with their handlers, then policies.
#[must_use = "call run() to start the listener"]
pub struct ListenerBuilder {
    client: ClientConfig,
    consumer: ConsumerConfig,
    routes: BTreeMap<String, Route>,
    retry: RetryPolicy,
    dead_letter: DeadLetter,
    restart: RestartPolicy,
    producer: ProducerConfig,
    exactly_once: Option<ProducerConfig>,
}

impl std::fmt::Debug for ListenerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerBuilder")
            .field("topics", &self.routes.keys().collect::<Vec<_>>())
            .field("retry", &self.retry)
            .field("dead_letter", &self.dead_letter)
            .field("restart", &self.restart)
            .field("exactly_once", &self.exactly_once.is_some())
            .finish_non_exhaustive()
    }
}

impl ListenerBuilder {
    /// Handles the records of `topic` one at a time (replaces an earlier
    /// handler of the topic).
    pub fn topic(mut self, topic: impl Into<String>, handler: impl Handler) -> Self {
        self.routes
            .insert(topic.into(), Route::One(handler::erase(handler)));
        self
    }

    /// Handles the records of `topic` a batch at a time (kafkajs `eachBatch`).
    pub fn topic_batch(mut self, topic: impl Into<String>, handler: impl BatchHandler) -> Self {
        self.routes
            .insert(topic.into(), Route::Batch(handler::erase_batch(handler)));
        self
    }

    /// Sets the retry policy (default: 3 deliveries, 200 ms doubling).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets what happens to records the handler gave up on (default: skip).
    pub fn dead_letter(mut self, dead_letter: DeadLetter) -> Self {
        self.dead_letter = dead_letter;
        self
    }

    /// Sets the restart policy for consumer crashes.
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// Sets the configuration of the producer writing to dead-letter topics
    /// (started on first use, on its own client).
    pub fn dead_letter_producer(mut self, config: ProducerConfig) -> Self {
        self.producer = config;
        self
    }

    /// Exactly-once mode (consume-transform-produce, KIP-447): every
    /// handler call runs in a transaction of a transactional producer
    /// configured by `producer` (which must have a transactional id, unique
    /// per listener instance and the same across its restarts, so a restart
    /// fences the instance it replaces). What the handler writes with
    /// [`Context::produce`] and the offset past its record (or batch) commit
    /// together when it returns `Ok`; an `Err` aborts them and the record is
    /// redelivered under the retry policy; a dead letter is written in the
    /// transaction that commits the offset past it. The consumer reads
    /// `read_committed` with auto-commit off: the group's offsets move only
    /// with transactions. Use [`topic_batch`](Self::topic_batch) for one
    /// transaction per fetched batch rather than per record. See the module
    /// documentation for the failure cases.
    pub fn exactly_once(mut self, producer: ProducerConfig) -> Self {
        self.exactly_once = Some(producer);
        self
    }

    /// Starts the listener on the current tokio runtime (call it from within one).
    pub fn run(mut self) -> Result<Listener> {
        if self.consumer.group_id.is_none() {
            return Err(Error::Config("a listener needs a group_id".to_owned()));
        }
        if self.routes.is_empty() {
            return Err(Error::Config(
                "a listener needs at least one topic".to_owned(),
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::Config(
                "retry max_attempts counts the first delivery: at least 1".to_owned(),
            ));
        }
        if let Some(p) = &self.exactly_once {
            if p.transactional_id.is_none() {
                return Err(Error::Config(
                    "exactly_once needs a producer config with a transactional id".to_owned(),
                ));
            }
            self.consumer.auto_commit = false;
            self.consumer.isolation_level = crate::consumer::IsolationLevel::ReadCommitted;
        }
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(None);
        let runner = Runner::new(
            task::Settings {
                client: self.client,
                consumer: self.consumer,
                routes: self.routes,
                retry: self.retry,
                dead_letter: self.dead_letter,
                restart: self.restart,
                producer: self.producer,
                exactly_once: self.exactly_once,
            },
            events_tx,
            stop_rx,
        );
        let task = tokio::spawn(runner.run());
        Ok(Listener {
            stop: stop_tx,
            task: Some(task),
            events: Some(events_rx),
        })
    }
}

/// A running listener. Its background task (one consumer, and a producer
/// for dead letters once needed) runs until [`Listener::shutdown`], until
/// the restart policy gives up, or until this handle is dropped (then it
/// shuts down by itself within 10 s).
#[derive(Debug)]
pub struct Listener {
    stop: watch::Sender<Option<Stop>>,
    task: Option<JoinHandle<std::result::Result<(), ListenerError>>>,
    events: Option<mpsc::UnboundedReceiver<ListenerEvent>>,
}

impl Listener {
    /// A builder for a listener on a group consumer (`consumer.group_id`
    /// must be set).
    pub fn builder(client: ClientConfig, consumer: ConsumerConfig) -> ListenerBuilder {
        ListenerBuilder {
            client,
            consumer,
            routes: BTreeMap::new(),
            retry: RetryPolicy::default(),
            dead_letter: DeadLetter::default(),
            restart: RestartPolicy::default(),
            producer: ProducerConfig::default(),
            exactly_once: None,
        }
    }

    /// The events (taken once); the last one is [`ListenerEvent::Stopped`].
    pub fn events(&mut self) -> Option<mpsc::UnboundedReceiver<ListenerEvent>> {
        self.events.take()
    }

    /// Stops taking records, lets the handler at work finish (it is
    /// cancelled, its record not marked, after three quarters of
    /// `deadline`), commits the processed offsets, leaves the group and
    /// stops, all within `deadline`.
    pub async fn shutdown(mut self, deadline: Duration) -> std::result::Result<(), ListenerError> {
        let _ = self.stop.send(Some(Stop::within(deadline)));
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        // A little slack over the deadline for the task to return.
        match tokio::time::timeout(deadline + Duration::from_millis(100), &mut task).await {
            Ok(r) => r.unwrap_or_else(|e| Err(ListenerError::Panicked(e.to_string()))),
            Err(_) => {
                task.abort();
                Err(ListenerError::ShutdownTimedOut)
            }
        }
    }

    /// Waits until the listener stops by itself, which only a crash the
    /// restart policy does not restart does ([`ListenerError::Crashed`]); a
    /// healthy listener runs until [`Listener::shutdown`].
    pub async fn wait(&mut self) -> std::result::Result<(), ListenerError> {
        let Some(task) = self.task.as_mut() else {
            return Ok(());
        };
        let r = task
            .await
            .unwrap_or_else(|e| Err(ListenerError::Panicked(e.to_string())));
        self.task = None;
        r
    }
}
