//! What the transaction state machine reports, and how it classifies the
//! broker's error codes (as the Java client's `TransactionManager` does).

use std::fmt;

use crate::protocol::{ApiKey, ErrorCode};

use super::TxnState;

/// What an error code means for the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Success.
    None,
    /// The coordinator moved or is unknown: find it again, then retry.
    CoordinatorMoved,
    /// Transient: retry the same request after the retry backoff
    /// (`CONCURRENT_TRANSACTIONS`, a coordinator still loading, an unknown
    /// partition, a timeout).
    RetryAfterBackoff,
    /// The transaction cannot commit; abort it and carry on.
    Abortable,
    /// The producer is unusable (fenced, unauthorized, unsupported); close it.
    Fatal,
}

/// Classifies `code` as the answer to `api`.
///
/// Coordinator errors follow the Java client: `NOT_COORDINATOR` and
/// `COORDINATOR_NOT_AVAILABLE` send the producer to find the coordinator
/// again, `COORDINATOR_LOAD_IN_PROGRESS` retries at the same one after the
/// backoff. Errors the Java client does not name for an API are fatal there
/// too ("unexpected error"), and so here.
pub fn classify(api: ApiKey, code: ErrorCode) -> ErrorClass {
    match code {
        ErrorCode::NONE => ErrorClass::None,
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            ErrorClass::CoordinatorMoved
        }
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        | ErrorCode::CONCURRENT_TRANSACTIONS
        | ErrorCode::REQUEST_TIMED_OUT
        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => ErrorClass::RetryAfterBackoff,
        ErrorCode::PRODUCER_FENCED
        | ErrorCode::INVALID_PRODUCER_EPOCH
        | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
        | ErrorCode::UNSUPPORTED_VERSION
        | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
        | ErrorCode::INVALID_TXN_STATE => ErrorClass::Fatal,
        ErrorCode::TRANSACTION_ABORTABLE
        | ErrorCode::TOPIC_AUTHORIZATION_FAILED
        | ErrorCode::GROUP_AUTHORIZATION_FAILED
        | ErrorCode::INVALID_PRODUCER_ID_MAPPING
        | ErrorCode::UNKNOWN_PRODUCER_ID
        | ErrorCode::OPERATION_NOT_ATTEMPTED => ErrorClass::Abortable,
        // A consumer that lost its generation: the commit fails, the
        // transaction must abort (Java: CommitFailedException).
        ErrorCode::UNKNOWN_MEMBER_ID
        | ErrorCode::ILLEGAL_GENERATION
        | ErrorCode::FENCED_INSTANCE_ID
        | ErrorCode::OFFSET_METADATA_TOO_LARGE
            if api == ApiKey::TXN_OFFSET_COMMIT =>
        {
            ErrorClass::Abortable
        }
        _ => ErrorClass::Fatal,
    }
}

/// An error of the transactional producer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnError {
    /// The operation is not allowed in the current state.
    InvalidTransition {
        /// The state the producer was in.
        state: TxnState,
        /// The operation asked for.
        operation: &'static str,
    },
    /// The transaction failed and must be aborted; the producer stays usable.
    Abortable {
        /// The API that failed.
        api: ApiKey,
        /// The broker's error.
        error: ErrorCode,
        /// The partition, when the error was about one.
        partition: Option<(String, i32)>,
    },
    /// The producer is unusable and must be closed (fenced by a newer
    /// instance with the same transactional id, not authorized, or the broker
    /// lacks what transactions need).
    Fatal {
        /// The API that failed.
        api: ApiKey,
        /// The broker's error.
        error: ErrorCode,
    },
    /// A response that does not answer the request in flight (a bug in the
    /// caller driving the state machine).
    UnexpectedResponse {
        /// What was in flight, if anything.
        expected: Option<ApiKey>,
        /// What was handed in.
        got: ApiKey,
    },
    /// The configuration or an argument is invalid.
    InvalidArgument(&'static str),
}

impl fmt::Display for TxnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTransition { state, operation } => {
                write!(f, "{operation} is not allowed in transaction state {state:?}")
            }
            Self::Abortable {
                api,
                error,
                partition,
            } => {
                write!(f, "{api} failed with {error}")?;
                if let Some((topic, p)) = partition {
                    write!(f, " on {topic}-{p}")?;
                }
                write!(f, ": the transaction must be aborted")
            }
            Self::Fatal { api, error } => write!(
                f,
                "{api} failed with {error}: the transactional producer is unusable and must be closed"
            ),
            Self::UnexpectedResponse { expected, got } => {
                write!(f, "a {got} response while {expected:?} was in flight")
            }
            Self::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for TxnError {}
