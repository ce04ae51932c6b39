//! What the member tells the driver and the application.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Instant;

use crate::protocol::ErrorCode;

use super::error::GroupError;
use super::TopicPartition;

/// An offset to commit, or one read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next record to consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, if known (KIP-320).
    pub leader_epoch: Option<i32>,
    /// Application metadata stored with the offset.
    pub metadata: String,
}

impl OffsetAndMetadata {
    /// An offset with no epoch and no metadata.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            leader_epoch: None,
            metadata: String::new(),
        }
    }
}

/// Offsets per partition.
pub type Offsets = BTreeMap<TopicPartition, OffsetAndMetadata>;

/// Names a commit started with [`GroupMember::commit`](super::GroupMember::commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(pub(crate) u64);

/// Names an offset fetch started with
/// [`GroupMember::fetch_committed`](super::GroupMember::fetch_committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffsetFetchId(pub(crate) u64);

/// Why a commit or an offset fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetError {
    /// The coordinator refused these partitions.
    Partitions(BTreeMap<TopicPartition, ErrorCode>),
    /// The coordinator refused the member (e.g. `ILLEGAL_GENERATION`,
    /// `REBALANCE_IN_PROGRESS`): the member no longer owns what it committed.
    Group(ErrorCode),
    /// The member had no valid generation when the commit was due.
    NotMember,
    /// Not done by its deadline (`commit_timeout`).
    TimedOut,
    /// A transport error that retrying cannot fix.
    Transport(String),
    /// The member closed or failed first.
    Aborted,
}

impl fmt::Display for OffsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffsetError::Partitions(m) => write!(f, "{} partitions failed", m.len()),
            OffsetError::Group(code) => write!(f, "group error {code}"),
            OffsetError::NotMember => f.write_str("not a member of the current generation"),
            OffsetError::TimedOut => f.write_str("timed out"),
            OffsetError::Transport(m) => write!(f, "transport: {m}"),
            OffsetError::Aborted => f.write_str("aborted"),
        }
    }
}

impl std::error::Error for OffsetError {}

impl OffsetError {
    /// Whether the same commit or fetch may succeed if tried again: a
    /// retriable group or partition code, or a timeout. Not for a lost
    /// membership (`NotMember`, `Aborted`) or a transport error that retrying
    /// could not fix.
    pub fn is_retriable(&self) -> bool {
        match self {
            OffsetError::Partitions(codes) => {
                !codes.is_empty() && codes.values().all(|c| c.is_retriable())
            }
            OffsetError::Group(code) => code.is_retriable(),
            OffsetError::TimedOut => true,
            OffsetError::NotMember | OffsetError::Transport(_) | OffsetError::Aborted => false,
        }
    }
}

/// Why the member (re)joins the group; sent as the JoinGroup reason (v8+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejoinReason {
    /// First join after the application started polling.
    Initial,
    /// The application resumed polling after the poll timeout.
    Resumed,
    /// The coordinator said a rebalance is in progress.
    RebalanceInProgress,
    /// Second phase of a cooperative rebalance, after revoking.
    CooperativeFollowUp,
    /// The subscription changed.
    SubscriptionChanged,
    /// The leader saw partition counts change since it assigned.
    MetadataChanged,
    /// The coordinator reset the member's generation (and maybe its id).
    GenerationReset(ErrorCode),
    /// No heartbeat succeeded within the session timeout.
    SessionTimeout,
    /// The SyncGroup failed; the generation must be joined again.
    SyncFailed(ErrorCode),
}

impl fmt::Display for RejoinReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejoinReason::Initial => f.write_str("initial join"),
            RejoinReason::Resumed => f.write_str("resumed after poll timeout"),
            RejoinReason::RebalanceInProgress => f.write_str("rebalance in progress"),
            RejoinReason::CooperativeFollowUp => {
                f.write_str("cooperative follow-up after revoking")
            }
            RejoinReason::SubscriptionChanged => f.write_str("subscription changed"),
            RejoinReason::MetadataChanged => f.write_str("partition counts changed"),
            RejoinReason::GenerationReset(c) => write!(f, "generation reset by {c}"),
            RejoinReason::SessionTimeout => f.write_str("session timed out"),
            RejoinReason::SyncFailed(c) => write!(f, "sync failed with {c}"),
        }
    }
}

/// Why partitions were lost rather than revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostReason {
    /// No successful heartbeat within the session timeout.
    SessionTimeout,
    /// The coordinator no longer knows the member or its generation.
    GenerationReset(ErrorCode),
    /// The application exceeded the max poll interval.
    PollTimeout,
    /// The member failed (e.g. fenced).
    Fatal,
}

/// Something the driver or the application must act on, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// A rebalance started.
    Rebalancing {
        /// Why.
        reason: RejoinReason,
    },
    /// The elected leader needs partition counts for these topics: call
    /// [`set_metadata`](super::GroupMember::set_metadata).
    MetadataNeeded {
        /// Every topic some member subscribes to.
        topics: BTreeSet<String>,
    },
    /// The member is about to give these partitions up: stop consuming them
    /// and call [`commit`](super::GroupMember::commit) once with the offsets
    /// processed for them (possibly none). The member waits for that commit
    /// until `deadline`.
    CommitNeeded {
        /// The partitions about to be revoked.
        partitions: BTreeSet<TopicPartition>,
        /// When the member stops waiting.
        deadline: Instant,
    },
    /// The partitions were given up cleanly (after the commit, if any).
    Revoked {
        /// The partitions.
        partitions: BTreeSet<TopicPartition>,
    },
    /// The partitions may already belong to another member; they were not
    /// committed. Stop consuming them at once.
    Lost {
        /// The partitions.
        partitions: BTreeSet<TopicPartition>,
        /// Why.
        reason: LostReason,
    },
    /// New partitions for this member (empty when a rebalance added none);
    /// [`assignment`](super::GroupMember::assignment) has the full set.
    Assigned {
        /// Partitions added by this rebalance.
        partitions: BTreeSet<TopicPartition>,
        /// The generation they belong to.
        generation_id: i32,
    },
    /// A commit finished.
    CommitCompleted {
        /// The commit.
        id: CommitId,
        /// Its result.
        result: Result<(), OffsetError>,
    },
    /// An offset fetch finished; `None` where the group has no offset.
    OffsetsFetched {
        /// The fetch.
        id: OffsetFetchId,
        /// Committed offsets by partition.
        result: Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>, OffsetError>,
    },
    /// The application did not poll within `max_poll_interval`; the member
    /// gives its partitions up as lost and leaves until the next poll.
    PollTimeoutExpired,
    /// LeaveGroup was answered (or failed: `error` says which).
    LeftGroup {
        /// `NONE`, the coordinator's error, or `REQUEST_TIMED_OUT` when no
        /// answer came.
        error: ErrorCode,
    },
    /// The coordinator closed the connection again and again while the same
    /// request was in flight; the member keeps retrying with a growing
    /// backoff, one version lower when there is one (see
    /// [`DroppedRequest`](crate::group::error::DroppedRequest)).
    RequestDropped(crate::group::error::DroppedRequest),
    /// The member cannot continue (e.g. `FENCED_INSTANCE_ID`, authorization).
    Fatal(GroupError),
    /// Closed: nothing more will happen.
    Closed,
}
