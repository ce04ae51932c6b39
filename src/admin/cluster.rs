//! The cluster (DescribeCluster: id, controller, brokers with racks) and
//! topics in detail (Metadata: ids, leaders, replicas, in-sync replicas).
//!
//! Spec: KIP-700 (DescribeCluster), KIP-516 (topic ids).

use super::{at, broker_error, item_error, Admin, PerItem};
use crate::error::Result;
use crate::protocol::messages::describe_cluster::DescribeClusterRequest;
use crate::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use crate::protocol::{ApiKey, ErrorCode, Uuid};

/// One broker of [`ClusterDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterBroker {
    /// Node id.
    pub id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack (`broker.rack`), if set.
    pub rack: Option<String>,
}

/// What [`Admin::describe_cluster`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The active controller's node id (`None` when the broker does not know).
    pub controller: Option<i32>,
    /// The brokers, by node id.
    pub brokers: Vec<ClusterBroker>,
}

/// One partition of [`TopicDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// Partition index.
    pub partition: i32,
    /// Leader node id (`None` while there is none).
    pub leader: Option<i32>,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
}

/// What [`Admin::describe_topics`] reports for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id (zero when the broker does not report ids, before Metadata v10).
    pub id: Uuid,
    /// Whether it is internal.
    pub internal: bool,
    /// Its partitions, by index.
    pub partitions: Vec<PartitionDescription>,
}

impl Admin {
    /// The cluster id, the active controller and every broker (DescribeCluster
    /// at any broker).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let conn = self.client.pool().any().await?;
        let version = conn.version_for::<DescribeClusterRequest>()?;
        let r = conn
            .send_at(&DescribeClusterRequest::default(), version)
            .await?;
        if !r.error_code.is_ok() {
            let what = format!("the cluster{}", at(&conn, version));
            let api = ApiKey::DESCRIBE_CLUSTER;
            return Err(item_error(
                r.error_code,
                api,
                &what,
                r.error_message.as_deref(),
            ));
        }
        let mut brokers: Vec<ClusterBroker> = r
            .brokers
            .into_iter()
            .map(|b| ClusterBroker {
                id: b.broker_id,
                host: b.host,
                port: b.port,
                rack: b.rack,
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        Ok(ClusterDescription {
            cluster_id: r.cluster_id,
            controller: (r.controller_id >= 0).then_some(r.controller_id),
            brokers,
        })
    }

    /// Describes topics by name (Metadata, without creating them); one
    /// result per topic.
    pub async fn describe_topics(
        &self,
        names: &[String],
    ) -> Result<PerItem<String, TopicDescription>> {
        let request = MetadataRequest {
            topics: Some(
                names
                    .iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let response = self.client.send_any(&request).await?;
        let mut done = Vec::new();
        for t in response.topics {
            let Some(name) = t.name else { continue };
            let result = if t.error_code.is_ok() {
                let mut partitions: Vec<PartitionDescription> = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionDescription {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        replicas: p.replica_nodes,
                        isr: p.isr_nodes,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                Ok(TopicDescription {
                    name: name.clone(),
                    id: t.topic_id,
                    internal: t.is_internal,
                    partitions,
                })
            } else {
                Err(item_error(
                    t.error_code,
                    ApiKey::METADATA,
                    &format!("topic {name}"),
                    None,
                ))
            };
            done.push((name, result));
        }
        Ok(super::in_order(names, done, |n| {
            broker_error(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ApiKey::METADATA,
                format!(" for topic {n}: missing from the response"),
            )
        }))
    }
}
