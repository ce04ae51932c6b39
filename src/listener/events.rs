//! What a listener reports, in order.

use std::time::Duration;

use super::ListenerError;
use crate::consumer::ConsumerEvent;
use crate::error::Error;
use crate::TopicPartition;

/// A lifecycle or processing event of a [`Listener`](super::Listener).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerEvent {
    /// A connection to the group coordinator was opened.
    Connected {
        /// Broker address.
        broker: String,
    },
    /// A group request failed on a broken or slow connection (the consumer
    /// reconnects by itself).
    Disconnected {
        /// What happened (`Disconnected`, `Io` or `Timeout`, naming the broker).
        error: Error,
    },
    /// The coordinator closed the connection again and again while the same
    /// group request was in flight; the consumer keeps retrying with a
    /// growing backoff, one version lower when there is one (see
    /// [`ConsumerEvent::RequestDropped`]).
    RequestDropped(crate::error::DroppedRequest),
    /// A rebalance started.
    Rebalancing {
        /// Why.
        reason: String,
    },
    /// Partitions were assigned.
    Assigned {
        /// Added partitions.
        partitions: Vec<TopicPartition>,
        /// The group generation.
        generation_id: i32,
    },
    /// Partitions were given up after their processed offsets were committed.
    Revoked {
        /// The partitions.
        partitions: Vec<TopicPartition>,
    },
    /// Partitions were lost without a commit (session expired, eviction, crash).
    Lost {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// Why.
        reason: String,
    },
    /// The member was evicted: no poll (and no handler `heartbeat()`) within
    /// `max_poll_interval`. Its partitions are lost; it rejoins when the
    /// handler returns.
    PollTimeoutExpired,
    /// A handler failed; the record is delivered again after `delay`.
    Retrying {
        /// Topic and partition (paused meanwhile).
        partition: TopicPartition,
        /// The record's offset (the partition is seeked back to it).
        offset: i64,
        /// Deliveries made so far.
        attempt: u32,
        /// The handler's error.
        error: String,
        /// Wait before the next delivery.
        delay: Duration,
    },
    /// A record was given up on (tries exhausted or a permanent error) and
    /// the listener moved past it.
    DeadLettered {
        /// Topic and partition it came from.
        partition: TopicPartition,
        /// Its offset.
        offset: i64,
        /// Deliveries made.
        attempts: u32,
        /// The handler's last error.
        error: String,
        /// The dead-letter topic it was written to (`None` when skipped).
        destination: Option<String>,
    },
    /// The consumer crashed; the restart policy decides what follows
    /// (`Restarting` or `Stopped`).
    Crashed {
        /// What happened.
        error: Error,
        /// Whether the error is one retrying may fix.
        retriable: bool,
    },
    /// A new consumer starts after `delay` (the `restart`-th in a row).
    Restarting {
        /// Restart number (1-based, reset by a long healthy run).
        restart: u32,
        /// Wait before it starts.
        delay: Duration,
    },
    /// The listener stopped: after `shutdown` (`error` is `None`) or after a
    /// crash the restart policy did not allow to restart. The last event
    /// (missing only if a shutdown overran its deadline and was aborted).
    Stopped {
        /// The crash that stopped it, if any.
        error: Option<ListenerError>,
    },
}

/// What the listener makes of a consumer event.
pub(crate) enum Forward {
    /// Pass it on.
    Event(ListenerEvent),
    /// The consumer crashed.
    Crash { error: Error, retriable: bool },
    /// Nothing to report (the consumer's own `Stopped`).
    Ignore,
}

impl From<ConsumerEvent> for Forward {
    fn from(e: ConsumerEvent) -> Self {
        let event = match e {
            ConsumerEvent::Connected { broker } => ListenerEvent::Connected { broker },
            ConsumerEvent::Disconnected { error } => ListenerEvent::Disconnected { error },
            ConsumerEvent::Rebalancing { reason } => ListenerEvent::Rebalancing { reason },
            ConsumerEvent::RequestDropped(d) => ListenerEvent::RequestDropped(d),
            ConsumerEvent::Assigned {
                partitions,
                generation_id,
            } => ListenerEvent::Assigned {
                partitions,
                generation_id,
            },
            ConsumerEvent::Revoked { partitions } => ListenerEvent::Revoked { partitions },
            ConsumerEvent::Lost { partitions, reason } => {
                ListenerEvent::Lost { partitions, reason }
            }
            ConsumerEvent::PollTimeoutExpired => ListenerEvent::PollTimeoutExpired,
            ConsumerEvent::Crashed { error, retriable } => {
                return Forward::Crash { error, retriable }
            }
            ConsumerEvent::Stopped => return Forward::Ignore,
        };
        Forward::Event(event)
    }
}
