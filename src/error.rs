//! Errors of the client layers, with one retry table.
//!
//! Spec: error codes per <https://kafka.apache.org/protocol#protocol_error_codes>
//! (see [`ErrorCode`]).

use std::time::Duration;

use crate::protocol::{ApiKey, ErrorCode, ProtocolError};

/// An error from kafkit's client layers.
///
/// Every variant names the broker and, where there is one, the API, topic or
/// partition involved. Whether to retry is decided in one place,
/// [`Error::is_retriable`], which defers to [`ErrorCode::is_retriable`] for
/// errors the broker reported.
#[derive(Debug, Clone, thiserror::Error)]
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
    #[error("{code} from {api}{context}")]
    Broker {
        /// The error code.
        code: ErrorCode,
        /// The API that failed.
        api: ApiKey,
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
    /// TLS failed: the broker's certificate was not trusted or does not name
    /// it, the broker refused ours, or a PEM file could not be used.
    #[error("TLS error with broker {broker}: {message}")]
    Tls {
        /// Broker address.
        broker: String,
        /// What went wrong.
        message: String,
    },
    /// A broker closed the connection again and again while the same
    /// request was in flight (see [`DroppedRequest`]).
    #[error(transparent)]
    RequestDropped(#[from] DroppedRequest),
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

impl Error {
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
            | Error::Authentication { .. } => false,
        }
    }

    /// The broker error code, if the broker reported one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
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

/// A broker closed the connection `attempts` times in a row while `api` at
/// `version` was in flight: it accepts the connection but not that request
/// (librdkafka's mock cluster, for one, advertises JoinGroup v6+ and then
/// cannot parse it). The group member backs the request off with growing
/// delays and tries the next lower version at that broker (`next_version`);
/// see `GroupMember`'s docs and DESIGN.md ("A request the broker keeps
/// dropping").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DroppedRequest {
    /// Broker address.
    pub broker: String,
    /// The API of the request.
    pub api: ApiKey,
    /// The version the request was sent at.
    pub version: i16,
    /// Consecutive drops at that version.
    pub attempts: u32,
    /// The version the next attempt uses at most (`None`: none lower left).
    pub next_version: Option<i16>,
}

impl std::fmt::Display for DroppedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let api = self
            .api
            .name()
            .map_or_else(|| self.api.to_string(), str::to_owned);
        write!(
            f,
            "broker {} closed the connection {} times in a row while {api} v{} was in flight",
            self.broker, self.attempts, self.version
        )?;
        match self.next_version {
            Some(v) => write!(f, "; trying {api} v{v} at that broker"),
            None => write!(
                f,
                "; no lower {api} version left to try, retrying with backoff"
            ),
        }
    }
}

/// Result alias for the client layers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
