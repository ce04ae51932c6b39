//! The transactional producer's state machine (KIP-98, KIP-447, KIP-890),
//! sans-IO: inputs are the user's calls, the broker's responses and `now`;
//! outputs are the requests to send ([`TransactionManager::poll_request`]),
//! events ([`TransactionManager::poll_event`]) and typed errors. It holds no
//! socket, task or clock (it logs nothing either: the driver reports the
//! events); the producer drives it.
//!
//! ```text
//!                 init_transactions
//!  Uninitialized ───────────────────▶ Initializing
//!                                     │ InitProducerId (transactional id, timeout)
//!                                     ▼
//!          ┌───────────────────────▶ Ready ◀──────────────────────────────┐
//!          │                          │ begin_transaction                 │
//!          │                          ▼                                   │
//!          │                    InTransaction ── add_partition: v1 sends  │
//!          │                     │    │  │       AddPartitionsToTxn before│
//!          │          commit     │    │  │       the first Produce to the │
//!          │        ┌────────────┘    │  │       partition; v2 (KIP-890,  │
//!          │        ▼           abort │  │       transaction.version >= 2)│
//!          │   Committing             │  │       adds it implicitly       │
//!          │   (EndTxn commit)        │  │ send_offsets: v1 AddOffsetsToTxn
//!          │        │                 ▼  │ then TxnOffsetCommit; v2 only  │
//!          └────────┘             Aborting  TxnOffsetCommit v5            │
//!                                 (EndTxn abort) ─────────────────────────┘
//!
//!  InTransaction / Committing ── abortable error ──▶ AbortableError ── abort ──▶ Aborting
//!  any state ── fatal error ──▶ FatalError (terminal: close the producer)
//! ```
//!
//! EndTxn v5 (transaction protocol v2) bumps the producer epoch at the end of
//! every transaction; the machine takes the new id and epoch from the answer.
//!
//! Errors are classified as the Java client does ([`classify`]): abortable
//! (the transaction must be aborted, the producer carries on), fatal
//! (`PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH`,
//! `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`, `UNSUPPORTED_VERSION`, ...: the
//! producer is unusable), coordinator moved (`NOT_COORDINATOR`,
//! `COORDINATOR_NOT_AVAILABLE`: the next request to that coordinator says
//! [`Outgoing::rediscover`], the driver finds it again) and
//! retriable (`CONCURRENT_TRANSACTIONS`, `COORDINATOR_LOAD_IN_PROGRESS`: the
//! same request after the retry backoff). One request is in flight at a time.
//!
//! Requests name their coordinator by key ([`Destination`]); the driver
//! finds it (FindCoordinator) and reports a failed lookup with
//! [`TransactionManager::on_coordinator_error`], whose code the machine
//! classifies like any other.
//!
//! What the driver must do besides: send each [`Outgoing`] at a version in
//! both its `versions` and the broker's range (AddPartitionsToTxn as a client
//! sends only v0-3; with v1 transactions TxnOffsetCommit and EndTxn stop at
//! v4, with v2 they are v5), produce to a partition only once
//! [`TransactionManager::is_partition_ready`] says so (v2 needs Produce v12,
//! which marks the implicit add), flush every batch of the transaction before
//! calling [`TransactionManager::commit`], stamp batches with the current
//! [`TransactionManager::producer_id_and_epoch`] and the transactional flag,
//! and report final Produce errors through
//! [`TransactionManager::on_produce_error`].
//!
//! Spec: KIP-98 (transactions), KIP-360 (epoch bump), KIP-447 (group
//! metadata in TxnOffsetCommit), KIP-890 (transaction protocol v2).

mod errors;
mod handlers;
mod io;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::producer::TopicPartition;
use crate::protocol::ApiKey;

pub use errors::{classify, ErrorClass, TxnError};
pub use io::{Destination, GroupMetadata, Outgoing, TxnEvent, TxnOffset, TxnRequest, TxnResponse};

/// Settings of a transactional producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// The transactional id (`transactional.id`), non-empty.
    pub transactional_id: String,
    /// Idle time after which the coordinator aborts an open transaction.
    pub transaction_timeout: Duration,
    /// Wait before retrying a request that failed transiently.
    pub retry_backoff: Duration,
}

impl TxnConfig {
    /// A configuration with the Java client's defaults (60 s timeout, 100 ms backoff).
    pub fn new(transactional_id: impl Into<String>) -> Self {
        Self {
            transactional_id: transactional_id.into(),
            transaction_timeout: Duration::from_secs(60),
            retry_backoff: Duration::from_millis(100),
        }
    }
}

/// Where the transactional producer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// `init_transactions` not called yet.
    Uninitialized,
    /// Finding the coordinator and asking for a producer id.
    Initializing,
    /// Between transactions.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// EndTxn (commit) queued or in flight.
    Committing,
    /// EndTxn (abort) queued or in flight.
    Aborting,
    /// The transaction failed; only `abort` is allowed.
    AbortableError,
    /// The producer is unusable.
    FatalError,
}

/// Which coordinator a step talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Coordinator {
    Transaction,
    Group(String),
}

