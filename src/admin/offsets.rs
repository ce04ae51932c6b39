//! Offset lookups at partition leaders (ListOffsets) and a topic's offsets
//! with a group's committed positions and lag.
//!
//! `consumer::offsets::list_offsets` serves the fetcher's resets (offsets
//! only, one leader, no retries); here every partition is routed to its
//! leader, stale-metadata errors are retried after a refresh, and the
//! record timestamp and leader epoch are kept.

use std::collections::BTreeMap;

use tracing::debug;

use super::{broker_error, in_order, item_error, Admin, Backoff, PerItem, TopicPartition};
use crate::cluster::route::{next_step, Step};
use crate::cluster::Destination;
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopic,
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP,
};
use crate::protocol::{ApiKey, ErrorCode};

/// Which offset [`Admin::list_offsets`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The offset the next record will get (the high watermark).
    Latest,
    /// The offset of the record with the largest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose record timestamp is at or after this time (ms
    /// since the epoch); ListOffsets v1+.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            Self::Earliest => EARLIEST_TIMESTAMP,
            Self::Latest => LATEST_TIMESTAMP,
            Self::MaxTimestamp => MAX_TIMESTAMP,
            Self::Timestamp(t) => t,
        }
    }

    /// The first ListOffsets version that can carry the lookup.
    fn min_version(self) -> i16 {
        match self {
            Self::Earliest | Self::Latest => 0,
            Self::Timestamp(_) => 1,
            Self::MaxTimestamp => 7,
        }
    }
}

/// One partition's answer to a ListOffsets lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; -1 when no record matches a timestamp lookup.
    pub offset: i64,
    /// The timestamp of the record found (-1 when unknown, e.g. for
    /// earliest/latest or before v1).
    pub timestamp: i64,
    /// The leader epoch of that record (-1 when unknown).
    pub leader_epoch: i32,
}

/// One partition of [`Admin::topic_offsets`].
#[derive(Debug, Clone)]
pub struct PartitionOffsets {
    /// Partition index.
    pub partition: i32,
    /// Log start offset.
    pub earliest: Result<i64>,
    /// High watermark (the offset the next record will get).
    pub latest: Result<i64>,
    /// The group's committed offset (`Ok(None)`: nothing committed); `None`
    /// when no group was asked about.
    pub committed: Option<Result<Option<i64>>>,
}

impl PartitionOffsets {
    /// Records the group has yet to consume: high watermark minus committed
    /// offset (at least 0); `None` without both.
    pub fn lag(&self) -> Option<i64> {
        match (&self.latest, &self.committed) {
            (Ok(latest), Some(Ok(Some(committed)))) => Some((latest - committed).max(0)),
            _ => None,
        }
    }
}

impl Admin {
    /// Looks up offsets of `partitions` at their leaders; one result per partition.
    pub async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<PerItem<TopicPartition, ListedOffset>> {
        let mut backoff = Backoff::new(self.deadline());
        let mut pending: Vec<TopicPartition> = partitions.to_vec();
        let mut done = Vec::new();
        let topics: Vec<String> = by_topic_names(partitions);
        self.client.track_topics(topics.iter().cloned());
        for topic in &topics {
            if self.client.metadata().topic(topic).is_none() {
                let _ = self.client.refresh_metadata().await;
                break;
            }
        }
        loop {
            let mut retry = Vec::new();
            for (leader, tps) in self.by_leader(&pending, &mut done) {
                for (tp, r) in self.list_at(leader, &tps, spec).await {
                    match r {
                        Err(e) if retriable(&e) => retry.push((tp, e)),
                        r => done.push((tp, r)),
                    }
                }
            }
            if retry.is_empty() || !backoff.wait().await {
                done.extend(retry.into_iter().map(|(tp, e)| (tp, Err(e))));
                break;
            }
            debug!(
                partitions = retry.len(),
                "retrying ListOffsets after a metadata refresh"
            );
            pending = retry.into_iter().map(|(tp, _)| tp).collect();
            let _ = self.client.refresh_metadata().await;
        }
        Ok(in_order(partitions, done, |tp| {
            broker_error(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ApiKey::LIST_OFFSETS,
                format!(
                    " for {}/{}: missing from the response",
                    tp.topic, tp.partition
                ),
            )
        }))
    }

