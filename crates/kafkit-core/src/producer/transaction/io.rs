//! The requests, answers and events the transaction state machine
//! exchanges with its driver.

use crate::producer::TopicPartition;
use crate::protocol::messages::add_offsets_to_txn::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse,
};
use crate::protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
};
use crate::protocol::messages::end_txn::{EndTxnRequest, EndTxnResponse};
use crate::protocol::messages::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::messages::txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use crate::protocol::{ApiKey, VersionRange};

use super::TxnError;

/// Where a request goes: a coordinator, named by its key. The driver
/// finds it (FindCoordinator, key type 1 or 0) and keeps it; the machine
/// only says when it must be found again ([`Outgoing::rediscover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The transaction coordinator of this transactional id.
    TransactionCoordinator(String),
    /// The group coordinator of this group (TxnOffsetCommit).
    GroupCoordinator(String),
}

/// A request the machine wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnRequest {
    /// InitProducerId with the transactional id.
    InitProducerId(InitProducerIdRequest),
    /// AddPartitionsToTxn in its client (v0-v3) shape.
    AddPartitionsToTxn(AddPartitionsToTxnRequest),
    /// AddOffsetsToTxn.
    AddOffsetsToTxn(AddOffsetsToTxnRequest),
    /// TxnOffsetCommit with the group's metadata.
    TxnOffsetCommit(TxnOffsetCommitRequest),
    /// EndTxn.
    EndTxn(EndTxnRequest),
}

impl TxnRequest {
    /// The request's API.
    pub fn api_key(&self) -> ApiKey {
        match self {
            Self::InitProducerId(_) => ApiKey::INIT_PRODUCER_ID,
            Self::AddPartitionsToTxn(_) => ApiKey::ADD_PARTITIONS_TO_TXN,
            Self::AddOffsetsToTxn(_) => ApiKey::ADD_OFFSETS_TO_TXN,
            Self::TxnOffsetCommit(_) => ApiKey::TXN_OFFSET_COMMIT,
            Self::EndTxn(_) => ApiKey::END_TXN,
        }
    }
}

/// A request to send, where, and at which versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The coordinator to send it to.
    pub destination: Destination,
    /// The coordinator moved or its connection broke since the last
    /// request to it: the driver must look it up again before sending.
    pub rediscover: bool,
    /// The versions this request may be sent at (intersect with the broker's).
    pub versions: VersionRange,
    /// The request.
    pub request: TxnRequest,
}

/// A broker's answer, handed to [`TransactionManager::on_response`](super::TransactionManager::on_response).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnResponse {
    /// To InitProducerId.
    InitProducerId(InitProducerIdResponse),
    /// To AddPartitionsToTxn.
    AddPartitionsToTxn(AddPartitionsToTxnResponse),
    /// To AddOffsetsToTxn.
    AddOffsetsToTxn(AddOffsetsToTxnResponse),
    /// To TxnOffsetCommit.
    TxnOffsetCommit(TxnOffsetCommitResponse),
    /// To EndTxn.
    EndTxn(EndTxnResponse),
}

impl TxnResponse {
    /// The response's API.
    pub fn api_key(&self) -> ApiKey {
        match self {
            Self::InitProducerId(_) => ApiKey::INIT_PRODUCER_ID,
            Self::AddPartitionsToTxn(_) => ApiKey::ADD_PARTITIONS_TO_TXN,
            Self::AddOffsetsToTxn(_) => ApiKey::ADD_OFFSETS_TO_TXN,
            Self::TxnOffsetCommit(_) => ApiKey::TXN_OFFSET_COMMIT,
            Self::EndTxn(_) => ApiKey::END_TXN,
        }
    }
}

/// Something that completed (or failed) since the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnEvent {
    /// `init_transactions` completed with this producer id and epoch.
    Initialized {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i16,
    },
    /// These partitions are in the transaction: produce to them.
    PartitionsAdded(Vec<TopicPartition>),
    /// `send_offsets` completed.
    OffsetsSent,
    /// The transaction committed.
    Committed,
    /// The transaction aborted.
    Aborted,
    /// An operation failed (abortable or fatal).
    Failed(TxnError),
}

/// The consumer group metadata sent with offsets (KIP-447), so the group
/// coordinator can fence a producer whose consumer lost its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadata {
    /// Group id.
    pub group_id: String,
    /// Generation (classic protocol) or member epoch (KIP-848); -1 for none.
    pub generation_id: i32,
    /// Member id; empty for none.
    pub member_id: String,
    /// Static member id.
    pub group_instance_id: Option<String>,
}

/// One offset to commit in the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffset {
    /// Topic and partition.
    pub partition: TopicPartition,
    /// The next offset the group will consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, -1 if unknown.
    pub leader_epoch: i32,
    /// Metadata stored with the offset.
    pub metadata: Option<String>,
}
