//! The cluster as the client sees it: a metadata snapshot and the
//! [`Client`] that keeps it fresh and routes requests to the right broker.
//!
//! Spec: the Metadata API (key 3) at <https://kafka.apache.org/protocol#The_Messages_Metadata>;
//! KIP-320 (the partition leader epochs it records).

mod client;
mod metadata;
pub mod route;

pub use client::Client;
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use route::{Answer, CoordinatorKind, Destination};