/// A queued unit of work.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    InitProducerId,
    AddPartitions,
    AddOffsets(String),
    TxnOffsetCommit(GroupMetadata, Vec<TxnOffset>),
    EndTxn(bool),
}

impl Step {
    fn coordinator(&self) -> Coordinator {
        match self {
            Self::TxnOffsetCommit(g, _) => Coordinator::Group(g.group_id.clone()),
            _ => Coordinator::Transaction,
        }
    }
}

/// The transactional producer's state machine; see the module docs.
#[derive(Debug)]
pub struct TransactionManager {
    config: TxnConfig,
    state: TxnState,
    /// The broker's finalized `transaction.version`; applied at `begin_transaction`.
    finalized_version: i16,
    /// Transaction protocol v2 for the open transaction.
    v2: bool,
    producer_id: i64,
    epoch: i16,
    /// The transaction coordinator must be looked up again.
    txn_moved: bool,
    /// The group coordinator must be looked up again.
    group_moved: bool,
    pending_partitions: BTreeSet<TopicPartition>,
    sending_partitions: BTreeSet<TopicPartition>,
    added: BTreeSet<TopicPartition>,
    /// Something was added to the transaction (EndTxn is needed).
    started: bool,
    queue: VecDeque<Step>,
    in_flight: Option<Step>,
    retry_at: Option<Instant>,
    events: VecDeque<TxnEvent>,
    error: Option<TxnError>,
}

impl TransactionManager {
    /// A machine in `Uninitialized`; fails on an empty transactional id.
    pub fn new(config: TxnConfig) -> Result<Self, TxnError> {
        if config.transactional_id.is_empty() {
            return Err(TxnError::InvalidArgument("transactional id is empty"));
        }
        if i32::try_from(config.transaction_timeout.as_millis()).is_err() {
            return Err(TxnError::InvalidArgument(
                "transaction timeout above i32::MAX ms",
            ));
        }
        Ok(Self {
            config,
            state: TxnState::Uninitialized,
            finalized_version: 0,
            v2: false,
            producer_id: -1,
            epoch: -1,
            txn_moved: false,
            group_moved: false,
            pending_partitions: BTreeSet::new(),
            sending_partitions: BTreeSet::new(),
            added: BTreeSet::new(),
            started: false,
            queue: VecDeque::new(),
            in_flight: None,
            retry_at: None,
            events: VecDeque::new(),
            error: None,
        })
    }

    /// The current state.
    pub fn state(&self) -> TxnState {
        self.state
    }

    /// The producer id and epoch to stamp on batches (-1 before init).
    pub fn producer_id_and_epoch(&self) -> (i64, i16) {
        (self.producer_id, self.epoch)
    }

    /// Whether the open transaction uses transaction protocol v2 (KIP-890).
    pub fn is_v2(&self) -> bool {
        self.v2
    }

    /// The error that put the machine in `AbortableError` or `FatalError`.
    pub fn last_error(&self) -> Option<&TxnError> {
        self.error.as_ref()
    }

    /// The broker's finalized `transaction.version` feature level (from
    /// ApiVersions); v2 is used from the next `begin_transaction` when >= 2.
    pub fn set_transaction_version(&mut self, level: i16) {
        self.finalized_version = level;
    }

    fn transition(&mut self, to: TxnState) {
        self.state = to;
    }

    /// Fails with the stored error in the error states, else with an
    /// invalid transition unless the state is one of `allowed`.
    fn require(&self, allowed: &[TxnState], operation: &'static str) -> Result<(), TxnError> {
        if allowed.contains(&self.state) {
            return Ok(());
        }
        match (&self.error, self.state) {
            (Some(e), TxnState::FatalError | TxnState::AbortableError) => Err(e.clone()),
            _ => Err(TxnError::InvalidTransition {
                state: self.state,
                operation,
            }),
        }
    }

    /// Starts initialization: FindCoordinator, then InitProducerId.
    pub fn init_transactions(&mut self) -> Result<(), TxnError> {
        self.require(&[TxnState::Uninitialized], "init_transactions")?;
        self.transition(TxnState::Initializing);
        self.queue.push_back(Step::InitProducerId);
        Ok(())
    }

    /// Asks for a new epoch between transactions (InitProducerId with the
    /// current id and epoch, KIP-360): needed after a transaction whose
    /// batches failed, since their sequence numbers are lost with them.
    /// `Initialized` tells when; the driver restarts its sequences then.
    pub fn bump_epoch(&mut self) -> Result<(), TxnError> {
        self.require(&[TxnState::Ready], "bump_epoch")?;
        self.transition(TxnState::Initializing);
        self.queue.push_back(Step::InitProducerId);
        Ok(())
    }

    /// Opens a transaction (local only: nothing is sent).
    pub fn begin_transaction(&mut self) -> Result<(), TxnError> {
        self.require(&[TxnState::Ready], "begin_transaction")?;
        self.v2 = self.finalized_version >= 2;
        self.added.clear();
        self.started = false;
        self.transition(TxnState::InTransaction);
        Ok(())
    }

