//! Share-group administration (KIP-932): list share groups (ListGroups with
//! the `share` type filter, every broker), describe them
//! (ShareGroupDescribe), read their share-partition start offsets and lags
//! (DescribeShareGroupOffsets), set them (AlterShareGroupOffsets, e.g. to
//! the earliest or latest offset) and forget them per topic
//! (DeleteShareGroupOffsets). A share group is deleted like any group
//! ([`Admin::delete_groups`]). Altering and deleting offsets need a group
//! without members (`NON_EMPTY_GROUP` otherwise).
//!
//! Spec: KIP-932.

use std::collections::BTreeMap;

use super::groups::GroupListing;
use super::{item_error, Admin, OffsetSpec, PerItem, TopicPartition};
use crate::cluster::Destination;
use crate::error::{Error, Result};
use crate::protocol::messages::alter_share_group_offsets::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsRequestPartition,
    AlterShareGroupOffsetsRequestTopic,
};
use crate::protocol::messages::delete_share_group_offsets::{
    DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsRequestTopic,
};
use crate::protocol::messages::describe_share_group_offsets::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsRequestGroup,
    DescribeShareGroupOffsetsRequestTopic, DescribeShareGroupOffsetsResponseGroup,
};
use crate::protocol::messages::list_groups::ListGroupsRequest;
use crate::protocol::messages::share_group_describe::{
    DescribedShareGroup, ShareGroupDescribeRequest,
};
use crate::protocol::{ApiKey, ErrorCode};

/// The `types_filter` value of share groups in ListGroups (v5+).
pub const SHARE_GROUP_TYPE: &str = "share";

/// One member of a share group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupMember {
    /// The member id.
    pub member_id: String,
    /// Rack id, if any.
    pub rack_id: Option<String>,
    /// The member epoch.
    pub member_epoch: i32,
    /// The member's client id.
    pub client_id: String,
    /// The host it connected from.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// The partitions assigned to it (members share partitions).
    pub assignment: Vec<TopicPartition>,
}

/// A share group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupDescription {
    /// The group id.
    pub group_id: String,
    /// State (`Empty`, `Stable`, `Dead`).
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the target assignment.
    pub assignment_epoch: i32,
    /// The server-side assignor.
    pub assignor: String,
    /// The members.
    pub members: Vec<ShareGroupMember>,
}

/// One share-partition of a share group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePartitionOffset {
    /// The topic and partition.
    pub partition: TopicPartition,
    /// The share-partition start offset (records before it are done);
    /// `None` when the group has no state for the partition yet.
    pub start_offset: Option<i64>,
    /// Records not yet accepted or rejected (`None` when unknown: before
    /// DescribeShareGroupOffsets v1, or no state).
    pub lag: Option<i64>,
}

