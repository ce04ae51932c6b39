//! Cluster administration: topics, consumer groups, offsets.
//!
//! [`Admin`] drives the admin APIs over a shared [`Client`], sending each
//! request where Kafka requires it:
//!
//! | operation | API | sent to |
//! | --- | --- | --- |
//! | [`Admin::create_topics`], [`Admin::delete_topics`] | CreateTopics, DeleteTopics | the controller (Metadata's `controller_id`), again after a refresh on `NOT_CONTROLLER` |
//! | [`Admin::list_topics`] | Metadata | any broker |
//! | [`Admin::list_groups`] | ListGroups | every broker (each lists the groups it coordinates) |
//! | [`Admin::describe_groups`], [`Admin::delete_groups`], [`Admin::delete_committed_offsets`], [`Admin::committed_offsets`] | DescribeGroups, DeleteGroups, OffsetDelete, OffsetFetch | the group's coordinator (FindCoordinator), found again on `NOT_COORDINATOR` |
//! | [`Admin::list_offsets`], [`Admin::topic_offsets`] | ListOffsets | each partition's leader, again after a refresh on stale-metadata errors |
//! | [`Admin::describe_configs`], [`Admin::alter_configs`] | DescribeConfigs, IncrementalAlterConfigs | any broker for topics, the broker itself for a broker |
//! | [`Admin::create_partitions`] | CreatePartitions | the controller, as CreateTopics |
//! | [`Admin::delete_records`] | DeleteRecords | each partition's leader |
//! | [`Admin::describe_cluster`], [`Admin::describe_topics`] | DescribeCluster, Metadata | any broker |
//! | [`Admin::list_groups_filtered`] | ListGroups v4/v5 | every broker |
//! | [`Admin::groups_offsets`] | OffsetFetch (v8+: one request per coordinator), ListOffsets | the groups' coordinators, the leaders |
//! | [`Admin::describe_log_dirs`] | DescribeLogDirs | each broker asked for (every broker by default) |
//! | [`Admin::elect_leaders`] | ElectLeaders | the controller, as CreateTopics |
//! | [`Admin::describe_user_scram_credentials`], [`Admin::alter_user_scram_credentials`] | DescribeUserScramCredentials, AlterUserScramCredentials | any broker (KRaft brokers forward the change to the controller) |
//! | [`Admin::describe_acls`], [`Admin::create_acls`], [`Admin::delete_acls`] | DescribeAcls, CreateAcls, DeleteAcls | any broker |
//! | [`Admin::list_transactions`] | ListTransactions | every broker (each lists the transactions it coordinates) |
//! | [`Admin::describe_transactions`] | DescribeTransactions | each transactional id's coordinator (FindCoordinator key type 1) |
//! | [`Admin::describe_producers`] | DescribeProducers | each partition's leader |
//! | [`Admin::plan_offset_reset`], [`Admin::reset_offsets`] | DescribeGroups, OffsetFetch, ListOffsets, OffsetCommit | the coordinator, the leaders |
//!
//! Operations on several topics, groups or partitions report one result per
//! item: one topic failing never fails the others. The outer `Result` only
//! fails when nothing could be asked at all (no broker reachable, a version
//! that cannot carry the request). Retriable errors are retried with a
//! backoff until [`Admin::with_timeout`]'s deadline.
//!
//! Spec: KIP-4 (admin requests, controller routing), KIP-229 (DeleteGroups),
//! KIP-496 (OffsetDelete), KIP-339 (IncrementalAlterConfigs), KIP-195
//! (CreatePartitions), KIP-107 (DeleteRecords), KIP-700 (DescribeCluster),
//! KIP-709 (batched OffsetFetch), KIP-122 (reset offsets).

mod acls;
mod cluster;
mod configs;
mod consumer_groups;
mod group_offsets;
mod group_reset;
mod groups;
mod log_dirs;
mod offsets;
mod records;
mod scram;
mod share_groups;
mod topics;
mod transactions;

use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::route::Backoff;
use crate::cluster::Client;
use crate::config::ClientConfig;
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::protocol::{ApiKey, ErrorCode};

