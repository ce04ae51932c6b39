//! Consumer groups in bulk: list with state and type filters (ListGroups
//! v5), the committed offsets and lag of many groups at once (OffsetFetch
//! v8+ batches the groups of one coordinator, ListOffsets gives the ends),
//! and resetting a group's offsets as `kafka-consumer-groups.sh
//! --reset-offsets` does.
//! (`group_reset.rs`).
//!
//! Spec: KIP-518 (state filter), KIP-848 (group types), KIP-709 (batched
//! OffsetFetch).

use std::collections::BTreeMap;

use super::{at, broker_error, item_error, Admin, OffsetSpec, PerItem, TopicPartition};
use crate::error::{Error, Result};
use crate::protocol::messages::list_groups::ListGroupsRequest;
use crate::protocol::messages::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestGroup};
use crate::protocol::{ApiKey, ErrorCode};

/// One group as [`Admin::list_groups_filtered`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group id.
    pub group_id: String,
    /// Protocol type (`consumer`, or empty).
    pub protocol_type: String,
    /// State (`Stable`, `Empty`, ...; empty before ListGroups v4).
    pub state: String,
    /// Type (`classic`, `consumer`, `share`, ...; empty before ListGroups v5).
    pub group_type: String,
    /// Its coordinator's node id.
    pub coordinator: i32,
}

/// One partition of [`Admin::groups_offsets`].
#[derive(Debug, Clone)]
pub struct GroupPartitionOffset {
    /// The partition.
    pub partition: TopicPartition,
    /// The group's committed offset.
    pub committed: i64,
    /// The partition's high watermark.
    pub latest: Result<i64>,
}

impl GroupPartitionOffset {
    /// Records the group has yet to consume (at least 0), when the end is known.
    pub fn lag(&self) -> Option<i64> {
        self.latest
            .as_ref()
            .ok()
            .map(|l| (l - self.committed).max(0))
    }
}

impl Admin {
    /// Lists the groups of every broker, keeping only those in one of
    /// `states` and of one of `types` (empty: any). Filters need ListGroups
    /// v4 (states) and v5 (types); brokers that cannot filter are reported
    /// in the errors.
    pub async fn list_groups_filtered(
        &self,
        states: &[String],
        types: &[String],
    ) -> Result<(Vec<GroupSummary>, Vec<(i32, Error)>)> {
        let metadata = self.client.refresh_metadata().await?;
        let (mut groups, mut errors) = (Vec::new(), Vec::new());
        for &node in metadata.brokers.keys() {
            match self.list_groups_at(node, states, types).await {
                Ok(g) => groups.extend(g),
                Err(e) => errors.push((node, e)),
            }
        }
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok((groups, errors))
    }

    async fn list_groups_at(
        &self,
        node: i32,
        states: &[String],
        types: &[String],
    ) -> Result<Vec<GroupSummary>> {
        let conn = self.client.broker(node).await?;
        let version = conn.version_for::<ListGroupsRequest>()?;
        let lacking = if !types.is_empty() && version < 5 {
            Some("a group type filter (v5+)")
        } else if !states.is_empty() && version < 4 {
            Some("a group state filter (v4+)")
        } else {
            None
        };
        if let Some(what) = lacking {
            return Err(Error::UnsupportedVersion {
                broker: format!("{node} ({})", conn.addr()),
                api: ApiKey::LIST_GROUPS,
                version,
                what: what.into(),
            });
        }
        let request = ListGroupsRequest {
            states_filter: states.to_vec(),
            types_filter: types.to_vec(),
            ..Default::default()
        };
        let response = conn.send_at(&request, version).await?;
        if !response.error_code.is_ok() {
            let context = at(&conn, version);
            return Err(broker_error(
                response.error_code,
                ApiKey::LIST_GROUPS,
                context,
            ));
        }
        Ok(response
            .groups
            .into_iter()
            .map(|g| GroupSummary {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: g.group_state,
                group_type: g.group_type,
                coordinator: node,
            })
            .collect())
    }