impl Admin {
    /// Lists the share groups of every broker (ListGroups v5 with the
    /// `share` type filter), sorted by group id.
    pub async fn list_share_groups(&self) -> Result<Vec<GroupListing>> {
        let metadata = self.client.refresh_metadata().await?;
        let mut out = Vec::new();
        for &node in metadata.brokers.keys() {
            let to = Destination::Broker(node);
            let build = |_, _: &_| {
                Ok(ListGroupsRequest {
                    types_filter: vec![SHARE_GROUP_TYPE.to_owned()],
                    ..Default::default()
                })
            };
            let answer = self.client.call_to(&to, build, self.deadline()).await?;
            if answer.version < 5 {
                return Err(Error::UnsupportedApi {
                    broker: format!("node {node}"),
                    api: ApiKey::LIST_GROUPS,
                });
            }
            out.extend(answer.body.groups.into_iter().map(|g| GroupListing {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: Some(g.group_state),
                coordinator: node,
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// Describes share groups, each at its coordinator (ShareGroupDescribe);
    /// one result per group. A group that is not a share group (or does not
    /// exist) is a GROUP_ID_NOT_FOUND error.
    pub async fn describe_share_groups(
        &self,
        groups: &[String],
    ) -> Result<PerItem<String, ShareGroupDescription>> {
        let mut out = Vec::new();
        for group in groups {
            let api = ApiKey::SHARE_GROUP_DESCRIBE;
            let result = self
                .on_coordinator(group, api, |conn| async move {
                    let request = ShareGroupDescribeRequest {
                        group_ids: vec![group.clone()],
                        ..Default::default()
                    };
                    let response = conn.send(&request).await?;
                    Ok(
                        match response.groups.into_iter().find(|g| &g.group_id == group) {
                            Some(g) if g.error_code.is_ok() => Ok(describe(g)),
                            Some(g) => Err(g.error_code),
                            None => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
                        },
                    )
                })
                .await;
            out.push((group.clone(), result));
        }
        Ok(out)
    }

    /// The share-partition start offsets and lags of `group`
    /// (DescribeShareGroupOffsets): of `topics` (all their partitions), or
    /// of every topic-partition the group has state for when `topics` is
    /// empty. Sorted by topic and partition.
    pub async fn share_group_offsets(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<Vec<SharePartitionOffset>> {
        let mut asked = None;
        if !topics.is_empty() {
            let mut list = Vec::new();
            for topic in topics {
                let metadata = self.client.topic(topic, self.timeout).await?;
                list.push(DescribeShareGroupOffsetsRequestTopic {
                    topic_name: topic.clone(),
                    partitions: metadata.partitions.iter().map(|p| p.partition).collect(),
                    ..Default::default()
                });
            }
            asked = Some(list);
        }
        let api = ApiKey::DESCRIBE_SHARE_GROUP_OFFSETS;
        let asked = &asked;
        let (version, answer) = self
            .on_coordinator(group, api, |conn| async move {
                let request = DescribeShareGroupOffsetsRequest {
                    groups: vec![DescribeShareGroupOffsetsRequestGroup {
                        group_id: group.to_owned(),
                        topics: asked.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let version = conn.version_for::<DescribeShareGroupOffsetsRequest>()?;
                let response = conn.send(&request).await?;
                Ok(
                    match response.groups.into_iter().find(|g| g.group_id == group) {
                        Some(g) if g.error_code.is_ok() => Ok((version, g)),
                        Some(g) => Err(g.error_code),
                        None => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
                    },
                )
            })
            .await?;
        offsets_of(group, version, answer)
    }

    /// Sets `group`'s share-partition start offsets
    /// (AlterShareGroupOffsets); one result per partition. The group must
    /// have no members.
    pub async fn alter_share_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<PerItem<TopicPartition>> {
        let mut by_topic: BTreeMap<&str, Vec<AlterShareGroupOffsetsRequestPartition>> =
            BTreeMap::new();
        for (tp, offset) in offsets {
            by_topic
                .entry(&tp.topic)
                .or_default()
                .push(AlterShareGroupOffsetsRequestPartition {
                    partition_index: tp.partition,
                    start_offset: *offset,
                    ..Default::default()
                });
        }
        let request = AlterShareGroupOffsetsRequest {
            group_id: group.to_owned(),
            topics: by_topic
                .into_iter()
                .map(|(topic, partitions)| AlterShareGroupOffsetsRequestTopic {
                    topic_name: topic.to_owned(),
                    partitions,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let api = ApiKey::ALTER_SHARE_GROUP_OFFSETS;
        let answer = self.call_for_group(group, &request).await?.body;
        let mut done = Vec::new();
        for t in answer.responses {
            for p in t.partitions {
                let tp = TopicPartition {
                    topic: t.topic_name.clone(),
                    partition: p.partition_index,
                };
                let what = format!("group {group} partition {}/{}", tp.topic, tp.partition);
                let result = match p.error_code.is_ok() {
                    true => Ok(()),
                    false => Err(item_error(
                        p.error_code,
                        api,
                        &what,
                        p.error_message.as_deref(),
                    )),
                };
                done.push((tp, result));
            }
        }
        let asked: Vec<TopicPartition> = offsets.keys().cloned().collect();
        Ok(super::in_order(&asked, done, |tp| {
            item_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                api,
                &format!("group {group} partition {}/{}", tp.topic, tp.partition),
                Some("missing from the response"),
            )
        }))
    }

    /// Sets every partition of `topics` to the `spec` offset (earliest or
    /// latest, looked up with ListOffsets) for `group`.
    pub async fn reset_share_group_offsets(
        &self,
        group: &str,
        topics: &[String],
        spec: OffsetSpec,
    ) -> Result<PerItem<TopicPartition>> {
        let mut tps = Vec::new();
        for topic in topics {
            let metadata = self.client.topic(topic, self.timeout).await?;
            tps.extend(metadata.partitions.iter().map(|p| TopicPartition {
                topic: topic.clone(),
                partition: p.partition,
            }));
        }
        let mut offsets = BTreeMap::new();
        let mut failed = Vec::new();
        for (tp, listed) in self.list_offsets(&tps, spec).await? {
            match listed {
                Ok(o) => {
                    offsets.insert(tp, o.offset);
                }
                Err(e) => failed.push((tp, Err(e))),
            }
        }
        let mut out = match offsets.is_empty() {
            true => Vec::new(),
            false => self.alter_share_group_offsets(group, &offsets).await?,
        };
        out.extend(failed);
        Ok(out)
    }

    /// Forgets `group`'s share-partition state of whole `topics`
    /// (DeleteShareGroupOffsets); one result per topic. The group must have
    /// no members.
    pub async fn delete_share_group_offsets(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<PerItem<String>> {
        let request = DeleteShareGroupOffsetsRequest {
            group_id: group.to_owned(),
            topics: topics
                .iter()
                .map(|t| DeleteShareGroupOffsetsRequestTopic {
                    topic_name: t.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let api = ApiKey::DELETE_SHARE_GROUP_OFFSETS;
        let answer = self.call_for_group(group, &request).await?.body;
        let done = answer
            .responses
            .into_iter()
            .map(|t| {
                let what = format!("group {group} topic {}", t.topic_name);
                let result = match t.error_code.is_ok() {
                    true => Ok(()),
                    false => Err(item_error(
                        t.error_code,
                        api,
                        &what,
                        t.error_message.as_deref(),
                    )),
                };
                (t.topic_name, result)
            })
            .collect();
        Ok(super::in_order(topics, done, |t| {
            item_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                api,
                &format!("group {group} topic {t}"),
                Some("missing from the response"),
            )
        }))
    }
}

fn offsets_of(
    group: &str,
    version: i16,
    g: DescribeShareGroupOffsetsResponseGroup,
) -> Result<Vec<SharePartitionOffset>> {
    let mut out = Vec::new();
    for t in g.topics {
        for p in t.partitions {
            if !p.error_code.is_ok() {
                let what = format!(
                    "group {group} partition {}/{}",
                    t.topic_name, p.partition_index
                );
                return Err(item_error(
                    p.error_code,
                    ApiKey::DESCRIBE_SHARE_GROUP_OFFSETS,
                    &what,
                    p.error_message.as_deref(),
                ));
            }
            out.push(SharePartitionOffset {
                partition: TopicPartition {
                    topic: t.topic_name.clone(),
                    partition: p.partition_index,
                },
                start_offset: (p.start_offset >= 0).then_some(p.start_offset),
                lag: (version >= 1 && p.lag >= 0).then_some(p.lag),
            });
        }
    }
    out.sort_by(|a, b| a.partition.cmp(&b.partition));
    Ok(out)
}

fn describe(g: DescribedShareGroup) -> ShareGroupDescription {
    let members = g
        .members
        .into_iter()
        .map(|m| ShareGroupMember {
            member_id: m.member_id,
            rack_id: m.rack_id,
            member_epoch: m.member_epoch,
            client_id: m.client_id,
            client_host: m.client_host,
            subscribed_topic_names: m.subscribed_topic_names,
            assignment: m
                .assignment
                .topic_partitions
                .into_iter()
                .flat_map(|t| {
                    let topic = t.topic_name;
                    t.partitions
                        .into_iter()
                        .map(move |partition| TopicPartition {
                            topic: topic.clone(),
                            partition,
                        })
                })
                .collect(),
        })
        .collect();
    ShareGroupDescription {
        group_id: g.group_id,
        state: g.group_state,
        group_epoch: g.group_epoch,
        assignment_epoch: g.assignment_epoch,
        assignor: g.assignor_name,
        members,
    }
}
