//! Metadata (key 3): brokers, topics, partitions and their leaders.
//!
//! The client asks any broker; the answer lists every live broker and, for
//! the requested topics, each partition's leader, replicas and in-sync
//! replicas. A request's `topics` is `None` for "all topics": from v1 that is
//! a null array, while v0 has no null and reads an empty array as "all
//! topics" (so "no topics" cannot be asked at v0). Topic ids appear in v10
//! and can be used to look topics up from v12.
//!
//! Spec: KIP-4 (v1), KIP-78 (cluster id, v2), KIP-112 (offline replicas,
//! v5), KIP-320 (leader epochs, v7), KIP-430 (authorized operations, v8),
//! KIP-482 (flexible, v9), KIP-516 (topic ids, v10/v12), KIP-700 (cluster
//! operations moved to DescribeCluster, v11).

mod request;
mod response;

pub use request::{MetadataRequest, MetadataRequestTopic};
pub use response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};

/// Value of the authorized-operations fields when they were not requested.
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;
