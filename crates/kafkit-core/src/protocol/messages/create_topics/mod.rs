//! CreateTopics (key 19): create topics on the controller.
//!
//! From v5 the response also describes each created topic (partition count,
//! replication factor, configs), and a tagged field carries the error of
//! describing its configs when they are left out. v7 returns topic ids.
//!
//! The request and the response live in their own files and are re-exported here.
//!
//! Spec: KIP-4 (v0), KIP-108 (v1, validate only), KIP-464 (v4, broker
//! defaults), KIP-525 (v5, configs in the response), KIP-516 (v7, topic ids).

mod request;
mod response;

pub use request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
pub use response::{CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse};
