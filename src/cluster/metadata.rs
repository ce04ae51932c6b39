//! A snapshot of cluster metadata: brokers, topics, partitions, leaders.
//!
//! Built from Metadata responses (sans-IO: no clocks, no sockets); a refresh
//! for some topics is merged into the previous snapshot so topics that were
//! not asked about keep their last known state.

use std::collections::{BTreeMap, HashMap};

use crate::protocol::messages::leader_discovery::NodeEndpoint;
use crate::protocol::messages::metadata::MetadataResponse;
use crate::protocol::{ErrorCode, Uuid};

/// One broker as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader node id; `None` while there is no leader.
    pub leader: Option<i32>,
    /// Leader epoch (-1 when the broker does not report it).
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Error the broker reported for this partition.
    pub error: ErrorCode,
}

/// One topic's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Topic id (zero when the broker does not report it).
    pub id: Uuid,
    /// Error the broker reported for the topic.
    pub error: ErrorCode,
    /// Whether the topic is internal (`__consumer_offsets`).
    pub is_internal: bool,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// The partition with index `p`.
    pub fn partition(&self, p: i32) -> Option<&PartitionMetadata> {
        self.partitions
            .binary_search_by_key(&p, |m| m.partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// Whether every partition has a leader and no error.
    pub fn is_ready(&self) -> bool {
        self.error.is_ok()
            && !self.partitions.is_empty()
            && self.partitions.iter().all(|p| p.leader.is_some())
    }
}

/// Everything the client knows about the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// Cluster id, if the broker reports one.
    pub cluster_id: Option<String>,
    /// Active controller, if known.
    pub controller_id: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: HashMap<String, TopicMetadata>,
}

impl ClusterMetadata {
    /// A new snapshot: `self` updated with `resp` (brokers and controller
    /// replaced, the topics in `resp` replaced, other topics kept).
    pub fn merged(&self, resp: &MetadataResponse) -> Self {
        let brokers: BTreeMap<i32, BrokerInfo> = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id,
                    BrokerInfo {
                        node_id: b.node_id,
                        host: b.host.clone(),
                        port: b.port,
                        rack: b.rack.clone(),
                    },
                )
            })
            .collect();
        let mut topics = self.topics.clone();
        for t in &resp.topics {
            let Some(name) = t.name.clone() else { continue };
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    leader: (p.leader_id >= 0).then_some(p.leader_id),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                    error: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    id: t.topic_id,
                    error: t.error_code,
                    is_internal: t.is_internal,
                    partitions,
                },
            );
        }
        Self {
            cluster_id: resp.cluster_id.clone(),
            controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
            brokers,
            topics,
        }
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// The leader of `topic`/`partition`, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topic(topic)?.partition(partition)?.leader
    }

    /// `host:port` of every broker, by node id.
    pub fn broker_addrs(&self) -> HashMap<i32, String> {
        self.brokers.iter().map(|(id, b)| (*id, b.addr())).collect()
    }

    /// A new snapshot with the leaders a Produce or Fetch error named
    /// (KIP-951): each move is `(topic, partition, leader, epoch)`, taken
    /// only when its epoch is newer than the known one and its leader is
    /// a known broker or among `endpoints` (added to the broker list).
    /// `None` when no move was taken.
    pub fn with_leaders(
        &self,
        moves: &[(String, i32, i32, i32)],
        endpoints: &[NodeEndpoint],
    ) -> Option<Self> {
        let mut next = self.clone();
        let mut moved = false;
        for (topic, partition, leader, epoch) in moves {
            let known =
                next.brokers.contains_key(leader) || endpoints.iter().any(|e| e.node_id == *leader);
            let Some(t) = next.topics.get_mut(topic) else {
                continue;
            };
            let Some(p) = t.partitions.iter_mut().find(|p| p.partition == *partition) else {
                continue;
            };
            if *leader < 0 || !known || *epoch <= p.leader_epoch {
                continue;
            }
            p.leader = Some(*leader);
            p.leader_epoch = *epoch;
            p.error = ErrorCode::NONE;
            moved = true;
        }
        if !moved {
            return None;
        }
        for e in endpoints {
            next.brokers.entry(e.node_id).or_insert_with(|| BrokerInfo {
                node_id: e.node_id,
                host: e.host.clone(),
                port: e.port,
                rack: e.rack.clone(),
            });
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::metadata::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    fn partition(index: i32, leader: i32) -> MetadataResponsePartition {
        MetadataResponsePartition {
            partition_index: index,
            leader_id: leader,
            ..Default::default()
        }
    }

    fn topic(name: &str, partitions: Vec<MetadataResponsePartition>) -> MetadataResponseTopic {
        MetadataResponseTopic {
            name: Some(name.to_owned()),
            partitions,
            ..Default::default()
        }
    }

    #[test]
    fn merge_replaces_named_topics_and_keeps_others() {
        let first = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9,
                ..Default::default()
            }],
            controller_id: 1,
            topics: vec![
                topic("a", vec![partition(1, 1), partition(0, 1)]),
                topic("b", vec![partition(0, 1)]),
            ],
            ..Default::default()
        };
        let m1 = ClusterMetadata::default().merged(&first);
        assert_eq!(m1.leader("a", 1), Some(1));
        assert_eq!(m1.topic("a").map(|t| t.partitions[0].partition), Some(0));
        assert_eq!(m1.broker_addrs().get(&1).map(String::as_str), Some("h:9"));
        let second = MetadataResponse {
            brokers: first.brokers.clone(),
            controller_id: -1,
            topics: vec![topic("a", vec![partition(0, -1), partition(1, 1)])],
            ..Default::default()
        };
        let m2 = m1.merged(&second);
        assert_eq!(m2.leader("a", 0), None);
        assert!(!m2.topic("a").is_some_and(TopicMetadata::is_ready));
        assert_eq!(m2.leader("b", 0), Some(1));
        assert_eq!(m2.controller_id, None);
    }

    #[test]
    fn leader_moves_need_a_newer_epoch_and_a_reachable_broker() {
        let resp = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9,
                ..Default::default()
            }],
            topics: vec![topic("a", vec![partition(0, 1)])],
            ..Default::default()
        };
        let mut m = ClusterMetadata::default().merged(&resp);
        if let Some(p) = m.topics.get_mut("a").and_then(|t| t.partitions.first_mut()) {
            p.leader_epoch = 4;
        }
        let to = |leader, epoch| vec![("a".to_owned(), 0, leader, epoch)];
        assert_eq!(m.with_leaders(&to(2, 5), &[]), None, "broker 2 unknown");
        assert_eq!(m.with_leaders(&to(1, 4), &[]), None, "epoch not newer");
        assert_eq!(m.with_leaders(&[("b".to_owned(), 0, 1, 9)], &[]), None);
        let e = NodeEndpoint {
            node_id: 2,
            host: "h2".into(),
            port: 7,
            ..Default::default()
        };
        let moved = m.with_leaders(&to(2, 5), &[e]).expect("moved");
        assert_eq!(moved.leader("a", 0), Some(2));
        assert_eq!(
            moved.broker_addrs().get(&2).map(String::as_str),
            Some("h2:7")
        );
    }
}
