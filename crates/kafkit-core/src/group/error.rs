//! Errors of the group layer.

use crate::protocol::{ApiKey, ErrorCode, ProtocolError};

use super::request_id::RequestId;

/// An error from the consumer-group state machine or an assignor.
///
/// Calls that return it leave the machine as it was (an invalid input is
/// refused, never half-applied). Errors that end membership are reported as
/// [`GroupEvent::Fatal`](super::GroupEvent::Fatal) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The configuration is invalid.
    #[error("invalid group configuration: {0}")]
    Config(String),
    /// The input is not valid in the member's current state.
    #[error("{input} is not valid while the member is {state}")]
    InvalidState {
        /// The input that was refused.
        input: &'static str,
        /// The state the member is in.
        state: &'static str,
    },
    /// A response or failure names a request the machine never issued or
    /// already settled.
    #[error("no outstanding request {0:?}")]
    UnknownRequest(RequestId),
    /// A response of another API than the request it answers.
    #[error("request {id:?} was {expected}, the response is {got}")]
    ResponseMismatch {
        /// The request.
        id: RequestId,
        /// The API of the request.
        expected: ApiKey,
        /// The API of the response.
        got: ApiKey,
    },
    /// The negotiated version cannot express the request (e.g. static
    /// membership needs JoinGroup v5+).
    #[error("{api} v{version} cannot carry {what}")]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The negotiated version.
        version: i16,
        /// What the version lacks.
        what: &'static str,
    },
    /// The coordinator answered with an error that ends membership.
    #[error("{code} from {api}")]
    Broker {
        /// The API that failed.
        api: ApiKey,
        /// The error code.
        code: ErrorCode,
    },
    /// A request failed in transport with an error that retrying cannot fix.
    #[error("{api} request failed: {message}")]
    Request {
        /// The API of the request.
        api: ApiKey,
        /// The transport error, rendered.
        message: String,
    },
    /// A subscription or assignment payload could not be coded.
    #[error("consumer protocol payload: {0}")]
    Protocol(#[from] ProtocolError),
    /// The assignor failed or broke the cooperative rule.
    #[error("assignor: {0}")]
    Assignor(String),
    /// The member has been closed or has failed.
    #[error("the group member is closed")]
    Closed,
}

impl GroupError {
    /// The broker error code, if the broker reported one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GroupError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A request that failed without a response (connection lost, timeout, no
/// usable version), as the driver reports it to
/// [`GroupMember::handle_error`](super::GroupMember::handle_error).
///
/// The member only needs to know whether retrying may help and, if the
/// broker said so, its error code; the client's error type implements this.
pub trait RequestFailure: std::fmt::Display {
    /// Whether the same request may succeed if retried.
    fn is_retriable(&self) -> bool;
    /// The broker error code, if the broker reported one.
    fn code(&self) -> Option<ErrorCode>;
    /// Whether the connection broke while the request was in flight (the
    /// broker closed it, or an I/O error): counted by the member to detect
    /// a request a broker keeps dropping.
    fn is_connection_drop(&self) -> bool {
        false
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
