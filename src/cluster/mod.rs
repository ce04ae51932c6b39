//! The cluster as the client sees it: a metadata snapshot and the
//! [`Client`] that keeps it fresh and routes requests to the right broker.

mod client;
mod metadata;

pub use client::Client;
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionMetadata, TopicMetadata};
