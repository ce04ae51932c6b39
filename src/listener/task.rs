//! The listener task's state, shared by its loop (`runner.rs`) and its
//! record dispatch (`dispatch.rs`), which both extend [`Runner`]: the
//! settings, the shutdown request, the events channel, the pauses and the
//! dead-letter producer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::events::ListenerEvent;
use super::handler::{Pauses, SharedPauses};
use super::policy::{DeadLetter, RestartPolicy, RetryPolicy};
use super::Route;
use crate::config::ClientConfig;
use crate::consumer::ConsumerConfig;
use crate::error::Error;
use crate::producer::{Producer, ProducerConfig};

/// Deadline used when the [`Listener`](super::Listener) handle is dropped.
const DROPPED_HANDLE_DEADLINE: Duration = Duration::from_secs(10);

/// A shutdown request: handlers may run until `cutoff`, everything is done
/// by `deadline`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    pub(super) cutoff: Instant,
    pub(super) deadline: Instant,
}

impl Stop {
    pub fn within(d: Duration) -> Self {
        let now = Instant::now();
        Self {
            cutoff: now + d * 3 / 4,
            deadline: now + d,
        }
    }
}

/// Why one consumer's run ended.
pub(super) enum Exit {
    Shutdown,
    Crash { error: Error, retriable: bool },
}

impl Exit {
    pub fn crash(e: &Error) -> Self {
        Exit::Crash {
            error: e.clone(),
            retriable: e.is_retriable(),
        }
    }
}

/// What the builder hands the task.
pub(crate) struct Settings {
    pub client: ClientConfig,
    pub consumer: ConsumerConfig,
    pub routes: BTreeMap<String, Route>,
    pub retry: RetryPolicy,
    pub dead_letter: DeadLetter,
    pub restart: RestartPolicy,
    pub producer: ProducerConfig,
    /// Exactly-once mode: the transactional producer's configuration.
    pub exactly_once: Option<ProducerConfig>,
}

pub(crate) struct Runner {
    pub(super) settings: Settings,
    pub(super) events: mpsc::UnboundedSender<ListenerEvent>,
    stop_rx: watch::Receiver<Option<Stop>>,
    /// The shutdown once requested (or implied by a dropped handle).
    pub(super) stopping: Option<Stop>,
    pub(super) pauses: SharedPauses,
    /// Writes dead letters; started on first use.
    pub(super) producer: Option<Producer>,
    /// Exactly-once mode: the transactional producer of the consumer run.
    pub(super) txn: Option<Producer>,
}

impl Runner {
    pub fn new(
        settings: Settings,
        events: mpsc::UnboundedSender<ListenerEvent>,
        stop_rx: watch::Receiver<Option<Stop>>,
    ) -> Self {
        Self {
            settings,
            events,
            stop_rx,
            stopping: None,
            pauses: Arc::new(std::sync::Mutex::new(Pauses::default())),
            producer: None,
            txn: None,
        }
    }

    pub(super) fn emit(&self, event: ListenerEvent) {
        let _ = self.events.send(event);
    }

    /// Resolves once a shutdown is requested (or the handle is gone).
    pub(super) async fn stop_requested(&mut self) -> Stop {
        if let Some(s) = self.stopping {
            return s;
        }
        let s = match self.stop_rx.wait_for(Option::is_some).await {
            Ok(s) => (*s).unwrap_or_else(|| Stop::within(DROPPED_HANDLE_DEADLINE)),
            Err(_) => Stop::within(DROPPED_HANDLE_DEADLINE),
        };
        self.stopping = Some(s);
        s
    }

    /// Resolves when a running handler must be cancelled: at the shutdown's cutoff.
    pub(super) async fn handler_cutoff(&mut self) {
        let s = self.stop_requested().await;
        tokio::time::sleep_until(s.cutoff).await;
    }
}
