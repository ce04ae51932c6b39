//! The listener's task: runs a consumer, feeds its records to the handlers
//! ([`dispatch`](super::dispatch)), forwards its events, and restarts it
//! after a crash as the restart policy allows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::events::{Forward, ListenerEvent};
use super::handler::{lock, Pauses, SharedPauses};
use super::policy::{DeadLetter, RestartCounter, RestartPolicy, RetryPolicy};
use super::retries::Retries;
use super::{ListenerError, Route};
use crate::config::ClientConfig;
use crate::consumer::{Consumer, ConsumerConfig, ConsumerControl};
use crate::error::Error;
use crate::producer::{Producer, ProducerConfig};

/// Deadline used when the [`Listener`](super::Listener) handle is dropped.
const DROPPED_HANDLE_DEADLINE: Duration = Duration::from_secs(10);
/// Bound on closing a crashed consumer before a restart.
const CRASH_CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// A shutdown request: handlers may run until `cutoff`, everything is done
/// by `deadline`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    cutoff: Instant,
    deadline: Instant,
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

    /// Runs consumers until a shutdown or a crash the policy does not restart.
    pub async fn run(mut self) -> Result<(), ListenerError> {
        let mut restarts = RestartCounter::default();
        let result = loop {
            let started = Instant::now();
            let (error, retriable) = match self.run_consumer().await {
                Exit::Shutdown => break Ok(()),
                Exit::Crash { error, retriable } => (error, retriable),
            };
            warn!(%error, retriable, "listener consumer crashed");
            self.emit(ListenerEvent::Crashed {
                error: error.clone(),
                retriable,
            });
            let Some((restart, delay)) =
                restarts.on_crash(&self.settings.restart, started.elapsed())
            else {
                break Err(ListenerError::Crashed { error, retriable });
            };
            info!(restart, ?delay, "restarting the listener consumer");
            self.emit(ListenerEvent::Restarting { restart, delay });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stop_requested() => break Ok(()),
            }
        };
        if let Some(producer) = self.producer.take() {
            let limit = self
                .stopping
                .map_or(CRASH_CLOSE_LIMIT, |s| remaining(s.deadline));
            let _ = producer.close(limit).await;
        }
        self.emit(ListenerEvent::Stopped {
            error: result.as_ref().err().cloned(),
        });
        result
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

    /// One consumer's life: start, subscribe, dispatch, close.
    async fn run_consumer(&mut self) -> Exit {
        *lock(&self.pauses) = Pauses::default();
        let connect =
            Consumer::connect(self.settings.client.clone(), self.settings.consumer.clone());
        let mut consumer = tokio::select! {
            c = connect => match c {
                Ok(c) => c,
                Err(e) => return Exit::crash(&e),
            },
            _ = self.stop_requested() => return Exit::Shutdown,
        };
        let Some(mut events) = consumer.events() else {
            return Exit::Crash {
                error: Error::InvalidState {
                    operation: "Listener",
                    reason: "consumer events already taken".to_owned(),
                },
                retriable: false,
            };
        };
        let topics: Vec<String> = self.settings.routes.keys().cloned().collect();
        if let Err(e) = consumer.subscribe(&topics) {
            let _ = consumer.close().await;
            return Exit::crash(&e);
        }
        if let Some(config) = &self.settings.exactly_once {
            match super::transaction::start(&self.settings.client, config).await {
                Ok(p) => self.txn = Some(p),
                Err(e) => {
                    let _ = tokio::time::timeout(CRASH_CLOSE_LIMIT, consumer.close()).await;
                    return Exit::crash(&e);
                }
            }
        }
        let control = consumer.control();
        let mut retries = Retries::default();
        let exit = loop {
            let wake = retries.next_wake();
            tokio::select! {
                biased;
                _ = self.stop_requested() => break Exit::Shutdown,
                Some(event) = events.recv() => {
                    if let Some(exit) = self.consumer_event(event, &mut retries) {
                        break exit;
                    }
                }
                _ = sleep_until(wake) => self.resume_ready(&control, &mut retries),
                next = consumer.recv() => match next {
                    None => break Exit::Crash {
                        error: Error::Closed,
                        retriable: true,
                    },
                    Some(Err(e)) if e.is_retriable() => {
                        warn!(error = %e, "consumer error (retriable; continuing)");
                    }
                    Some(Err(e)) => break Exit::crash(&e),
                    Some(Ok(record)) => {
                        if let Some(exit) =
                            self.dispatch(&mut consumer, &control, &mut retries, record).await
                        {
                            break exit;
                        }
                    }
                },
            }
        };
        let limit = match (&exit, self.stopping) {
            (Exit::Shutdown, Some(s)) => remaining(s.deadline),
            _ => CRASH_CLOSE_LIMIT,
        };
        if tokio::time::timeout(limit, consumer.close()).await.is_err() {
            warn!(
                "closing the consumer timed out; offsets since the last commit are not committed"
            );
        }
        if let Some(p) = self.txn.take() {
            super::transaction::stop(p).await;
        }
        // What the consumer reported while closing (revocations).
        while let Ok(event) = events.try_recv() {
            if let Forward::Event(e) = Forward::from(event) {
                self.emit(e);
            }
        }
        exit
    }

    /// Forwards a consumer event; a crash ends this consumer's run.
    fn consumer_event(
        &mut self,
        event: crate::consumer::ConsumerEvent,
        retries: &mut Retries,
    ) -> Option<Exit> {
        match Forward::from(event) {
            Forward::Event(e) => {
                if let ListenerEvent::Revoked { partitions }
                | ListenerEvent::Lost { partitions, .. } = &e
                {
                    retries.forget(partitions);
                    let mut p = lock(&self.pauses);
                    for tp in partitions {
                        p.by_app.remove(tp);
                        p.by_retry.remove(tp);
                    }
                }
                debug!(event = ?e, "listener event");
                self.emit(e);
                None
            }
            Forward::Crash { error, retriable } => Some(Exit::Crash { error, retriable }),
            Forward::Ignore => None,
        }
    }

    /// Resumes partitions whose retry wait is over (unless a handler paused them).
    fn resume_ready(&self, control: &ConsumerControl, retries: &mut Retries) {
        let ready = retries.take_ready(Instant::now());
        let mut p = lock(&self.pauses);
        let resume: Vec<_> = ready
            .into_iter()
            .filter(|tp| {
                p.by_retry.remove(tp);
                !p.by_app.contains(tp)
            })
            .collect();
        if !resume.is_empty() {
            debug!(partitions = ?resume, "retry wait over: resuming");
            let _ = control.resume(resume);
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
