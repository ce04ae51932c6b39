//! Consumer-group administration: list (every broker), describe, delete,
//! delete committed offsets and read them (the group's coordinator).
//! KIP-848 groups' own description is in `consumer_groups.rs`.

use std::collections::BTreeMap;
use std::future::Future;

use tracing::debug;

use super::{broker_error, in_order, item_error, Admin, PerItem, TopicPartition};
use crate::cluster::route::Backoff;
use crate::cluster::{Answer, CoordinatorKind, Destination};
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::group::{GroupCall, OffsetFetchCall};
use crate::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, CONSUMER_PROTOCOL_TYPE,
};
use crate::protocol::messages::delete_groups::DeleteGroupsRequest;
use crate::protocol::messages::describe_groups::{DescribeGroupsRequest, DescribedGroup};
use crate::protocol::messages::list_groups::ListGroupsRequest;
use crate::protocol::messages::offset_delete::{OffsetDeleteRequest, OffsetDeleteRequestTopic};
use crate::protocol::messages::offset_fetch::{OffsetFetchRequestTopic, OffsetFetchResponse};
use crate::protocol::{ApiKey, ErrorCode, Request};

/// One group as a broker lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// Protocol type (`consumer` for consumer groups; empty for some groups).
    pub protocol_type: String,
    /// State (`Stable`, `Empty`, ...), when the broker reports it (ListGroups v4+).
    pub state: Option<String>,
    /// The broker that listed it (its coordinator).
    pub coordinator: i32,
}

/// The groups of every broker, and the brokers that could not be asked.
#[derive(Debug, Clone, Default)]
pub struct GroupListings {
    /// Every group listed, sorted by group id.
    pub groups: Vec<GroupListing>,
    /// Brokers whose listing failed, with the error.
    pub errors: Vec<(i32, Error)>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id given by the coordinator.
    pub member_id: String,
    /// Static instance id, if the member has one.
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The host it connected from.
    pub client_host: String,
    /// Its assigned partitions (decoded for `consumer` groups; empty otherwise
    /// or when the assignment is not a consumer-protocol assignment).
    pub assignment: Vec<TopicPartition>,
}

/// A group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// State (`Stable`, `Empty`, `Dead` for an unknown group, ...).
    pub state: String,
    /// Protocol type (`consumer`, ...).
    pub protocol_type: String,
    /// The selected protocol (for consumer groups, the assignor).
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
    /// The coordinator's node id.
    pub coordinator: i32,
}

/// A coordinator answer: the value, or a group-level error code to judge.
pub(super) type CodeAnswer<T> = std::result::Result<T, ErrorCode>;

