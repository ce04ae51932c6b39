//! Lifecycle events a consumer reports to the application.

use crate::error::Error;
use crate::TopicPartition;

/// Something that happened to a consumer, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerEvent {
    /// A connection to the group coordinator was opened.
    Connected {
        /// Broker address.
        broker: String,
    },
    /// A group request failed because the connection broke or timed out (the
    /// member reconnects by itself).
    Disconnected {
        /// What happened (`Disconnected`, `Io` or `Timeout`, naming the broker).
        error: Error,
    },
    /// The coordinator closed the connection again and again while the same
    /// group request was in flight (it accepts the connection but not that
    /// request, e.g. at a version it advertises and cannot parse). The
    /// consumer keeps retrying with a growing backoff, one version lower at
    /// that broker when there is one; this names the broker, API and version.
    RequestDropped(crate::error::DroppedRequest),
    /// A rebalance started.
    Rebalancing {
        /// Why.
        reason: String,
    },
    /// Partitions were assigned (empty when this rebalance added none).
    Assigned {
        /// Added partitions.
        partitions: Vec<TopicPartition>,
        /// The group generation.
        generation_id: i32,
    },
    /// Partitions were given up after their processed offsets were committed.
    Revoked {
        /// Revoked partitions.
        partitions: Vec<TopicPartition>,
    },
    /// Partitions were lost without a commit (session expired, fenced, poll timeout).
    Lost {
        /// Lost partitions.
        partitions: Vec<TopicPartition>,
        /// Why.
        reason: String,
    },
    /// The application did not poll within `max_poll_interval`; the member
    /// left the group and rejoins on the next poll.
    PollTimeoutExpired,
    /// The consumer hit an error it cannot recover from by itself.
    Crashed {
        /// What happened: [`Error::Broker`] for a refusal by the coordinator
        /// (naming the API and code), [`Error::Group`] for the member's own.
        error: Error,
        /// Whether restarting the consumer may help.
        retriable: bool,
    },
    /// The consumer stopped (after `close`).
    Stopped,
}
