//! Resetting a group's committed offsets as `kafka-consumer-groups.sh
//! --reset-offsets` does: plan first (the targets, clamped to each
//! partition's earliest..latest offsets), commit only when asked, and never
//! while the group has members (their own commits would overwrite the
//! reset, and the coordinator refuses commits from outside a generation).
//!
//! Spec: KIP-122 (reset offsets).

use std::collections::BTreeMap;

use super::groups::by_topic;
use super::{at, in_order, item_error, Admin, OffsetSpec, PerItem, TopicPartition};
use crate::error::{Error, Result};
use crate::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::protocol::{ApiKey, ErrorCode};

/// Where [`Admin::plan_offset_reset`] moves each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark.
    Latest,
    /// The first offset at or after this time (ms since the epoch); the
    /// high watermark when no record is that recent.
    Timestamp(i64),
    /// The committed offset plus this (negative: back).
    ShiftBy(i64),
    /// This offset.
    Offset(i64),
}

/// One partition of a reset plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetReset {
    /// The group's committed offset now (`None`: nothing committed).
    pub current: Option<i64>,
    /// The offset it will be reset to.
    pub target: i64,
}

/// The target of one partition, clamped to `earliest..=latest`.
fn target(
    spec: ResetSpec,
    current: Option<i64>,
    found: Option<i64>,
    earliest: i64,
    latest: i64,
) -> Option<i64> {
    let raw = match spec {
        ResetSpec::Earliest => earliest,
        ResetSpec::Latest => latest,
        ResetSpec::Timestamp(_) => found.filter(|o| *o >= 0).unwrap_or(latest),
        ResetSpec::ShiftBy(n) => current?.saturating_add(n),
        ResetSpec::Offset(o) => o,
    };
    Some(raw.clamp(earliest, latest.max(earliest)))
}

impl Admin {
    /// Fails unless `group` has no members: `Empty`, or unknown to its
    /// coordinator (`Dead`).
    pub async fn ensure_group_inactive(&self, group: &str) -> Result<()> {
        let described = self.describe_groups(&[group.to_owned()]).await?;
        let Some((_, result)) = described.into_iter().next() else {
            return Ok(());
        };
        match result {
            Ok(d) if d.state == "Empty" || d.state == "Dead" => Ok(()),
            Ok(d) => Err(Error::InvalidState {
                operation: "reset offsets",
                reason: format!(
                    "group {group} is {} with {} member(s) at coordinator {}; offsets can only be reset while it has none (stop its consumers first)",
                    d.state,
                    d.members.len(),
                    d.coordinator
                ),
            }),
            Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Plans resetting `group`'s offsets of `partitions` to `spec`, after
    /// checking that the group has no members; commits nothing. One result
    /// per partition (`ShiftBy` fails where nothing is committed).
    pub async fn plan_offset_reset(
        &self,
        group: &str,
        partitions: &[TopicPartition],
        spec: ResetSpec,
    ) -> Result<PerItem<TopicPartition, OffsetReset>> {
        self.ensure_group_inactive(group).await?;
        let committed = self.committed_offsets(group, partitions).await?;
        let earliest = self.list_offsets(partitions, OffsetSpec::Earliest).await?;
        let latest = self.list_offsets(partitions, OffsetSpec::Latest).await?;
        let found = match spec {
            ResetSpec::Timestamp(t) => Some(
                self.list_offsets(partitions, OffsetSpec::Timestamp(t))
                    .await?,
            ),
            _ => None,
        };
        let mut out = Vec::new();
        for (i, ((tp, current), ((_, e), (_, l)))) in committed
            .into_iter()
            .zip(earliest.into_iter().zip(latest))
            .enumerate()
        {
            let at_time = found
                .as_ref()
                .and_then(|f| f.get(i))
                .and_then(|(_, r)| r.as_ref().ok())
                .map(|o| o.offset);
            let r = match (current, e, l) {
                (Ok(current), Ok(e), Ok(l)) => target(spec, current, at_time, e.offset, l.offset)
                    .map(|target| OffsetReset { current, target })
                    .ok_or_else(|| Error::InvalidState {
                        operation: "reset offsets",
                        reason: format!(
                            "cannot shift {}/{} of group {group}: nothing committed",
                            tp.topic, tp.partition
                        ),
                    }),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
            };
            out.push((tp, r));
        }
        Ok(out)
    }

    /// Commits a reset plan's targets for `group` (OffsetCommit from outside
    /// any generation, which the coordinator accepts only while the group
    /// has no members; checked again first). One result per partition.
    pub async fn reset_offsets(
        &self,
        group: &str,
        targets: &[(TopicPartition, i64)],
    ) -> Result<PerItem<TopicPartition>> {
        self.ensure_group_inactive(group).await?;
        let asked: Vec<TopicPartition> = targets.iter().map(|(tp, _)| tp.clone()).collect();
        let offsets: BTreeMap<&TopicPartition, i64> =
            targets.iter().map(|(tp, o)| (tp, *o)).collect();
        let api = ApiKey::OFFSET_COMMIT;
        let done = self
            .on_coordinator(group, api, |conn| {
                let offsets = &offsets;
                let asked = &asked;
                async move {
                    let version = conn.version_for::<OffsetCommitRequest>()?;
                    let request = OffsetCommitRequest {
                        group_id: group.to_owned(),
                        topics: by_topic(asked)
                            .into_iter()
                            .map(|(name, ps)| OffsetCommitRequestTopic {
                                partitions: ps
                                    .into_iter()
                                    .map(|p| OffsetCommitRequestPartition {
                                        partition_index: p,
                                        committed_offset: offsets
                                            .get(&TopicPartition {
                                                topic: name.clone(),
                                                partition: p,
                                            })
                                            .copied()
                                            .unwrap_or(-1),
                                        ..Default::default()
                                    })
                                    .collect(),
                                name,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    };
                    let response = conn.send_at(&request, version).await?;
                    let where_ = at(&conn, version);
                    let mut done = Vec::new();
                    for t in response.topics {
                        for p in t.partitions {
                            let tp = TopicPartition {
                                topic: t.name.clone(),
                                partition: p.partition_index,
                            };
                            let r = if p.error_code.is_ok() {
                                Ok(())
                            } else {
                                let what = format!(
                                    "{}/{} of group {group}{where_}",
                                    tp.topic, tp.partition
                                );
                                Err(item_error(p.error_code, api, &what, None))
                            };
                            done.push((tp, r));
                        }
                    }
                    Ok(Ok(done))
                }
            })
            .await?;
        Ok(in_order(&asked, done, |tp| super::groups::missing(api, tp)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_clamped_to_the_log() {
        use ResetSpec::*;
        assert_eq!(target(Earliest, Some(5), None, 2, 9), Some(2));
        assert_eq!(target(Latest, None, None, 2, 9), Some(9));
        assert_eq!(target(Timestamp(1), None, Some(4), 2, 9), Some(4));
        assert_eq!(target(Timestamp(1), None, Some(-1), 2, 9), Some(9));
        assert_eq!(target(ShiftBy(-10), Some(5), None, 2, 9), Some(2));
        assert_eq!(target(ShiftBy(3), Some(5), None, 2, 9), Some(8));
        assert_eq!(target(ShiftBy(3), None, None, 2, 9), None);
        assert_eq!(target(Offset(100), None, None, 2, 9), Some(9));
        assert_eq!(target(Offset(0), None, None, 2, 9), Some(2));
    }
}
