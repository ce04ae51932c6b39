//! Growing topics (CreatePartitions, on the controller) and deleting their
//! oldest records (DeleteRecords, at each partition's leader).
//!
//! Spec: KIP-195 (CreatePartitions), KIP-107 (DeleteRecords).

use std::collections::BTreeMap;

use tracing::debug;

use super::topics::settle;
use super::{at, broker_error, in_order, item_error, Admin, Backoff, PerItem, TopicPartition};
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsTopic,
};
use crate::protocol::messages::delete_records::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use crate::protocol::{ApiKey, ErrorCode};

impl Admin {
    /// Raises each topic's partition count to the given total (the
    /// controller places the new replicas); with `validate_only` it only
    /// checks. One result per topic.
    pub async fn create_partitions(
        &self,
        counts: &[(String, i32)],
        validate_only: bool,
    ) -> Result<PerItem<String>> {
        let names: Vec<String> = counts.iter().map(|(n, _)| n.clone()).collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let build = |_: i16, _: &BrokerRef| {
            Ok(CreatePartitionsRequest {
                topics: counts
                    .iter()
                    .map(|(name, count)| CreatePartitionsTopic {
                        name: name.clone(),
                        count: *count,
                        assignments: None,
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: self.timeout_ms(),
                validate_only,
                ..Default::default()
            })
        };
        let answer = self.on_controller(build).await?;
        let answers = answer.map(|a| {
            let (broker, version) = (a.broker, a.version);
            let answers = a.body.results.into_iter();
            let answers = answers.map(|t| (t.name, t.error_code, t.error_message));
            (broker, version, answers.collect())
        });
        Ok(settle(ApiKey::CREATE_PARTITIONS, &names, answers))
    }

    /// Deletes the records before each partition's offset (-1: the high
    /// watermark, every record), at the partitions' leaders. Each result is
    /// the partition's new log start offset.
    pub async fn delete_records(
        &self,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<PerItem<TopicPartition, i64>> {
        let asked: Vec<TopicPartition> = offsets.iter().map(|(tp, _)| tp.clone()).collect();
        self.client
            .track_topics(asked.iter().map(|tp| tp.topic.clone()));
        let _ = self.client.refresh_metadata().await;
        let mut backoff = Backoff::new(self.deadline());
        let mut pending: Vec<(TopicPartition, i64)> = offsets.to_vec();
        let mut done = Vec::new();
        loop {
            let mut retry = Vec::new();
            for (leader, items) in self.records_by_leader(&pending, &mut done) {
                for (tp, offset, r) in self.delete_records_at(leader, &items).await {
                    match r {
                        Err(e) if e.is_retriable() => retry.push((tp, offset, e)),
                        r => done.push((tp, r)),
                    }
                }
            }
            if retry.is_empty() || !backoff.wait().await {
                done.extend(retry.into_iter().map(|(tp, _, e)| (tp, Err(e))));
                break;
            }
            debug!(
                partitions = retry.len(),
                "retrying DeleteRecords after a metadata refresh"
            );
            pending = retry.into_iter().map(|(tp, o, _)| (tp, o)).collect();
            let _ = self.client.refresh_metadata().await;
        }
        Ok(in_order(&asked, done, |tp| {
            broker_error(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ApiKey::DELETE_RECORDS,
                format!(
                    " for {}/{}: missing from the response",
                    tp.topic, tp.partition
                ),
            )
        }))
    }

    /// `pending` grouped by leader; partitions without one fail in `done`.
    fn records_by_leader(
        &self,
        pending: &[(TopicPartition, i64)],
        done: &mut PerItem<TopicPartition, i64>,
    ) -> BTreeMap<i32, Vec<(TopicPartition, i64)>> {
        let metadata = self.client.metadata();
        let mut out: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        for (tp, offset) in pending {
            match metadata.leader(&tp.topic, tp.partition) {
                Some(leader) => out.entry(leader).or_default().push((tp.clone(), *offset)),
                None => {
                    let what = format!("{}/{}", tp.topic, tp.partition);
                    let code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                    done.push((
                        tp.clone(),
                        Err(item_error(code, ApiKey::DELETE_RECORDS, &what, None)),
                    ));
                }
            }
        }
        out
    }

    /// One DeleteRecords at `leader`; every item comes back with a result.
    async fn delete_records_at(
        &self,
        leader: i32,
        items: &[(TopicPartition, i64)],
    ) -> Vec<(TopicPartition, i64, Result<i64>)> {
        let fail = |e: Error| -> Vec<(TopicPartition, i64, Result<i64>)> {
            items
                .iter()
                .map(|(tp, o)| (tp.clone(), *o, Err(e.clone())))
                .collect()
        };
        let conn = match self.client.broker(leader).await {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let version = match conn.version_for::<DeleteRecordsRequest>() {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let mut topics: BTreeMap<String, Vec<DeleteRecordsPartition>> = BTreeMap::new();
        for (tp, offset) in items {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(DeleteRecordsPartition {
                    partition_index: tp.partition,
                    offset: *offset,
                    ..Default::default()
                });
        }
        let request = DeleteRecordsRequest {
            topics: topics
                .into_iter()
                .map(|(name, partitions)| DeleteRecordsTopic {
                    name,
                    partitions,
                    ..Default::default()
                })
                .collect(),
            timeout_ms: self.timeout_ms(),
            ..Default::default()
        };
        let response = match conn.send_at(&request, version).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let where_ = at(&conn, version);
        let mut out = Vec::new();
        for t in response.topics {
            for p in t.partitions {
                let Some((tp, o)) = items
                    .iter()
                    .find(|(tp, _)| tp.topic == t.name && tp.partition == p.partition_index)
                else {
                    continue;
                };
                let r = if p.error_code.is_ok() {
                    Ok(p.low_watermark)
                } else {
                    let what = format!("{}/{}{where_}", tp.topic, tp.partition);
                    Err(item_error(
                        p.error_code,
                        ApiKey::DELETE_RECORDS,
                        &what,
                        None,
                    ))
                };
                out.push((tp.clone(), *o, r));
            }
        }
        out
    }
}
