//! Errors of the client layers, with one retry table.
//!
//! Spec: error codes per <https://kafka.apache.org/protocol#protocol_error_codes>
//! (see [`ErrorCode`]).

use std::time::Duration;

pub use crate::group::DroppedRequest;
use crate::group::{GroupError, OffsetError, RequestFailure};
use crate::producer::accumulator::AppendError;
use crate::protocol::{ApiKey, ErrorCode, ProtocolError};

/// An error from kafkit's client layers.
///
/// Variants about an exchange with a broker name the broker's address and
/// the API; variants about a record or an offset name the topic and
/// partition; [`Error::Broker`] carries the Kafka error code, the API and
/// what it concerns. `Config` is only for invalid configuration; misuse of
/// a handle is [`Error::InvalidState`]. Whether to retry is decided in one
/// place, [`Error::is_retriable`], which defers to [`ErrorCode::is_retriable`]
/// for errors the broker reported. The error model (which layer returns
/// what, what to match on) is a section of DESIGN.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes from or for a broker could not be coded.
    #[error("protocol error with broker {broker} ({api}): {source}")]
    Protocol {
        /// Broker address.
        broker: String,
        /// API being coded.
        api: ApiKey,
        /// What the codec said.
        #[source]
        source: ProtocolError,
    },
    /// A broker's response could not be read: a broken frame (bad size
    /// prefix, unknown correlation id; the connection is dropped and the
    /// requests in flight on it fail) or a body that does not decode.
    /// Retriable: the request may succeed again, on a new connection.
    #[error("unreadable {api} response from broker {broker}: {source}")]
    BadResponse {
        /// Broker address.
        broker: String,
        /// API of the request the response answered (for a broken frame,
        /// the oldest request in flight, which it would have answered).
        api: ApiKey,
        /// What the codec said.
        #[source]
        source: ProtocolError,
    },
    /// A socket operation failed.
    #[error("I/O error with broker {broker}: {message}")]
    Io {
        /// Broker address.
        broker: String,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error rendered.
        message: String,
    },
    /// The connection closed while the request was outstanding or before it was sent.
    #[error("connection to broker {broker} closed")]
    Disconnected {
        /// Broker address.
        broker: String,
    },
    /// No response arrived within the request timeout.
    #[error("{api} request to broker {broker} timed out after {timeout:?}")]
    Timeout {
        /// Broker address.
        broker: String,
        /// API of the request.
        api: ApiKey,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The broker supports no version of the API that kafkit implements.
    #[error("broker {broker} supports no version of {api} that kafkit implements")]
    UnsupportedApi {
        /// Broker address.
        broker: String,
        /// The API.
        api: ApiKey,
    },
    /// The broker answered with an error code.
    #[error("{code} from {api}{}{context}{}",
        version.map(|v| format!(" v{v}")).unwrap_or_default(),
        broker.as_ref().map(|b| format!(" ({b})")).unwrap_or_default())]
    Broker {
        /// The error code.
        code: ErrorCode,
        /// The API that failed.
        api: ApiKey,
        /// The version the request was sent at; `None` when the error did
        /// not come from one exchange (a state machine's verdict, a
        /// metadata snapshot without a leader).
        version: Option<i16>,
        /// The broker that answered; `None` as for `version`.
        broker: Option<BrokerRef>,
        /// Topic/partition/group the error concerns, pre-rendered (may be empty).
        context: String,
    },
    /// A deadline (delivery timeout, close timeout) passed.
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// No broker could be reached.
    #[error("no broker reachable: {0}")]
    NoBrokers(String),
    /// The client, producer or consumer was closed.
    #[error("closed")]
    Closed,
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The call is not valid in the handle's current state (subscribing
    /// twice, committing without a group, ...). Not retriable.
    #[error("{operation}: {reason}")]
    InvalidState {
        /// What was called.
        operation: &'static str,
        /// Why it is not valid now.
        reason: String,
    },
    /// The broker's version of an API cannot carry what the call needs.
    #[error("{api} v{version} at broker {broker} cannot carry {what}")]
    UnsupportedVersion {
        /// Broker address.
        broker: String,
        /// The API.
        api: ApiKey,
        /// The highest version the broker and kafkit share.
        version: i16,
        /// What that version lacks.
        what: String,
    },
    /// The producer refused a record before sending it (too large, a
    /// partition that does not exist, a field the format cannot encode).
    #[error("record for {topic}{} refused: {reason}", partition.map(|p| format!("[{p}]")).unwrap_or_default())]
    Record {
        /// The record's topic.
        topic: String,
        /// The record's partition, once chosen.
        partition: Option<i32>,
        /// Why.
        reason: String,
    },
    /// The consumer-group state machine refused an input or cannot express
    /// a request (see [`GroupError`]); errors the coordinator reported are
    /// [`Error::Broker`] instead.
    #[error("consumer group: {0}")]
    Group(#[source] GroupError),
    /// A commit (`api` = OffsetCommit) or a committed-offset read
    /// (`api` = OffsetFetch) failed for a reason other than a group-level
    /// error code (those are [`Error::Broker`] with the same `api`).
    #[error("{api} failed: {source}")]
    Offsets {
        /// OffsetCommit or OffsetFetch.
        api: ApiKey,
        /// What failed.
        #[source]
        source: OffsetError,
    },
    /// TLS failed: the broker's certificate was not trusted or does not name
    /// it, the broker refused ours, or a PEM file could not be used.
    #[error("TLS error with broker {broker}: {message}")]
    Tls {
        /// Broker address.
        broker: String,
        /// What went wrong.
        message: String,
    },
    /// A share session refused an input (an acknowledgement of a record
    /// this member does not hold) or a leader's response (an impossible
    /// acquired range); see [`ShareSessionError`](kafkit_core::share::ShareSessionError).
    #[error("share group {group}, {api} with broker {broker}: {source}")]
    ShareSession {
        /// The share group.
        group: String,
        /// The broker (address), or `-` for a local refusal.
        broker: String,
        /// The API concerned (ShareFetch or ShareAcknowledge).
        api: ApiKey,
        /// What the session said.
        #[source]
        source: kafkit_core::share::ShareSessionError,
    },
    /// A broker closed the connection again and again while the same
    /// request was in flight (see [`DroppedRequest`]).
    #[error(transparent)]
    RequestDropped(#[from] DroppedRequest),
    /// A call of a transactional producer failed: fatal (the producer is
    /// unusable), abortable (abort the transaction), an invalid state or a
    /// timeout; names the transactional id, broker, API and version.
    #[error(transparent)]
    Transaction(#[from] crate::producer::TransactionError),
    /// SASL authentication failed (wrong credentials, mechanism not enabled,
    /// or a server that failed the mechanism's own checks). Never retried:
    /// the pool waits its longest backoff before trying that broker again.
    #[error("SASL {mechanism} authentication with broker {broker} failed: {message}")]
    Authentication {
        /// Broker address.
        broker: String,
        /// The mechanism (`PLAIN`, `SCRAM-SHA-512`, ...).
        mechanism: String,
        /// Why, from the broker or the client's checks; never a credential.
        message: String,
    },
}

/// The broker an [`Error::Broker`] came from: its node id when known
/// (a bootstrap connection has none) and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRef {
    /// The broker's node id, if known.
    pub node_id: Option<i32>,
    /// `host:port`.
    pub addr: String,
}

impl std::fmt::Display for BrokerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.node_id {
            Some(id) => write!(f, "broker {id} at {}", self.addr),
            None => write!(f, "broker {}", self.addr),
        }
    }
}

