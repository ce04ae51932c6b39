//! The listener's task loop: runs a consumer, feeds its records to the
//! handlers (`Runner::dispatch`, in `dispatch.rs`), forwards its events, and
//! restarts it after a crash as the restart policy allows. The task's state
//! is in `task.rs`.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::events::{Forward, ListenerEvent};
use super::handler::{lock, Pauses};
use super::policy::RestartCounter;
use super::retries::Retries;
use super::task::{Exit, Runner};
use super::ListenerError;
use crate::consumer::{Consumer, ConsumerControl};
use crate::error::Error;

/// The consumer's event channel.
type ConsumerEvents = tokio::sync::mpsc::UnboundedReceiver<crate::consumer::ConsumerEvent>;

/// Bound on closing a crashed consumer before a restart.
const CRASH_CLOSE_LIMIT: Duration = Duration::from_secs(5);

impl Runner {
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

    /// One consumer's life: start, subscribe, dispatch, close.
    async fn run_consumer(&mut self) -> Exit {
        *lock(&self.pauses) = Pauses::default();
        let (mut consumer, mut events) = match self.start_consumer().await {
            Ok(started) => started,
            Err(exit) => return exit,
        };
        let exit = self.consume(&mut consumer, &mut events).await;
        self.close_consumer(consumer, events, &exit).await;
        exit
    }

    /// Connects a consumer, takes its events, subscribes it to the routed
    /// topics and (exactly-once mode) starts the transactional producer.
    async fn start_consumer(&mut self) -> Result<(Consumer, ConsumerEvents), Exit> {
        let connect =
            Consumer::connect(self.settings.client.clone(), self.settings.consumer.clone());
        let mut consumer = tokio::select! {
            c = connect => match c {
                Ok(c) => c,
                Err(e) => return Err(Exit::crash(&e)),
            },
            _ = self.stop_requested() => return Err(Exit::Shutdown),
        };
        let Some(events) = consumer.events() else {
            return Err(Exit::Crash {
                error: Error::InvalidState {
                    operation: "Listener",
                    reason: "consumer events already taken".to_owned(),
                },
                retriable: false,
            });
        };
        let topics: Vec<String> = self.settings.routes.keys().cloned().collect();
        if let Err(e) = consumer.subscribe(&topics) {
            let _ = consumer.close().await;
            return Err(Exit::crash(&e));
        }
        if let Some(config) = &self.settings.exactly_once {
            match super::transaction::start(&self.settings.client, config).await {
                Ok(p) => self.txn = Some(p),
                Err(e) => {
                    let _ = tokio::time::timeout(CRASH_CLOSE_LIMIT, consumer.close()).await;
                    return Err(Exit::crash(&e));
                }
            }
        }
        Ok((consumer, events))
    }

    /// Feeds the consumer's records to the handlers and forwards its events
    /// until a shutdown or a crash.
    async fn consume(&mut self, consumer: &mut Consumer, events: &mut ConsumerEvents) -> Exit {
        let control = consumer.control();
        let mut retries = Retries::default();
        loop {
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
                            self.dispatch(consumer, &control, &mut retries, record).await
                        {
                            break exit;
                        }
                    }
                },
            }
        }
    }

    /// Closes the consumer (within the shutdown's time left, or
    /// [`CRASH_CLOSE_LIMIT`] after a crash), stops the transactional
    /// producer and forwards what the consumer reported while closing.
    async fn close_consumer(
        &mut self,
        consumer: Consumer,
        mut events: ConsumerEvents,
        exit: &Exit,
    ) {
        let limit = match (exit, self.stopping) {
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