    /// Earliest and latest offsets of every partition of `topic`, with
    /// `group`'s committed offsets (and so its lag) when a group is given.
    pub async fn topic_offsets(
        &self,
        topic: &str,
        group: Option<&str>,
    ) -> Result<Vec<PartitionOffsets>> {
        let metadata = self.client.topic(topic, self.timeout).await?;
        let tps: Vec<TopicPartition> = metadata
            .partitions
            .iter()
            .map(|p| TopicPartition {
                topic: topic.to_owned(),
                partition: p.partition,
            })
            .collect();
        let earliest = self.list_offsets(&tps, OffsetSpec::Earliest).await?;
        let latest = self.list_offsets(&tps, OffsetSpec::Latest).await?;
        // Each list has one entry per partition of `tps`, in that order.
        let mut committed = match group {
            Some(g) => Some(self.committed_offsets(g, &tps).await?.into_iter()),
            None => None,
        };
        Ok(earliest
            .into_iter()
            .zip(latest)
            .map(|((tp, earliest), (_, latest))| PartitionOffsets {
                partition: tp.partition,
                earliest: earliest.map(|o| o.offset),
                latest: latest.map(|o| o.offset),
                committed: committed
                    .as_mut()
                    .map(|c| c.next().map_or(Ok(None), |(_, r)| r)),
            })
            .collect())
    }

    /// `pending` grouped by leader; partitions without a known leader go to
    /// `done` as `LEADER_NOT_AVAILABLE`.
    fn by_leader(
        &self,
        pending: &[TopicPartition],
        done: &mut PerItem<TopicPartition, ListedOffset>,
    ) -> BTreeMap<i32, Vec<TopicPartition>> {
        let metadata = self.client.metadata();
        let mut out: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for tp in pending {
            match metadata.leader(&tp.topic, tp.partition) {
                Some(leader) => out.entry(leader).or_default().push(tp.clone()),
                None => {
                    let code = match metadata.topic(&tp.topic) {
                        Some(t) if !t.error.is_ok() => t.error,
                        Some(t) if t.partition(tp.partition).is_none() => {
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        }
                        None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        Some(_) => ErrorCode::LEADER_NOT_AVAILABLE,
                    };
                    let what = format!("{}/{}", tp.topic, tp.partition);
                    done.push((
                        tp.clone(),
                        Err(item_error(code, ApiKey::METADATA, &what, None)),
                    ));
                }
            }
        }
        out
    }

    /// One ListOffsets request to `leader` for `tps`.
    async fn list_at(
        &self,
        leader: i32,
        tps: &[TopicPartition],
        spec: OffsetSpec,
    ) -> PerItem<TopicPartition, ListedOffset> {
        let fail_all = |e: Error| tps.iter().map(|tp| (tp.clone(), Err(e.clone()))).collect();
        let request = request_for(tps, spec);
        let build = |version: i16, broker: &BrokerRef| {
            if version < spec.min_version() {
                return Err(Error::UnsupportedVersion {
                    broker: broker.addr.clone(),
                    api: ApiKey::LIST_OFFSETS,
                    version,
                    what: format!("{spec:?} (v{}+)", spec.min_version()),
                });
            }
            Ok(request.clone())
        };
        // One attempt: what fails is regrouped by leader and retried by the caller.
        let to = Destination::Broker(leader);
        match self.client.call_once(&to, &build, self.deadline()).await {
            Ok(answer) => answers(tps, &answer.body)
                .into_iter()
                .map(|(tp, r)| {
                    (
                        tp,
                        r.map_err(|e| e.answered_by(&answer.broker, answer.version)),
                    )
                })
                .collect(),
            Err(e) => fail_all(e),
        }
    }
}