impl Admin {
    /// Lists the groups of every broker (each lists the groups it coordinates).
    pub async fn list_groups(&self) -> Result<GroupListings> {
        let metadata = self.client.refresh_metadata().await?;
        let mut out = GroupListings::default();
        for &node in metadata.brokers.keys() {
            match self.list_groups_of(node).await {
                Ok(groups) => out.groups.extend(groups),
                Err(e) => out.errors.push((node, e)),
            }
        }
        out.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    async fn list_groups_of(&self, node: i32) -> Result<Vec<GroupListing>> {
        let to = Destination::Broker(node);
        let build = |_, _: &_| Ok(ListGroupsRequest::default());
        let answer = self.client.call_to(&to, build, self.deadline()).await?;
        let version = answer.version;
        Ok(answer
            .body
            .groups
            .into_iter()
            .map(|g| GroupListing {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: (version >= 4).then_some(g.group_state),
                coordinator: node,
            })
            .collect())
    }

    /// Describes groups, each at its coordinator; one result per group.
    pub async fn describe_groups(
        &self,
        groups: &[String],
    ) -> Result<PerItem<String, GroupDescription>> {
        let mut out = Vec::new();
        for group in groups {
            let request = DescribeGroupsRequest {
                groups: vec![group.clone()],
                ..Default::default()
            };
            let result = self
                .call_for_group(group, &request)
                .await
                .and_then(|answer| {
                    let node = answer.broker.node_id.unwrap_or(-1);
                    match answer
                        .body
                        .groups
                        .into_iter()
                        .find(|g| &g.group_id == group)
                    {
                        Some(g) => Ok(describe(g, node)),
                        None => Err(missing_group(ApiKey::DESCRIBE_GROUPS, group)),
                    }
                });
            out.push((group.clone(), result));
        }
        Ok(out)
    }

    /// Deletes groups (which must have no members) and their committed
    /// offsets; one result per group.
    pub async fn delete_groups(&self, groups: &[String]) -> Result<PerItem<String>> {
        let mut out = Vec::new();
        for group in groups {
            let request = DeleteGroupsRequest {
                groups_names: vec![group.clone()],
                ..Default::default()
            };
            let result = self
                .call_for_group(group, &request)
                .await
                .and_then(|answer| {
                    match answer.body.results.iter().any(|g| &g.group_id == group) {
                        true => Ok(()),
                        false => Err(missing_group(ApiKey::DELETE_GROUPS, group)),
                    }
                });
            out.push((group.clone(), result));
        }
        Ok(out)
    }

    /// Deletes `group`'s committed offsets of `partitions` (OffsetDelete).
    ///
    /// The coordinator refuses partitions of topics the group's members are
    /// subscribed to (`GROUP_SUBSCRIBED_TO_TOPIC`, per partition); a
    /// group-level error (`GROUP_ID_NOT_FOUND`, ...) fails the whole call.
    pub async fn delete_committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<PerItem<TopicPartition>> {
        let api = ApiKey::OFFSET_DELETE;
        let request = OffsetDeleteRequest {
            group_id: group.to_owned(),
            topics: by_topic(partitions)
                .into_iter()
                .map(|(name, partitions)| OffsetDeleteRequestTopic { name, partitions })
                .collect(),
        };
        let answer = self.call_for_group(group, &request).await?;
        let mut done = Vec::new();
        for t in answer.body.topics {
            for p in t.partitions {
                let tp = TopicPartition {
                    topic: t.name.clone(),
                    partition: p.partition_index,
                };
                let r = if p.error_code.is_ok() {
                    Ok(())
                } else {
                    let what = format!("{}/{} of group {group}", tp.topic, tp.partition);
                    Err(item_error(p.error_code, api, &what, None)
                        .answered_by(&answer.broker, answer.version))
                };
                done.push((tp, r));
            }
        }
        Ok(in_order(partitions, done, |tp| missing(api, tp)))
    }

    /// `group`'s committed offsets of `partitions` (`None`: nothing committed).
    pub async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<PerItem<TopicPartition, Option<i64>>> {
        let api = ApiKey::OFFSET_FETCH;
        let call = OffsetFetchCall {
            group_id: group.to_owned(),
            topics: by_topic(partitions)
                .into_iter()
                .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                    name,
                    partition_indexes,
                    ..Default::default()
                })
                .collect(),
            require_stable: false,
        };
        let to = Destination::Coordinator {
            kind: CoordinatorKind::Group,
            key: group.to_owned(),
        };
        let build = |version, _: &_| call.to_request(version).map_err(Error::from);
        let answer = self
            .client
            .call_to(&to, build, self.deadline())
            .await
            .map_err(|e| concerning(e, &format!("group {group}")))?;
        let done = committed(group, answer);
        Ok(in_order(partitions, done, |tp| missing(api, tp)))
    }

    /// Runs `op` at `group`'s coordinator (the client's coordinator cache,
    /// `route.rs`) until it answers with something other than a moved or
    /// loading coordinator, or the deadline passes. For operations that
    /// send more than one request to the coordinator.
    pub(super) async fn on_coordinator<T, F, Fut>(
        &self,
        group: &str,
        api: ApiKey,
        op: F,
    ) -> Result<T>
    where
        F: Fn(BrokerConnection) -> Fut,
        Fut: Future<Output = Result<CodeAnswer<T>>>,
    {
        let deadline = self.deadline();
        let mut backoff = Backoff::new(deadline);
        loop {
            let outcome = match self.find_coordinator(group).await {
                Ok(conn) => op(conn).await,
                Err(e) => Err(e),
            };
            let error = match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(code)) => item_error(code, api, &format!("group {group}"), None),
                Err(e) => e,
            };
            let moved = error.code().is_some_and(|c| {
                c.is_coordinator_moved() || c == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            });
            if moved || matches!(error, Error::Disconnected { .. } | Error::Io { .. }) {
                self.client
                    .forget_coordinator(CoordinatorKind::Group, group);
            }
            if !(moved || error.is_retriable()) || !backoff.wait().await {
                return Err(error);
            }
            debug!(group, %api, %error, "retrying at the group coordinator");
        }
    }

    /// `request` at `group`'s coordinator through the client's one call
    /// path (found again on `NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`
    /// or `COORDINATOR_LOAD_IN_PROGRESS`); a failure names the group.
    pub(super) async fn call_for_group<R: Request + Clone>(
        &self,
        group: &str,
        request: &R,
    ) -> Result<Answer<R::Response>> {
        let to = Destination::of(request)?;
        self.client
            .call_to(&to, |_, _| Ok(request.clone()), self.deadline())
            .await
            .map_err(|e| concerning(e, &format!("group {group}")))
    }

    /// A connection to `group`'s coordinator (cached by the client).
    pub(super) async fn find_coordinator(&self, group: &str) -> Result<BrokerConnection> {
        let deadline = self.deadline();
        self.client
            .coordinator(CoordinatorKind::Group, group, deadline)
            .await
    }
}

