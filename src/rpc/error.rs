//! Errors of request-reply calls.

use std::time::Duration;

/// Why a request got no usable reply.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The server's handler failed; the message is what it reported
    /// (the `kafka_nest-err` header).
    #[error("request to {topic} failed on the server: {message}")]
    Remote {
        /// Request topic.
        topic: String,
        /// The server's error message.
        message: String,
    },
    /// No reply arrived in time. The request may still have been handled.
    #[error("no reply from {topic} within {after:?} (correlation id {correlation_id})")]
    TimedOut {
        /// Request topic.
        topic: String,
        /// The request's correlation id.
        correlation_id: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The reply topic is missing or has no partitions.
    #[error("reply topic {topic} is not usable: {reason}")]
    ReplyTopic {
        /// The reply topic.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Sending the request or reading replies failed in the client.
    #[error(transparent)]
    Client(#[from] crate::Error),
}

impl RpcError {
    /// Whether sending the request again may succeed. A timed-out request
    /// may have been handled already: retry only idempotent requests.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Remote { .. } | Self::ReplyTopic { .. } => false,
            Self::TimedOut { .. } => true,
            Self::Client(e) => e.is_retriable(),
        }
    }
}
