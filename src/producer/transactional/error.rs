//! The typed error of the transactional producer.

use std::fmt;

use crate::producer::transaction::TxnError;
use crate::protocol::{ApiKey, ErrorCode};

/// What a failed transactional call means for the producer, as the Java
/// client classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// The producer is unusable (fenced by a newer instance with the same
    /// transactional id, not authorized, an unsupported version): close it.
    Fatal,
    /// The open transaction cannot commit: abort it, then carry on.
    Abortable,
    /// The call does not fit the producer's transaction state (`commit`
    /// without `begin`, a second `begin`, `send_offsets` outside a
    /// transaction, a non-transactional producer).
    InvalidState,
    /// The call did not finish within the producer's transaction timeout
    /// (the coordinator kept answering with retriable errors or could not
    /// be reached); the call may be made again.
    TimedOut,
}

/// A transactional call failed. Names the transactional id and, when a
/// broker was involved, the broker, API and version of the exchange that
/// failed, the error code and the partition it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionError {
    /// How bad it is.
    pub kind: TransactionErrorKind,
    /// The producer's transactional id.
    pub transactional_id: String,
    /// The broker of the failed exchange (`host:port`), if any.
    pub broker: Option<String>,
    /// The API that failed, if a broker answered with an error.
    pub api: Option<ApiKey>,
    /// The version that API was sent at, if known.
    pub version: Option<i16>,
    /// The broker's error code, if it reported one.
    pub code: Option<ErrorCode>,
    /// The partition the error concerns, if one.
    pub partition: Option<(String, i32)>,
    /// What happened, in words.
    pub reason: String,
}

impl TransactionError {
    /// Whether the producer is unusable and must be closed.
    pub fn is_fatal(&self) -> bool {
        self.kind == TransactionErrorKind::Fatal
    }

    /// Whether the transaction must be aborted (the producer stays usable).
    pub fn is_abortable(&self) -> bool {
        self.kind == TransactionErrorKind::Abortable
    }

    /// Whether the producer was fenced by a newer instance with the same
    /// transactional id (`PRODUCER_FENCED`, or `INVALID_PRODUCER_EPOCH`
    /// from a broker older than KIP-588).
    pub fn is_fenced(&self) -> bool {
        self.is_fatal()
            && matches!(
                self.code,
                Some(ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH)
            )
    }

    pub(crate) fn new(kind: TransactionErrorKind, id: &str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            transactional_id: id.to_owned(),
            broker: None,
            api: None,
            version: None,
            code: None,
            partition: None,
            reason: reason.into(),
        }
    }

    /// The machine's error, with where its last exchange went (`exchange`:
    /// broker, API and version) when it is about that API.
    pub(crate) fn from_machine(
        id: &str,
        e: &TxnError,
        exchange: Option<&(String, ApiKey, i16)>,
    ) -> Self {
        let (kind, api, code, partition) = match e {
            TxnError::Fatal { api, error } => {
                (TransactionErrorKind::Fatal, Some(*api), Some(*error), None)
            }
            TxnError::Abortable {
                api,
                error,
                partition,
            } => (
                TransactionErrorKind::Abortable,
                Some(*api),
                Some(*error),
                partition.clone(),
            ),
            TxnError::InvalidTransition { .. } | TxnError::InvalidArgument(_) => {
                (TransactionErrorKind::InvalidState, None, None, None)
            }
            _ => (TransactionErrorKind::Fatal, None, None, None),
        };
        let mut out = Self::new(kind, id, e.to_string());
        out.api = api;
        out.code = code;
        out.partition = partition;
        if let Some((broker, sent, version)) = exchange.filter(|x| Some(x.1) == api) {
            out.broker = Some(broker.clone());
            out.version = Some(*version);
            out.api = Some(*sent);
        }
        out
    }
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TransactionErrorKind::Fatal => "fatal (the producer is unusable)",
            TransactionErrorKind::Abortable => "abortable (abort the transaction)",
            TransactionErrorKind::InvalidState => "invalid state",
            TransactionErrorKind::TimedOut => "timed out",
        };
        write!(
            f,
            "transactional producer {:?}: {kind}",
            self.transactional_id
        )?;
        if let Some(api) = self.api {
            write!(f, ": {api}")?;
            if let Some(v) = self.version {
                write!(f, " v{v}")?;
            }
        }
        if let Some(broker) = &self.broker {
            write!(f, " at broker {broker}")?;
        }
        if let Some(code) = self.code {
            write!(f, " failed with {code}")?;
        }
        if let Some((topic, p)) = &self.partition {
            write!(f, " for {topic}/{p}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for TransactionError {}
