//! Describing KIP-848 consumer groups (ConsumerGroupDescribe), and
//! describing a group of either kind: a consumer-protocol group through
//! ConsumerGroupDescribe, a classic one through DescribeGroups.
//!
//! Spec: KIP-848 (ConsumerGroupDescribe).

use super::{Admin, PerItem, TopicPartition};
use crate::error::{Error, Result};
use crate::protocol::messages::consumer_group_describe::{
    ConsumerGroupDescribeRequest, DescribedAssignment, DescribedConsumerGroup,
};
use crate::protocol::{ApiKey, ErrorCode};

use super::groups::GroupDescription;

/// One member of a consumer-protocol group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMember {
    /// The member id.
    pub member_id: String,
    /// Static instance id, if any.
    pub instance_id: Option<String>,
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
    /// Subscribed regular expression, if any.
    pub subscribed_topic_regex: Option<String>,
    /// The partitions it owns now.
    pub assignment: Vec<TopicPartition>,
    /// The partitions the coordinator wants it to own.
    pub target_assignment: Vec<TopicPartition>,
    /// Whether it speaks the classic protocol (a member of a group being
    /// migrated; ConsumerGroupDescribe v1+), else the consumer protocol.
    pub classic: bool,
}

/// A consumer-protocol group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    /// The group id.
    pub group_id: String,
    /// State (`Empty`, `Assigning`, `Reconciling`, `Stable`, `Dead`).
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the target assignment.
    pub assignment_epoch: i32,
    /// The server-side assignor.
    pub assignor: String,
    /// The members.
    pub members: Vec<ConsumerGroupMember>,
    /// The coordinator's node id.
    pub coordinator: i32,
}

/// A group of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnyGroupDescription {
    /// A classic group (DescribeGroups).
    Classic(GroupDescription),
    /// A KIP-848 consumer group (ConsumerGroupDescribe).
    Consumer(ConsumerGroupDescription),
}

impl Admin {
    /// Describes KIP-848 consumer groups, each at its coordinator; one
    /// result per group. A classic group, or one that does not exist, is a
    /// GROUP_ID_NOT_FOUND error.
    pub async fn describe_consumer_groups(
        &self,
        groups: &[String],
    ) -> Result<PerItem<String, ConsumerGroupDescription>> {
        let mut out = Vec::new();
        for group in groups {
            let api = ApiKey::CONSUMER_GROUP_DESCRIBE;
            let result = self
                .on_coordinator(group, api, |conn| async move {
                    let request = ConsumerGroupDescribeRequest {
                        group_ids: vec![group.clone()],
                        ..Default::default()
                    };
                    let response = conn.send(&request).await?;
                    let node = conn.node_id().unwrap_or(-1);
                    Ok(
                        match response.groups.into_iter().find(|g| &g.group_id == group) {
                            Some(g) if g.error_code.is_ok() => Ok(describe(g, node)),
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

    /// Describes groups of either kind: ConsumerGroupDescribe first (the
    /// group's coordinator says whether it is a consumer-protocol group);
    /// a group it does not know as one (classic, or none at all), or a
    /// broker without the API (before Kafka 4.0), is described by
    /// DescribeGroups.
    pub async fn describe_any_groups(
        &self,
        groups: &[String],
    ) -> Result<PerItem<String, AnyGroupDescription>> {
        let mut out = Vec::new();
        for (group, result) in self.describe_consumer_groups(groups).await? {
            let classic = match &result {
                Err(Error::UnsupportedApi { .. }) => true,
                Err(e) => e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND),
                Ok(_) => false,
            };
            let result = if classic {
                let mut one = self.describe_groups(std::slice::from_ref(&group)).await?;
                match one.pop() {
                    Some((_, r)) => r.map(AnyGroupDescription::Classic),
                    None => Err(Error::Closed),
                }
            } else {
                result.map(AnyGroupDescription::Consumer)
            };
            out.push((group, result));
        }
        Ok(out)
    }
}

fn partitions(a: DescribedAssignment) -> Vec<TopicPartition> {
    a.topic_partitions
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
        .collect()
}

fn describe(g: DescribedConsumerGroup, coordinator: i32) -> ConsumerGroupDescription {
    let members = g
        .members
        .into_iter()
        .map(|m| ConsumerGroupMember {
            member_id: m.member_id,
            instance_id: m.instance_id,
            rack_id: m.rack_id,
            member_epoch: m.member_epoch,
            client_id: m.client_id,
            client_host: m.client_host,
            subscribed_topic_names: m.subscribed_topic_names,
            subscribed_topic_regex: m.subscribed_topic_regex,
            assignment: partitions(m.assignment),
            target_assignment: partitions(m.target_assignment),
            classic: m.member_type == 0,
        })
        .collect();
    ConsumerGroupDescription {
        group_id: g.group_id,
        state: g.group_state,
        group_epoch: g.group_epoch,
        assignment_epoch: g.assignment_epoch,
        assignor: g.assignor_name,
        members,
        coordinator,
    }
}
