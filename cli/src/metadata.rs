//! `kafkit metadata`: brokers, topics, partitions (the layout of `kcat -L`),
//! optionally with each partition's offset range from its leader.
//!
//! Output:
//!
//! ```text
//! Metadata for all topics (from broker 127.0.0.1:9092):
//!  cluster id "abc", controller 1
//!  3 brokers:
//!   broker 1 at 127.0.0.1:9092, rack r1 (controller)
//!  1 topics:
//!   topic "orders" with 2 partitions:
//!     partition 0, leader 1, replicas: 1,2,3, isrs: 1,2,3, offsets: 0..57
//! ```
//!
//! `offsets: LOW..HIGH` (with `-O`) is the log start offset and the offset
//! the next record will get, so `HIGH - LOW` records are stored (control
//! records included).

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use kafkit::cluster::{ClusterMetadata, TopicMetadata};
use kafkit::protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic, EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
};
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::{Client, ClientConfig};

use crate::common_args::Connection;
use crate::metadata_json::Offsets;

/// `kafkit metadata`.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Only this topic (exit status 1 if the broker reports an error for it).
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Also show each partition's earliest and next offset (a ListOffsets per leader).
    #[arg(short = 'O', long = "offsets")]
    pub offsets: bool,
    /// Print JSON (kcat's `-J`).
    #[arg(short = 'J', long = "json")]
    pub json: bool,
}