/// One ListOffsets request for `tps`, grouped by topic.
fn request_for(tps: &[TopicPartition], spec: OffsetSpec) -> ListOffsetsRequest {
    let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for tp in tps {
        topics
            .entry(&tp.topic)
            .or_default()
            .push(ListOffsetsPartition {
                partition_index: tp.partition,
                timestamp: spec.wire(),
                ..Default::default()
            });
    }
    ListOffsetsRequest {
        topics: topics
            .into_iter()
            .map(|(name, partitions)| ListOffsetsTopic {
                name: name.to_owned(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Each asked partition's answer in `response`.
fn answers(
    tps: &[TopicPartition],
    response: &ListOffsetsResponse,
) -> PerItem<TopicPartition, ListedOffset> {
    let mut out = Vec::new();
    for t in &response.topics {
        for p in &t.partitions {
            let tp = TopicPartition {
                topic: t.name.clone(),
                partition: p.partition_index,
            };
            if !tps.contains(&tp) {
                continue;
            }
            let r = if p.error_code.is_ok() {
                // v0 answers in `old_style_offsets`, v1+ in `offset`.
                let offset = match p.old_style_offsets.first() {
                    Some(o) if p.offset < 0 => *o,
                    _ => p.offset,
                };
                Ok(ListedOffset {
                    offset,
                    timestamp: p.timestamp,
                    leader_epoch: p.leader_epoch,
                })
            } else {
                let what = format!("{}/{}", tp.topic, tp.partition);
                Err(item_error(p.error_code, ApiKey::LIST_OFFSETS, &what, None))
            };
            out.push((tp, r));
        }
    }
    out
}

/// Errors a metadata refresh and another attempt may cure: the call
/// path's one table.
fn retriable(e: &Error) -> bool {
    // A leader's request: the node id does not change the verdict.
    next_step(&Destination::Broker(-1), e) != Step::Fail
}

fn by_topic_names(partitions: &[TopicPartition]) -> Vec<String> {
    let mut names: Vec<String> = partitions.iter().map(|tp| tp.topic.clone()).collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::list_offsets::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    #[test]
    fn answers_read_both_offset_shapes_and_per_partition_errors() {
        let response = ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: "t".into(),
                partitions: vec![
                    ListOffsetsPartitionResponse {
                        partition_index: 0,
                        offset: 42,
                        timestamp: 1000,
                        leader_epoch: 3,
                        ..Default::default()
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 1,
                        offset: -1,
                        old_style_offsets: vec![7],
                        ..Default::default()
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 2,
                        error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
                        ..Default::default()
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 9,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let asked = [tp("t", 0), tp("t", 1), tp("t", 2)];
        let got = answers(&asked, &response);
        assert_eq!(got.len(), 3, "partition 9 was not asked for");
        assert_eq!(
            got[0].1.as_ref().ok(),
            Some(&ListedOffset {
                offset: 42,
                timestamp: 1000,
                leader_epoch: 3
            })
        );
        assert_eq!(got[1].1.as_ref().map(|o| o.offset).ok(), Some(7));
        let e = got[2].1.as_ref().expect_err("error");
        assert_eq!(e.code(), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert!(retriable(e));
        assert!(!retriable(&Error::Config("x".into())));
    }

    #[test]
    fn lag_needs_a_committed_offset_and_the_high_watermark() {
        let p = |committed| PartitionOffsets {
            partition: 0,
            earliest: Ok(0),
            latest: Ok(10),
            committed,
        };
        assert_eq!(p(Some(Ok(Some(4)))).lag(), Some(6));
        assert_eq!(p(Some(Ok(Some(12)))).lag(), Some(0));
        assert_eq!(p(Some(Ok(None))).lag(), None);
        assert_eq!(p(None).lag(), None);
    }

    #[test]
    fn specs_map_to_wire_timestamps_and_minimum_versions() {
        assert_eq!(OffsetSpec::Earliest.wire(), -2);
        assert_eq!(OffsetSpec::Latest.wire(), -1);
        assert_eq!(OffsetSpec::MaxTimestamp.wire(), -3);
        assert_eq!(OffsetSpec::Timestamp(1234).wire(), 1234);
        assert_eq!(OffsetSpec::Timestamp(0).min_version(), 1);
        assert_eq!(OffsetSpec::MaxTimestamp.min_version(), 7);
    }
}
