//! The group part of the version sweep (`kafka_sweep.rs`): one consumer
//! group per round, each group API at `min(round, its newest shared version)`
//! so every shared version of each is sent once at least.

use kafkit::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartitions,
};
use kafkit::protocol::messages::delete_groups::DeleteGroupsRequest;
use kafkit::protocol::messages::describe_groups::DescribeGroupsRequest;
use kafkit::protocol::messages::find_coordinator::FindCoordinatorRequest;
use kafkit::protocol::messages::heartbeat::HeartbeatRequest;
use kafkit::protocol::messages::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafkit::protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};
use kafkit::protocol::messages::list_groups::ListGroupsRequest;
use kafkit::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkit::protocol::messages::offset_delete::{OffsetDeleteRequest, OffsetDeleteRequestTopic};
use kafkit::protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafkit::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafkit::protocol::{ErrorCode, Message, Request};

use super::kafka_golden::Recorder;
use super::kafka_sweep::versions;

fn protocols(topic: &str) -> Vec<JoinGroupRequestProtocol> {
    let metadata = ConsumerProtocolSubscription {
        topics: vec![topic.to_string()],
        ..Default::default()
    }
    .encode(0)
    .expect("subscription");
    vec![JoinGroupRequestProtocol {
        name: "range".into(),
        metadata,
        ..Default::default()
    }]
}