pub use crate::TopicPartition;
pub use acls::{
    AclBinding, AclBindingFilter, OPERATIONS, PATTERN_TYPES, PERMISSIONS, RESOURCE_TYPES,
};
pub use cluster::{ClusterBroker, ClusterDescription, PartitionDescription, TopicDescription};
pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource, ConfigSynonym};
pub use consumer_groups::{AnyGroupDescription, ConsumerGroupDescription, ConsumerGroupMember};
pub use group_offsets::{GroupPartitionOffset, GroupSummary};
pub use group_reset::{OffsetReset, ResetSpec};
pub use groups::{GroupDescription, GroupListing, GroupListings, MemberDescription};
pub use log_dirs::{ElectionType, LogDir, ReplicaLogDir};
pub use offsets::{ListedOffset, OffsetSpec, PartitionOffsets};
pub use scram::{ScramAlteration, ScramCredential, ScramMechanism};
pub use share_groups::{
    ShareGroupDescription, ShareGroupMember, SharePartitionOffset, SHARE_GROUP_TYPE,
};
pub use topics::{NewTopic, TopicListing};
pub use transactions::{
    ProducerDescription, TransactionDescription, TransactionFilter, TransactionListing,
    TransactionState,
};

/// One result per topic, group or partition, in the order they were asked for.
pub type PerItem<K, T = ()> = Vec<(K, Result<T>)>;

/// The admin client. Cheap to clone; shares the [`Client`]'s connections.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
    timeout: Duration,
}

impl Admin {
    /// An admin client over an existing [`Client`].
    pub fn new(client: Client) -> Self {
        Self {
            client,
            timeout: Duration::from_secs(30),
        }
    }

    /// Connects a new [`Client`] for administration.
    pub async fn connect(config: ClientConfig) -> Result<Self> {
        Ok(Self::new(Client::connect(config).await?))
    }

    /// Sets how long one operation may take, retries included (default 30 s);
    /// also the `timeout_ms` sent with CreateTopics and DeleteTopics.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The operation timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connection counters (connects, requests and latency per broker
    /// and API) as one snapshot, named `kafka_admin_client_…`.
    pub fn metrics_snapshot(&self) -> crate::metrics::MetricsSnapshot {
        self.client.snapshot_as(crate::metrics::ClientKind::Admin)
    }

    /// Closes the underlying client (every clone of it).
    pub fn close(&self) {
        self.client.close();
    }

    /// The timeout in ms as the wire's `int32`.
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }
}

/// An error the broker reported, with what it concerns.
fn broker_error(code: ErrorCode, api: ApiKey, context: String) -> Error {
    Error::broker(code, api, context)
}

/// Where an answer came from, for error contexts: ` at broker 1 (host:port) v4`.
fn at(conn: &BrokerConnection, version: i16) -> String {
    let node = conn
        .node_id()
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    format!(" at broker {node} ({}) v{version}", conn.addr())
}

/// A per-item error with the broker's message, when it sent one.
fn item_error(code: ErrorCode, api: ApiKey, what: &str, message: Option<&str>) -> Error {
    let context = match message.filter(|m| !m.is_empty()) {
        Some(m) => format!(" for {what}: {m}"),
        None => format!(" for {what}"),
    };
    broker_error(code, api, context)
}

/// Puts per-item results back in the order the items were asked for; an
/// item without a result gets `missing(item)`.
fn in_order<K: PartialEq + Clone, T>(
    asked: &[K],
    mut done: Vec<(K, Result<T>)>,
    missing: impl Fn(&K) -> Error,
) -> PerItem<K, T> {
    asked
        .iter()
        .map(|k| match done.iter().position(|(d, _)| d == k) {
            Some(i) => done.swap_remove(i),
            None => (k.clone(), Err(missing(k))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_follow_the_asked_order_and_missing_items_fail() {
        let asked = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let done = vec![("c".to_owned(), Ok(3)), ("a".to_owned(), Ok(1))];
        let out = in_order(&asked, done, |k| {
            broker_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                ApiKey::METADATA,
                format!(" {k}"),
            )
        });
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(out[0].1.as_ref().ok(), Some(&1));
        assert_eq!(
            out[1].1.as_ref().err().and_then(Error::code),
            Some(ErrorCode::UNKNOWN_SERVER_ERROR)
        );
        assert_eq!(out[2].1.as_ref().ok(), Some(&3));
    }

    #[test]
    fn item_errors_carry_the_broker_message() {
        let e = item_error(
            ErrorCode::TOPIC_ALREADY_EXISTS,
            ApiKey::CREATE_TOPICS,
            "topic t",
            Some("exists"),
        );
        assert_eq!(
            e.to_string(),
            "TOPIC_ALREADY_EXISTS(36) from CreateTopics(19) for topic t: exists"
        );
        let e = item_error(
            ErrorCode::NOT_CONTROLLER,
            ApiKey::DELETE_TOPICS,
            "topic t",
            Some(""),
        );
        assert!(e.to_string().ends_with("for topic t"), "{e}");
    }
}
