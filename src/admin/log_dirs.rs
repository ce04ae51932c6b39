//! Where the replicas live on disk (DescribeLogDirs, at each broker) and
//! moving leadership back to the preferred replicas (ElectLeaders, at the
//! controller).
//!
//! Spec: KIP-113 (DescribeLogDirs), KIP-827 (volume sizes), KIP-183 and
//! KIP-460 (ElectLeaders).

use super::{broker_error, in_order, item_error, Admin, PerItem, TopicPartition};
use crate::cluster::route::Destination;
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::describe_log_dirs::{
    DescribeLogDirsRequest, DescribeLogDirsTopic, LogDirResult,
};
use crate::protocol::messages::elect_leaders::{
    ElectLeadersRequest, ElectLeadersTopic, PREFERRED, UNCLEAN,
};
use crate::protocol::{ApiKey, ErrorCode};

/// One partition replica in a [`LogDir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLogDir {
    /// The partition.
    pub partition: TopicPartition,
    /// Its size on disk in bytes.
    pub size: i64,
    /// How far its log end is behind the high watermark (for a future
    /// replica: behind the current replica).
    pub offset_lag: i64,
    /// Whether it is a future replica being moved into this directory.
    pub is_future: bool,
}

/// One log directory of a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDir {
    /// The directory's path on the broker.
    pub path: String,
    /// Why the directory cannot be read (`KAFKA_STORAGE_ERROR` when offline).
    pub error: Option<Error>,
    /// The volume's size in bytes (DescribeLogDirs v4+, when the broker knows).
    pub total_bytes: Option<i64>,
    /// The volume's free bytes (v4+, when the broker knows).
    pub usable_bytes: Option<i64>,
    /// The replicas in it, by topic and partition.
    pub replicas: Vec<ReplicaLogDir>,
}

impl LogDir {
    /// The bytes of every replica in the directory.
    pub fn size(&self) -> i64 {
        self.replicas.iter().map(|r| r.size).sum()
    }
}

/// Which replica [`Admin::elect_leaders`] makes leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// The preferred replica (the first of the assignment), when in sync.
    Preferred,
    /// Any live replica, even one out of sync (may lose records).
    Unclean,
}