impl Error {
    /// An [`Error::Broker`] that names no exchange yet (see
    /// [`Error::answered_by`]): `context` is what it concerns, rendered with
    /// a leading space (` for t/0`) or empty.
    pub fn broker(code: ErrorCode, api: ApiKey, context: impl Into<String>) -> Self {
        Error::Broker {
            code,
            api,
            version: None,
            broker: None,
            context: context.into(),
        }
    }

    /// Names the broker and version of the exchange on an [`Error::Broker`]
    /// that does not name one yet; other errors are returned unchanged
    /// (they name their broker already).
    pub fn answered_by(self, broker: &BrokerRef, version: i16) -> Self {
        match self {
            Error::Broker {
                code,
                api,
                version: v,
                broker: b,
                context,
            } => Error::Broker {
                code,
                api,
                version: v.or(Some(version)),
                broker: b.or_else(|| Some(broker.clone())),
                context,
            },
            other => other,
        }
    }

    /// Whether the same operation may succeed if retried (after a backoff and,
    /// for metadata errors, a refresh).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.is_retriable(),
            Error::Io { .. }
            | Error::BadResponse { .. }
            | Error::Disconnected { .. }
            | Error::Timeout { .. }
            | Error::NoBrokers(_)
            | Error::RequestDropped(_) => true,
            Error::Protocol { .. }
            | Error::UnsupportedApi { .. }
            | Error::DeadlineExceeded(_)
            | Error::Closed
            | Error::Config(_)
            | Error::Tls { .. }
            | Error::Authentication { .. }
            | Error::InvalidState { .. }
            | Error::UnsupportedVersion { .. }
            | Error::Record { .. }
            | Error::Group(_)
            | Error::Transaction(_) => false,
            Error::Offsets { source, .. } => source.is_retriable(),
            Error::ShareSession { source, .. } => source.is_retriable(),
        }
    }

    /// The broker error code, if the broker reported one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            Error::Transaction(t) => t.code,
            _ => None,
        }
    }

    /// An I/O error; a TLS failure carried inside one (a handshake or
    /// certificate error, an alert from the broker) becomes [`Error::Tls`].
    pub(crate) fn io(broker: &str, e: &std::io::Error) -> Self {
        #[cfg(feature = "tls")]
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return Error::Tls {
                broker: broker.to_owned(),
                message: tls.to_string(),
            };
        }
        Error::Io {
            broker: broker.to_owned(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl From<GroupError> for Error {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Broker { api, code } => Error::broker(code, api, ""),
            GroupError::Closed => Error::Closed,
            other => Error::Group(other),
        }
    }
}

impl From<AppendError> for Error {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Closed => Error::Closed,
            AppendError::NegativePartition { topic, partition } => Error::Record {
                topic,
                partition: Some(partition),
                reason: "the partition is negative".to_owned(),
            },
            AppendError::TimestampOutOfRange { tp, timestamp } => Error::Record {
                topic: tp.topic,
                partition: Some(tp.partition),
                reason: format!("timestamp {timestamp} is out of the batch's range"),
            },
            AppendError::Encode { tp, source } => Error::Record {
                topic: tp.topic,
                partition: Some(tp.partition),
                reason: format!("cannot be encoded: {source}"),
            },
            other => Error::Record {
                topic: String::new(),
                partition: None,
                reason: other.to_string(),
            },
        }
    }
}

/// The group member learns from a failed request only whether retrying may
/// help and the broker's code, both from this type's one table.
impl RequestFailure for Error {
    fn is_retriable(&self) -> bool {
        Error::is_retriable(self)
    }

    fn code(&self) -> Option<ErrorCode> {
        Error::code(self)
    }

    fn is_connection_drop(&self) -> bool {
        matches!(self, Error::Disconnected { .. } | Error::Io { .. })
    }
}

/// Result alias for the client layers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