/// Names what a broker error concerns when it does not say yet.
fn concerning(e: Error, what: &str) -> Error {
    match e {
        Error::Broker {
            code,
            api,
            version,
            broker,
            context,
        } if context.is_empty() => Error::Broker {
            code,
            api,
            version,
            broker,
            context: format!(" for {what}"),
        },
        other => other,
    }
}

fn missing_group(api: ApiKey, group: &str) -> Error {
    broker_error(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        api,
        format!(" for group {group}: missing from the response"),
    )
}

fn describe(g: DescribedGroup, coordinator: i32) -> GroupDescription {
    let consumer = g.protocol_type == CONSUMER_PROTOCOL_TYPE;
    let members = g
        .members
        .into_iter()
        .map(|m| {
            let assignment = match ConsumerProtocolAssignment::decode(m.member_assignment) {
                Ok(a) if consumer => a
                    .assigned_partitions
                    .into_iter()
                    .flat_map(|t| {
                        let topic = t.topic;
                        t.partitions
                            .into_iter()
                            .map(move |partition| TopicPartition {
                                topic: topic.clone(),
                                partition,
                            })
                    })
                    .collect(),
                _ => Vec::new(),
            };
            MemberDescription {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                assignment,
            }
        })
        .collect();
    GroupDescription {
        group_id: g.group_id,
        state: g.group_state,
        protocol_type: g.protocol_type,
        protocol: g.protocol_data,
        members,
        coordinator,
    }
}

/// The per-partition answers of an OffsetFetch whose group-level error
/// the call path already judged.
fn committed(
    group: &str,
    answer: Answer<OffsetFetchResponse>,
) -> PerItem<TopicPartition, Option<i64>> {
    let r = answer.body;
    // v8+ answers per group; earlier versions at the top level.
    let topics = match r.groups.into_iter().find(|g| g.group_id == group) {
        Some(g) => g.topics,
        None => r.topics,
    };
    let mut done = Vec::new();
    for t in topics {
        for p in t.partitions {
            let tp = TopicPartition {
                topic: t.name.clone(),
                partition: p.partition_index,
            };
            let r = if p.error_code.is_ok() {
                Ok((p.committed_offset >= 0).then_some(p.committed_offset))
            } else {
                let what = format!("{}/{} of group {group}", tp.topic, tp.partition);
                Err(item_error(p.error_code, ApiKey::OFFSET_FETCH, &what, None)
                    .answered_by(&answer.broker, answer.version))
            };
            done.push((tp, r));
        }
    }
    done
}

/// Partition indexes grouped by topic, topics sorted.
pub(super) fn by_topic(partitions: &[TopicPartition]) -> BTreeMap<String, Vec<i32>> {
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics
            .entry(tp.topic.clone())
            .or_default()
            .push(tp.partition);
    }
    topics
}

pub(super) fn missing(api: ApiKey, tp: &TopicPartition) -> Error {
    broker_error(
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        api,
        format!(
            " for {}/{}: missing from the response",
            tp.topic, tp.partition
        ),
    )
}
