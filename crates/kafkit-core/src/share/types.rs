//! The share session's inputs and outputs: partitions named by topic id,
//! fetch limits, outcomes of responses, and refusals.
//!
//! Spec: KIP-932.

use bytes::Bytes;

use super::acks::AcknowledgeType;
use std::collections::BTreeMap;

use crate::protocol::messages::share_fetch::{
    AcknowledgementBatch, AcquiredRecords, ShareFetchPartition, ShareFetchTopic,
    ShareForgottenTopic,
};
use crate::protocol::{ApiKey, ErrorCode, Uuid};

/// A partition named by topic id, as share requests name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicIdPartition {
    /// The topic id.
    pub topic_id: Uuid,
    /// The partition index.
    pub partition: i32,
}

/// How a leader counts `max_records` when it acquires (`share.acquire.mode`,
/// KIP-1206; ShareFetch v2+, ignored by older brokers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareAcquireMode {
    /// Whole record batches: a fetch may acquire more than `max_records`
    /// to end on a batch boundary (the default, as Java's `batch_optimized`).
    #[default]
    BatchOptimized,
    /// At most `max_records` records per fetch, even from inside a larger
    /// batch (Java's `record_limit`).
    RecordLimit,
}

impl ShareAcquireMode {
    /// The wire value (0 batch-optimized, 1 record-limit).
    pub fn wire(self) -> i8 {
        match self {
            Self::BatchOptimized => 0,
            Self::RecordLimit => 1,
        }
    }
}

/// Limits of a ShareFetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareFetchLimits {
    /// Longest the leader may wait for `min_bytes`, in ms.
    pub max_wait_ms: i32,
    /// Bytes to accumulate before answering.
    pub min_bytes: i32,
    /// Bytes to return at most.
    pub max_bytes: i32,
    /// Records to acquire at most.
    pub max_records: i32,
    /// Whether `max_records` may be exceeded to end on a batch boundary.
    pub acquire_mode: ShareAcquireMode,
}

/// An input the session cannot take in its state, or an acknowledgement
/// of an offset it does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareSessionError {
    /// A request is already in flight, or none is when a response came.
    #[error("share session: {0}")]
    InvalidState(&'static str),
    /// The offset is not acquired by this member, or was already acknowledged.
    #[error("offset {offset} of partition {partition:?} is not acquired by this member")]
    NotAcquired {
        /// The partition.
        partition: TopicIdPartition,
        /// The offset.
        offset: i64,
    },
    /// The offset's acknowledgement is already on the wire.
    #[error("offset {offset} of partition {partition:?} is already being acknowledged")]
    AckInFlight {
        /// The partition.
        partition: TopicIdPartition,
        /// The offset.
        offset: i64,
    },
    /// The broker acquired a range no broker would (inverted, or longer than
    /// [`super::acks::MAX_ACQUIRED_RANGE`]).
    #[error("ShareFetch acquired an impossible range {first}..={last} of {partition:?}")]
    BadRange {
        /// The partition.
        partition: TopicIdPartition,
        /// First offset of the range.
        first: i64,
        /// Last offset of the range.
        last: i64,
    },
}

impl ShareSessionError {
    /// Whether the same operation may succeed if retried: a broker's
    /// impossible range is (the records come back with the next fetch);
    /// a caller's acknowledgement of an offset it does not hold is not.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ShareSessionError::BadRange { .. })
    }
}

/// The outcome of one partition's acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckResult {
    /// The partition.
    pub partition: TopicIdPartition,
    /// `NONE` when the broker applied them.
    pub error: ErrorCode,
    /// The offsets and how they were acknowledged.
    pub offsets: Vec<(i64, AcknowledgeType)>,
}

/// Records a ShareFetch acquired for this member in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquiredData {
    /// The partition.
    pub partition: TopicIdPartition,
    /// The record batches (they may hold records outside `acquired`, which
    /// are not this member's).
    pub records: Bytes,
    /// The acquired ranges with their delivery counts.
    pub acquired: Vec<AcquiredRecords>,
}

/// What a response (or a failed request) did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareOutcome {
    /// The API answered.
    pub api: Option<ApiKey>,
    /// The top-level error; anything but `NONE` reset the session.
    pub error: ErrorCode,
    /// Acquired records per partition (ShareFetch only).
    pub acquired: Vec<AcquiredData>,
    /// Partition-level fetch errors (a moved leader, an unknown topic).
    pub partition_errors: Vec<(TopicIdPartition, ErrorCode)>,
    /// The outcome of every acknowledgement the request carried.
    pub acks: Vec<AckResult>,
}

/// Request topics: partitions grouped by topic, with their acknowledgements.
pub(super) fn group_topics(
    entries: BTreeMap<TopicIdPartition, Vec<AcknowledgementBatch>>,
) -> Vec<ShareFetchTopic> {
    let mut topics: Vec<ShareFetchTopic> = Vec::new();
    for (tp, batches) in entries {
        let partition = ShareFetchPartition {
            partition_index: tp.partition,
            acknowledgement_batches: batches,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic_id == tp.topic_id => t.partitions.push(partition),
            _ => topics.push(ShareFetchTopic {
                topic_id: tp.topic_id,
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    topics
}

/// Forgotten partitions grouped by topic.
pub(super) fn forgotten_topics(forgotten: &[TopicIdPartition]) -> Vec<ShareForgottenTopic> {
    let mut topics: Vec<ShareForgottenTopic> = Vec::new();
    for tp in forgotten {
        match topics.last_mut() {
            Some(t) if t.topic_id == tp.topic_id => t.partitions.push(tp.partition),
            _ => topics.push(ShareForgottenTopic {
                topic_id: tp.topic_id,
                partitions: vec![tp.partition],
                ..Default::default()
            }),
        }
    }
    topics
}