    /// Declares a partition the transaction will write to. Returns whether
    /// it may be produced to now (v2, or already added); otherwise an
    /// AddPartitionsToTxn is queued and `PartitionsAdded` tells when.
    pub fn add_partition(&mut self, tp: TopicPartition) -> Result<bool, TxnError> {
        self.require(&[TxnState::InTransaction], "add_partition")?;
        if self.added.contains(&tp) {
            return Ok(true);
        }
        self.started = true;
        if self.v2 {
            self.added.insert(tp);
            return Ok(true);
        }
        if !self.sending_partitions.contains(&tp) && self.pending_partitions.insert(tp) {
            self.queue_add_partitions();
        }
        Ok(false)
    }

    /// Queues an AddPartitionsToTxn unless one is queued (one in flight
    /// carries only the partitions taken when it was sent).
    fn queue_add_partitions(&mut self) {
        if !self.queue.contains(&Step::AddPartitions) {
            self.queue.push_back(Step::AddPartitions);
        }
    }

    /// Whether the partition is in the transaction (Produce may go).
    pub fn is_partition_ready(&self, tp: &TopicPartition) -> bool {
        self.added.contains(tp)
    }

    /// Adds consumed offsets to the transaction: v1 AddOffsetsToTxn then
    /// TxnOffsetCommit, v2 TxnOffsetCommit alone. `OffsetsSent` tells when.
    pub fn send_offsets(
        &mut self,
        offsets: Vec<TxnOffset>,
        group: GroupMetadata,
    ) -> Result<(), TxnError> {
        self.require(&[TxnState::InTransaction], "send_offsets")?;
        if group.group_id.is_empty() {
            return Err(TxnError::InvalidArgument("group id is empty"));
        }
        self.started = true;
        if !self.v2 {
            self.queue
                .push_back(Step::AddOffsets(group.group_id.clone()));
        }
        self.queue.push_back(Step::TxnOffsetCommit(group, offsets));
        Ok(())
    }

    /// Commits the open transaction (after the queued adds and offsets).
    /// The driver must have flushed the transaction's batches first.
    pub fn commit(&mut self) -> Result<(), TxnError> {
        self.require(&[TxnState::InTransaction], "commit")?;
        self.transition(TxnState::Committing);
        self.end(true);
        Ok(())
    }

    /// Aborts the open (or failed) transaction; queued adds and offsets are dropped.
    pub fn abort(&mut self) -> Result<(), TxnError> {
        self.require(
            &[TxnState::InTransaction, TxnState::AbortableError],
            "abort",
        )?;
        self.error = None;
        self.queue.clear();
        self.pending_partitions.clear();
        self.transition(TxnState::Aborting);
        self.end(false);
        Ok(())
    }

    fn end(&mut self, commit: bool) {
        if self.started || self.in_flight.is_some() {
            self.queue.push_back(Step::EndTxn(commit));
        } else {
            // Nothing reached the coordinator: nothing to end.
            self.finish_transaction(commit);
        }
    }

    fn finish_transaction(&mut self, committed: bool) {
        self.added.clear();
        self.sending_partitions.clear();
        self.started = false;
        self.transition(TxnState::Ready);
        self.events.push_back(if committed {
            TxnEvent::Committed
        } else {
            TxnEvent::Aborted
        });
    }

    /// A Produce to `tp` failed for good with `error`: abortable errors
    /// fail the transaction, fatal ones the producer.
    pub fn on_produce_error(&mut self, tp: &TopicPartition, error: crate::protocol::ErrorCode) {
        let partition = Some((tp.topic.clone(), tp.partition));
        match classify(ApiKey::PRODUCE, error) {
            ErrorClass::None => {}
            ErrorClass::Fatal => self.fatal(ApiKey::PRODUCE, error),
            _ => self.abortable(ApiKey::PRODUCE, error, partition),
        }
    }

    fn fatal(&mut self, api: ApiKey, error: crate::protocol::ErrorCode) {
        let e = TxnError::Fatal { api, error };
        self.queue.clear();
        self.error = Some(e.clone());
        self.events.push_back(TxnEvent::Failed(e));
        self.transition(TxnState::FatalError);
    }

    fn abortable(
        &mut self,
        api: ApiKey,
        error: crate::protocol::ErrorCode,
        partition: Option<(String, i32)>,
    ) {
        if matches!(
            self.state,
            TxnState::FatalError | TxnState::AbortableError | TxnState::Aborting
        ) {
            // Already failed, or aborting anyway.
            return;
        }
        if matches!(self.state, TxnState::Uninitialized | TxnState::Initializing) {
            return self.fatal(api, error);
        }
        let e = TxnError::Abortable {
            api,
            error,
            partition,
        };
        self.queue.clear();
        self.pending_partitions.clear();
        self.error = Some(e.clone());
        self.events.push_back(TxnEvent::Failed(e));
        self.transition(TxnState::AbortableError);
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<TxnEvent> {
        self.events.pop_front()
    }

    /// When a backoff ends (the driver should poll again then).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Whether a request is in flight.
    pub fn has_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }
}