/// One group per JoinGroup version, taken through SyncGroup, Heartbeat,
/// OffsetCommit, OffsetFetch, DescribeGroups and LeaveGroup, each API at
/// `min(i, its max)` so every version of each is sent once at least.
pub async fn groups(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
    let tops = [
        JoinGroupRequest::VERSIONS.max,
        SyncGroupRequest::VERSIONS.max,
        OffsetFetchRequest::VERSIONS.max,
    ];
    let rounds = tops.iter().copied().max().unwrap_or(0);
    let (mut names, mut with_offsets) = (Vec::new(), Vec::new());
    for i in 0..=rounds {
        let group = unique("sweep-group");
        if one_group(rec, topic, &group, i).await {
            with_offsets.push(group.clone());
        }
        names.push(group);
    }
    for v in versions::<ListGroupsRequest>(rec) {
        let req = ListGroupsRequest {
            states_filter: if v >= 4 {
                vec!["Empty".into()]
            } else {
                Vec::new()
            },
            types_filter: if v >= 5 {
                vec!["classic".into()]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let resp = rec.call_at("sweep-list-groups", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "ListGroups v{v}");
        assert!(
            names
                .iter()
                .all(|n| resp.groups.iter().any(|g| &g.group_id == n)),
            "ListGroups v{v} lists the sweep's (now empty) groups"
        );
    }
    for v in versions::<OffsetDeleteRequest>(rec) {
        let req = OffsetDeleteRequest {
            group_id: with_offsets[0].clone(),
            topics: vec![OffsetDeleteRequestTopic {
                name: topic.to_string(),
                partitions: vec![0],
            }],
        };
        let resp = rec.call_at("sweep-offset-delete", &req, v).await;
        assert_eq!(
            resp.error_code,
            ErrorCode::NONE,
            "OffsetDelete v{v}: {resp:?}"
        );
    }
    let delete_versions = versions::<DeleteGroupsRequest>(rec);
    // Groups whose commit was refused are gone once empty; the rest are deleted.
    let per_call = with_offsets.len().div_ceil(delete_versions.len());
    for (i, chunk) in with_offsets.chunks(per_call).enumerate() {
        let v = delete_versions[i.min(delete_versions.len() - 1)];
        let req = DeleteGroupsRequest {
            groups_names: chunk.to_vec(),
            ..Default::default()
        };
        let resp = rec.call_at("sweep-delete-groups", &req, v).await;
        // The group OffsetDelete emptied of offsets: 3.9 drops it at once
        // (GROUP_ID_NOT_FOUND), 4.x keeps it until deleted.
        let ok = |r: &kafkit::protocol::messages::delete_groups::DeletableGroupResult| {
            r.error_code == ErrorCode::NONE
                || (r.group_id == with_offsets[0] && r.error_code == ErrorCode::GROUP_ID_NOT_FOUND)
        };
        assert!(resp.results.iter().all(ok), "DeleteGroups v{v}: {resp:?}");
        assert_eq!(resp.results.len(), chunk.len(), "DeleteGroups v{v}");
    }
}

fn at<R: Request>(rec: &Recorder, i: i16) -> i16 {
    let range: Vec<i16> = versions::<R>(rec);
    let lo = range.first().copied().unwrap_or(0);
    let hi = range.last().copied().unwrap_or(0);
    i.clamp(lo, hi)
}

/// Returns whether the group committed an offset.
async fn one_group(rec: &mut Recorder, topic: &str, group: &str, i: i16) -> bool {
    let v = at::<FindCoordinatorRequest>(rec, i);
    let find = FindCoordinatorRequest {
        key: if v < 4 {
            group.to_string()
        } else {
            String::new()
        },
        coordinator_keys: if v >= 4 {
            vec![group.to_string()]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    // A fresh node creates __consumer_offsets on the first lookup.
    let found = rec
        .call_until_at("sweep-find-coordinator", &find, v, |r| {
            !r.error_code.is_retriable()
                && r.coordinators.iter().all(|c| !c.error_code.is_retriable())
        })
        .await;
    assert!(
        found.error_code.is_ok() && found.coordinators.iter().all(|c| c.error_code.is_ok()),
        "FindCoordinator v{v}: {found:?}"
    );
    let v = at::<JoinGroupRequest>(rec, i);
    let mut join = JoinGroupRequest {
        group_id: group.to_string(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: protocols(topic),
        ..Default::default()
    };
    // A coordinator that just took the group's partition may still load it.
    let mut joined = rec
        .call_until_at("sweep-join-group", &join, v, |r| {
            !r.error_code.is_retriable()
        })
        .await;
    if joined.error_code == ErrorCode::MEMBER_ID_REQUIRED {
        join.member_id = joined.member_id.clone();
        joined = rec.call_at("sweep-join-group", &join, v).await;
    }
    assert_eq!(
        joined.error_code,
        ErrorCode::NONE,
        "JoinGroup v{v}: {joined:?}"
    );
    assert_eq!(joined.leader, joined.member_id, "JoinGroup v{v}");
    let (member, generation) = (joined.member_id, joined.generation_id);
    sync_and_beat(rec, topic, group, &member, generation, i).await;
    let committed = commit(rec, topic, group, (&member, generation), i).await;
    describe_and_leave(rec, group, &member, i).await;
    committed
}

/// DescribeGroups (the stable group with its one member), then LeaveGroup.
async fn describe_and_leave(rec: &mut Recorder, group: &str, member: &str, i: i16) {
    let v = at::<DescribeGroupsRequest>(rec, i);
    let req = DescribeGroupsRequest {
        groups: vec![group.to_string()],
        ..Default::default()
    };
    let described = rec.call_at("sweep-describe-groups", &req, v).await;
    let g = &described.groups[0];
    assert_eq!(
        (g.error_code, g.group_state.as_str()),
        (ErrorCode::NONE, "Stable"),
        "DescribeGroups v{v}"
    );
    assert_eq!(g.members[0].member_id, member, "DescribeGroups v{v}");
    let v = at::<LeaveGroupRequest>(rec, i);
    let leave = LeaveGroupRequest {
        group_id: group.to_string(),
        member_id: if v < 3 {
            member.to_string()
        } else {
            String::new()
        },
        members: if v >= 3 {
            vec![MemberIdentity {
                member_id: member.to_string(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let left = rec.call_at("sweep-leave-group", &leave, v).await;
    assert_eq!(
        left.error_code,
        ErrorCode::NONE,
        "LeaveGroup v{v}: {left:?}"
    );
}

/// SyncGroup (the member assigns both partitions to itself) and Heartbeat.
async fn sync_and_beat(
    rec: &mut Recorder,
    topic: &str,
    group: &str,
    member: &str,
    generation: i32,
    i: i16,
) {
    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: vec![TopicPartitions {
            topic: topic.to_string(),
            partitions: vec![0, 1],
        }],
        ..Default::default()
    }
    .encode(0)
    .expect("assignment");
    let v = at::<SyncGroupRequest>(rec, i);
    let sync = SyncGroupRequest {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member.to_string(),
        protocol_type: (v >= 5).then(|| "consumer".into()),
        protocol_name: (v >= 5).then(|| "range".into()),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: member.to_string(),
            assignment: assignment.clone(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let synced = rec.call_at("sweep-sync-group", &sync, v).await;
    assert_eq!(
        (synced.error_code, synced.assignment.clone()),
        (ErrorCode::NONE, assignment),
        "SyncGroup v{v}"
    );
    let v = at::<HeartbeatRequest>(rec, i);
    let beat = HeartbeatRequest {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member.to_string(),
        ..Default::default()
    };
    let beat = rec.call_at("sweep-heartbeat", &beat, v).await;
    assert_eq!(beat.error_code, ErrorCode::NONE, "Heartbeat v{v}");
}

/// OffsetCommit of partition 0 and OffsetFetch of it; returns whether the
/// commit was stored.
async fn commit(
    rec: &mut Recorder,
    topic: &str,
    group: &str,
    (member, generation): (&str, i32),
    i: i16,
) -> bool {
    let v = at::<OffsetCommitRequest>(rec, i);
    let offset = 1 + i64::from(i);
    let commit = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id_or_member_epoch: generation,
        member_id: member.to_string(),
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: topic.to_string(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                commit_timestamp: -1,
                committed_metadata: Some(format!("v{v}")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let committed = rec.call_at("sweep-offset-commit", &commit, v).await;
    let p = &committed.topics[0].partitions[0];
    if v == 0 {
        // v0 stored offsets in ZooKeeper: a KRaft broker that still lists it
        // (3.9) refuses it.
        assert_eq!(
            p.error_code,
            ErrorCode::UNSUPPORTED_VERSION,
            "OffsetCommit v0"
        );
        let (error, fetched, _) = offset_fetch(rec, topic, group, i).await;
        assert!(
            error == ErrorCode::UNSUPPORTED_VERSION || (error.is_ok() && fetched == -1),
            "OffsetFetch after a refused OffsetCommit v0: {error:?} {fetched}"
        );
        return false;
    }
    assert_eq!(p.error_code, ErrorCode::NONE, "OffsetCommit v{v}");
    let fetched = offset_fetch(rec, topic, group, i).await;
    assert_eq!(
        fetched,
        (ErrorCode::NONE, offset, Some(format!("v{v}"))),
        "OffsetFetch after OffsetCommit v{v}"
    );
    true
}

/// OffsetFetch of partition 0 at `min(i, max)`: (error, offset, metadata).
async fn offset_fetch(
    rec: &mut Recorder,
    topic: &str,
    group: &str,
    i: i16,
) -> (ErrorCode, i64, Option<String>) {
    let v = at::<OffsetFetchRequest>(rec, i);
    let topics = Some(vec![OffsetFetchRequestTopic {
        name: topic.to_string(),
        partition_indexes: vec![0],
        ..Default::default()
    }]);
    let req = if v >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.to_string(),
                member_epoch: -1,
                topics,
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group.to_string(),
            topics,
            ..Default::default()
        }
    };
    let resp = rec.call_at("sweep-offset-fetch", &req, v).await;
    let topics = if v >= 8 {
        &resp.groups[0].topics
    } else {
        &resp.topics
    };
    let p = &topics[0].partitions[0];
    (p.error_code, p.committed_offset, p.metadata.clone())
}