impl Admin {
    /// Each broker's log directories and the replicas in them, restricted to
    /// `partitions` (all partitions when `None`). `brokers` empty: every
    /// broker of the metadata. One result per broker.
    pub async fn describe_log_dirs(
        &self,
        brokers: &[i32],
        partitions: Option<&[TopicPartition]>,
    ) -> Result<PerItem<i32, Vec<LogDir>>> {
        let brokers: Vec<i32> = if brokers.is_empty() {
            let metadata = self.client.refresh_metadata().await?;
            metadata.brokers.keys().copied().collect()
        } else {
            brokers.to_vec()
        };
        let topics = partitions.map(by_topic);
        let build = |_: i16, _: &BrokerRef| {
            Ok(DescribeLogDirsRequest {
                topics: topics.as_ref().map(|t| {
                    t.iter()
                        .map(|(topic, partitions)| DescribeLogDirsTopic {
                            topic: topic.clone(),
                            partitions: partitions.clone(),
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            })
        };
        let mut out = Vec::new();
        for &node in &brokers {
            let to = Destination::Broker(node);
            let result = self.client.call_to(&to, build, self.deadline()).await;
            let result = result.map(|a| {
                let (broker, version) = (a.broker, a.version);
                let dirs = a.body.results.into_iter();
                dirs.map(|d| log_dir(d, node, &broker, version)).collect()
            });
            out.push((node, result));
        }
        Ok(out)
    }

    /// Elects leaders of `partitions` at the controller. Each result is
    /// `true` when a new leader was elected, `false` when the wanted
    /// replica already leads (`ELECTION_NOT_NEEDED`).
    pub async fn elect_leaders(
        &self,
        partitions: &[TopicPartition],
        election: ElectionType,
    ) -> Result<PerItem<TopicPartition, bool>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let topics = by_topic(partitions);
        let build = |version: i16, broker: &BrokerRef| {
            let election_type = match election {
                ElectionType::Preferred => PREFERRED,
                ElectionType::Unclean if version >= 1 => UNCLEAN,
                ElectionType::Unclean => {
                    return Err(Error::UnsupportedVersion {
                        broker: broker.addr.clone(),
                        api: ApiKey::ELECT_LEADERS,
                        version,
                        what: "an unclean election (ElectLeaders v1+)".to_owned(),
                    })
                }
            };
            Ok(ElectLeadersRequest {
                election_type,
                topic_partitions: Some(
                    topics
                        .iter()
                        .map(|(topic, partitions)| ElectLeadersTopic {
                            topic: topic.clone(),
                            partitions: partitions.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            })
        };
        let mut done = Vec::new();
        match self.on_controller(build).await? {
            Err(e) => done.extend(partitions.iter().map(|tp| (tp.clone(), Err(e.clone())))),
            Ok(answer) => {
                let (broker, version) = (answer.broker, answer.version);
                for t in answer.body.replica_election_results {
                    for p in t.partition_result {
                        let tp = tp(t.topic.clone(), p.partition_id);
                        let r = match p.error_code {
                            ErrorCode::NONE => Ok(true),
                            ErrorCode::ELECTION_NOT_NEEDED => Ok(false),
                            code => {
                                let what = format!("{}/{}", tp.topic, tp.partition);
                                let api = ApiKey::ELECT_LEADERS;
                                let e = item_error(code, api, &what, p.error_message.as_deref());
                                Err(e.answered_by(&broker, version))
                            }
                        };
                        done.push((tp, r));
                    }
                }
            }
        }
        Ok(in_order(partitions, done, |tp| {
            broker_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                ApiKey::ELECT_LEADERS,
                format!(
                    " for {}/{}: missing from the response",
                    tp.topic, tp.partition
                ),
            )
        }))
    }
}

fn tp(topic: impl Into<String>, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

/// Partitions grouped by topic, topics and partitions in the order first seen.
fn by_topic(partitions: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for tp in partitions {
        match out.iter_mut().find(|(t, _)| *t == tp.topic) {
            Some((_, ps)) if ps.contains(&tp.partition) => {}
            Some((_, ps)) => ps.push(tp.partition),
            None => out.push((tp.topic.clone(), vec![tp.partition])),
        }
    }
    out
}

fn log_dir(d: LogDirResult, node: i32, broker: &BrokerRef, version: i16) -> LogDir {
    let error = (!d.error_code.is_ok()).then(|| {
        let what = format!("log dir {} of broker {node}", d.log_dir);
        item_error(d.error_code, ApiKey::DESCRIBE_LOG_DIRS, &what, None)
            .answered_by(broker, version)
    });
    let known = |n: i64| (n >= 0).then_some(n);
    let mut replicas = Vec::new();
    for t in d.topics {
        for p in t.partitions {
            replicas.push(ReplicaLogDir {
                partition: tp(t.name.clone(), p.partition_index),
                size: p.partition_size,
                offset_lag: p.offset_lag,
                is_future: p.is_future_key,
            });
        }
    }
    replicas.sort_by(|a, b| {
        (&a.partition.topic, a.partition.partition)
            .cmp(&(&b.partition.topic, b.partition.partition))
    });
    LogDir {
        path: d.log_dir,
        error,
        total_bytes: known(d.total_bytes),
        usable_bytes: known(d.usable_bytes),
        replicas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_group_by_topic_without_repeats() {
        let tps = [tp("a", 1), tp("b", 0), tp("a", 0), tp("a", 1)];
        assert_eq!(
            by_topic(&tps),
            [("a".to_owned(), vec![1, 0]), ("b".to_owned(), vec![0])]
        );
    }
}
