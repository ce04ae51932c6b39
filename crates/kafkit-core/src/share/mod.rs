//! Share groups (KIP-932, "queues for Kafka"), sans-IO: the client side of
//! a share session with each partition leader and the bookkeeping of
//! acquired records and their acknowledgements.
//!
//! A share-group member does not own partitions the way a consumer-group
//! member does: each leader's share-partition hands records out one
//! acquisition at a time, locked to the member for the acquisition lock
//! timeout, and the member settles each record with an acknowledgement
//! ([`AcknowledgeType`]): accepted, released for redelivery or rejected
//! (archived). [`ShareSession`] builds the ShareFetch and ShareAcknowledge
//! requests for one leader and applies their responses; membership itself
//! is ShareGroupHeartbeat, driven by the client.
//!
//! Spec: KIP-932, KIP-1222 (lock renewal), KIP-1206 (acquire mode).

pub mod acks;
pub mod session;
pub mod types;

pub use acks::{AcknowledgeType, PartitionAcks};
pub use session::{
    AckResult, AcquiredData, ShareAcquireMode, ShareFetchLimits, ShareOutcome, ShareSession,
    ShareSessionError, TopicIdPartition,
};