/// Runs the command: `Ok(false)` when the broker reported an error for the
/// topic asked for with `-t`.
pub async fn run(config: ClientConfig, args: MetadataArgs) -> Result<bool, String> {
    let client = Client::connect(config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let result = describe(&client, &args).await;
    client.close();
    result
}

async fn describe(client: &Client, args: &MetadataArgs) -> Result<bool, String> {
    let conn = client.pool().any().await.map_err(|e| e.to_string())?;
    let request = MetadataRequest {
        topics: args.topic.as_ref().map(|t| {
            vec![MetadataRequestTopic {
                name: Some(t.clone()),
                ..Default::default()
            }]
        }),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let response = conn
        .send(&request)
        .await
        .map_err(|e| format!("metadata request failed: {e}"))?;
    let metadata = ClusterMetadata::default().merged(&response);
    let offsets = if args.offsets {
        Some(list_offsets(client, &metadata).await)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let only = args.topic.as_deref();
        let value = crate::metadata_json::render(&metadata, conn.addr(), only, offsets.as_ref());
        writeln!(out, "{value}")
    } else {
        render(
            &metadata,
            conn.addr(),
            args.topic.as_deref(),
            offsets.as_ref(),
            &mut out,
        )
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to stdout: {e}"))?;
    Ok(args.topic.as_ref().is_none_or(|t| {
        metadata
            .topic(t)
            .is_some_and(|t| t.error.is_ok() && t.partitions.iter().all(|p| p.error.is_ok()))
    }))
}

/// Asks each leader for the earliest and latest offsets of its partitions.
async fn list_offsets(client: &Client, metadata: &ClusterMetadata) -> Offsets {
    let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for topic in metadata.topics.values() {
        for p in &topic.partitions {
            if let Some(leader) = p.leader {
                by_leader
                    .entry(leader)
                    .or_default()
                    .entry(&topic.name)
                    .or_default()
                    .push(p.partition);
            }
        }
    }
    let mut offsets = Offsets::new();
    for (leader, topics) in by_leader {
        let low = query(client, leader, &topics, EARLIEST_TIMESTAMP).await;
        let high = query(client, leader, &topics, LATEST_TIMESTAMP).await;
        for (topic, partitions) in &topics {
            for p in partitions {
                let key = ((*topic).to_owned(), *p);
                let range = match (&low, &high) {
                    (Err(e), _) | (_, Err(e)) => Err(e.clone()),
                    (Ok(low), Ok(high)) => match (low.get(&key), high.get(&key)) {
                        (Some(Ok(l)), Some(Ok(h))) => Ok((*l, *h)),
                        (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e.clone()),
                        _ => Err("missing from the ListOffsets response".to_owned()),
                    },
                };
                offsets.insert(key, range);
            }
        }
    }
    offsets
}

type PartitionOffsets = BTreeMap<(String, i32), Result<i64, String>>;

/// One ListOffsets request to `leader` for `topics` at `timestamp`.
pub async fn query(
    client: &Client,
    leader: i32,
    topics: &BTreeMap<&str, Vec<i32>>,
    timestamp: i64,
) -> Result<PartitionOffsets, String> {
    let request = ListOffsetsRequest {
        topics: topics
            .iter()
            .map(|(name, partitions)| ListOffsetsTopic {
                name: (*name).to_owned(),
                partitions: partitions
                    .iter()
                    .map(|p| ListOffsetsPartition {
                        partition_index: *p,
                        timestamp,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let conn = client
        .broker(leader)
        .await
        .map_err(|e| format!("broker {leader}: {e}"))?;
    let response = conn
        .send(&request)
        .await
        .map_err(|e| format!("ListOffsets to broker {leader}: {e}"))?;
    let mut out = PartitionOffsets::new();
    for topic in response.topics {
        for p in topic.partitions {
            // v0 answers in `old_style_offsets`, v1+ in `offset`.
            let offset = p.old_style_offsets.first().copied().unwrap_or(p.offset);
            let result = if p.error_code.is_ok() {
                Ok(offset)
            } else {
                Err(p.error_code.to_string())
            };
            out.insert((topic.name.clone(), p.partition_index), result);
        }
    }
    Ok(out)
}

/// Writes the metadata as text; `only` limits the topics to one name.
pub fn render(
    metadata: &ClusterMetadata,
    source: &str,
    only: Option<&str>,
    offsets: Option<&Offsets>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    match only {
        Some(t) => writeln!(out, "Metadata for topic {t:?} (from broker {source}):")?,
        None => writeln!(out, "Metadata for all topics (from broker {source}):")?,
    }
    let cluster = metadata.cluster_id.as_deref().unwrap_or("(none)");
    let controller = metadata
        .controller_id
        .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    writeln!(out, " cluster id {cluster:?}, controller {controller}")?;
    writeln!(out, " {} brokers:", metadata.brokers.len())?;
    for b in metadata.brokers.values() {
        write!(out, "  broker {} at {}", b.node_id, b.addr())?;
        if let Some(rack) = &b.rack {
            write!(out, ", rack {rack}")?;
        }
        if metadata.controller_id == Some(b.node_id) {
            write!(out, " (controller)")?;
        }
        writeln!(out)?;
    }
    let mut topics: Vec<&TopicMetadata> = metadata
        .topics
        .values()
        .filter(|t| only.is_none_or(|o| o == t.name))
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    writeln!(out, " {} topics:", topics.len())?;
    for t in topics {
        write!(
            out,
            "  topic {:?} with {} partitions:",
            t.name,
            t.partitions.len()
        )?;
        if !t.error.is_ok() {
            write!(out, " error {}", t.error)?;
        }
        writeln!(out)?;
        for p in &t.partitions {
            write!(
                out,
                "    partition {}, leader {}, replicas: {}, isrs: {}",
                p.partition,
                p.leader.unwrap_or(-1),
                join(&p.replicas),
                join(&p.isr)
            )?;
            if !p.error.is_ok() {
                write!(out, ", error {}", p.error)?;
            }
            match offsets.and_then(|o| o.get(&(t.name.clone(), p.partition))) {
                Some(Ok((low, high))) => write!(out, ", offsets: {low}..{high}")?,
                Some(Err(e)) => write!(out, ", offsets: {e}")?,
                None if offsets.is_some() => write!(out, ", offsets: no leader")?,
                None => {}
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkit::cluster::{BrokerInfo, PartitionMetadata};
    use kafkit::protocol::{ErrorCode, Uuid};

    fn partition(partition: i32, leader: Option<i32>, error: ErrorCode) -> PartitionMetadata {
        PartitionMetadata {
            partition,
            leader,
            leader_epoch: 0,
            replicas: vec![1, 2],
            isr: vec![2],
            error,
        }
    }

    fn cluster() -> ClusterMetadata {
        let broker = |node_id, rack: Option<&str>| BrokerInfo {
            node_id,
            host: "127.0.0.1".into(),
            port: 9090 + node_id,
            rack: rack.map(str::to_owned),
        };
        let topic = |name: &str, error, partitions| TopicMetadata {
            name: name.into(),
            id: Uuid::ZERO,
            error,
            is_internal: false,
            partitions,
        };
        let mut m = ClusterMetadata {
            cluster_id: Some("c1".into()),
            controller_id: Some(2),
            ..Default::default()
        };
        m.brokers.insert(1, broker(1, Some("east")));
        m.brokers.insert(2, broker(2, None));
        for t in [
            topic(
                "zeta",
                ErrorCode::NONE,
                vec![
                    partition(0, Some(1), ErrorCode::NONE),
                    partition(1, None, ErrorCode::LEADER_NOT_AVAILABLE),
                ],
            ),
            topic(
                "alpha",
                ErrorCode::NONE,
                vec![partition(0, Some(2), ErrorCode::NONE)],
            ),
            topic("gone", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, vec![]),
        ] {
            m.topics.insert(t.name.clone(), t);
        }
        m
    }

    fn rendered(only: Option<&str>, offsets: Option<&Offsets>) -> String {
        let mut out = Vec::new();
        render(&cluster(), "127.0.0.1:9091", only, offsets, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lists_brokers_topics_and_partitions_like_kcat() {
        let want = r#"Metadata for all topics (from broker 127.0.0.1:9091):
 cluster id "c1", controller 2
 2 brokers:
  broker 1 at 127.0.0.1:9091, rack east
  broker 2 at 127.0.0.1:9092 (controller)
 3 topics:
  topic "alpha" with 1 partitions:
    partition 0, leader 2, replicas: 1,2, isrs: 2
  topic "gone" with 0 partitions: error UNKNOWN_TOPIC_OR_PARTITION(3)
  topic "zeta" with 2 partitions:
    partition 0, leader 1, replicas: 1,2, isrs: 2
    partition 1, leader -1, replicas: 1,2, isrs: 2, error LEADER_NOT_AVAILABLE(5)
"#;
        assert_eq!(rendered(None, None), want);
    }

    #[test]
    fn one_topic_with_offsets() {
        let mut offsets = Offsets::new();
        offsets.insert(("zeta".into(), 0), Ok((3, 57)));
        let text = rendered(Some("zeta"), Some(&offsets));
        assert!(text.starts_with("Metadata for topic \"zeta\" (from broker 127.0.0.1:9091):\n"));
        assert!(
            text.contains(" 1 topics:\n  topic \"zeta\" with 2 partitions:\n"),
            "{text}"
        );
        assert!(text.contains("isrs: 2, offsets: 3..57\n"), "{text}");
        assert!(
            text.contains("LEADER_NOT_AVAILABLE(5), offsets: no leader\n"),
            "{text}"
        );
        assert!(!text.contains("alpha"));
    }
}