    /// Every committed offset of each group, with each partition's lag;
    /// the groups sharing a coordinator are asked in one OffsetFetch (v8+).
    /// One result per group, partitions sorted.
    pub async fn groups_offsets(
        &self,
        groups: &[String],
    ) -> Result<PerItem<String, Vec<GroupPartitionOffset>>> {
        let committed = self.groups_committed(groups).await;
        let mut all: Vec<TopicPartition> = committed
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .flat_map(|m| m.keys().cloned())
            .collect();
        all.sort();
        all.dedup();
        let latest: BTreeMap<TopicPartition, Result<i64>> = if all.is_empty() {
            BTreeMap::new()
        } else {
            self.list_offsets(&all, OffsetSpec::Latest)
                .await?
                .into_iter()
                .map(|(tp, r)| (tp, r.map(|o| o.offset)))
                .collect()
        };
        Ok(committed
            .into_iter()
            .map(|(g, r)| {
                let r = r.map(|offsets| {
                    offsets
                        .into_iter()
                        .map(|(tp, committed)| GroupPartitionOffset {
                            latest: latest.get(&tp).cloned().unwrap_or_else(|| {
                                Err(broker_error(
                                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                    ApiKey::LIST_OFFSETS,
                                    String::new(),
                                ))
                            }),
                            partition: tp,
                            committed,
                        })
                        .collect()
                });
                (g, r)
            })
            .collect())
    }

    /// Each group's committed offsets (partitions with nothing committed
    /// left out), batched per coordinator.
    async fn groups_committed(
        &self,
        groups: &[String],
    ) -> PerItem<String, BTreeMap<TopicPartition, i64>> {
        let mut by_node: BTreeMap<i32, (crate::connection::BrokerConnection, Vec<String>)> =
            BTreeMap::new();
        let mut done = Vec::new();
        for g in groups {
            match self.find_coordinator(g).await {
                Ok(conn) => {
                    let node = conn.node_id().unwrap_or(-1);
                    by_node
                        .entry(node)
                        .or_insert_with(|| (conn, Vec::new()))
                        .1
                        .push(g.clone());
                }
                Err(e) => done.push((g.clone(), Err(e))),
            }
        }
        for (_, (conn, names)) in by_node {
            match self.fetch_groups_at(&conn, &names).await {
                Ok(results) => done.extend(results),
                Err(e) => done.extend(names.into_iter().map(|g| (g, Err(e.clone())))),
            }
        }
        super::in_order(groups, done, |g| {
            broker_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                ApiKey::OFFSET_FETCH,
                format!(" for group {g}: missing"),
            )
        })
    }

    /// One OffsetFetch for `names` at their coordinator (v8+), or one per
    /// group on an older broker.
    async fn fetch_groups_at(
        &self,
        conn: &crate::connection::BrokerConnection,
        names: &[String],
    ) -> Result<PerItem<String, BTreeMap<TopicPartition, i64>>> {
        let version = conn.version_for::<OffsetFetchRequest>()?;
        let requests: Vec<OffsetFetchRequest> = if version >= 8 {
            vec![OffsetFetchRequest {
                groups: names
                    .iter()
                    .map(|g| OffsetFetchRequestGroup {
                        group_id: g.clone(),
                        topics: None,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }]
        } else {
            names
                .iter()
                .map(|g| OffsetFetchRequest {
                    group_id: g.clone(),
                    topics: None,
                    ..Default::default()
                })
                .collect()
        };
        let where_ = at(conn, version);
        let mut done = Vec::new();
        for request in requests {
            let r = conn.send_at(&request, version).await?;
            let answers: Vec<_> = if version >= 8 {
                r.groups
                    .into_iter()
                    .map(|g| (g.group_id, g.error_code, g.topics))
                    .collect()
            } else {
                vec![(request.group_id, r.error_code, r.topics)]
            };
            for (group, code, topics) in answers {
                if !code.is_ok() {
                    let what = format!("group {group}{where_}");
                    done.push((
                        group,
                        Err(item_error(code, ApiKey::OFFSET_FETCH, &what, None)),
                    ));
                    continue;
                }
                let offsets = topics
                    .into_iter()
                    .flat_map(|t| {
                        let name = t.name;
                        t.partitions
                            .into_iter()
                            .filter(|p| p.error_code.is_ok() && p.committed_offset >= 0)
                            .map(move |p| {
                                (
                                    TopicPartition {
                                        topic: name.clone(),
                                        partition: p.partition_index,
                                    },
                                    p.committed_offset,
                                )
                            })
                    })
                    .collect();
                done.push((group, Ok(offsets)));
            }
        }
        Ok(done)
    }
}
