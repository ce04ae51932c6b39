//! Offset lookups by timestamp (ListOffsets) for resets and lag.

use std::collections::BTreeMap;

use crate::cluster::Client;
use crate::error::{Error, Result};
use crate::protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use crate::protocol::{ApiKey, ErrorCode};
use crate::TopicPartition;

/// Looks up the offset at `timestamp` (earliest/latest) for partitions led by `node`.
pub(crate) async fn list_offsets(
    client: &Client,
    node: i32,
    tps: &[TopicPartition],
    timestamp: i64,
    isolation_level: i8,
) -> Vec<(TopicPartition, Result<i64>)> {
    let mut topics: BTreeMap<String, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for tp in tps {
        topics
            .entry(tp.topic.clone())
            .or_default()
            .push(ListOffsetsPartition {
                partition_index: tp.partition,
                timestamp,
                ..Default::default()
            });
    }
    let request = ListOffsetsRequest {
        isolation_level,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| ListOffsetsTopic {
                name,
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let response = match client.broker(node).await {
        Ok(conn) => conn.send(&request).await,
        Err(e) => Err(e),
    };
    let resp = match response {
        Ok(r) => r,
        Err(e) => return tps.iter().map(|tp| (tp.clone(), Err(e.clone()))).collect(),
    };
    tps.iter()
        .map(|tp| {
            let found = resp
                .topics
                .iter()
                .filter(|t| t.name == tp.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == tp.partition);
            let r = match found {
                Some(p) if p.error_code.is_ok() => Ok(if p.offset >= 0 {
                    p.offset
                } else {
                    p.old_style_offsets.first().copied().unwrap_or(0)
                }),
                Some(p) => Err(Error::broker(
                    p.error_code,
                    ApiKey::LIST_OFFSETS,
                    format!(" for {}/{}", tp.topic, tp.partition),
                )),
                None => Err(Error::broker(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    ApiKey::LIST_OFFSETS,
                    format!(
                        " for {}/{}: missing from the response",
                        tp.topic, tp.partition
                    ),
                )),
            };
            (tp.clone(), r)
        })
        .collect()
}
