//! Every version kafkit and a real broker share, of every API kafkit
//! implements: one request per (API, version) that the broker answers
//! without error (or with the error the request asks for), each answer
//! decoded strictly and re-encoded byte for byte. The negotiated version is
//! what the client sends; the others are what it sends to older brokers, and
//! a codec's version gates (fields present from vN, flexible from vM) only
//! meet a real peer here.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::messages::any::{AnyResponse, APIS};
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartitions,
};
use kafkit::protocol::messages::create_topics::{CreatableTopic, CreateTopicsRequest};
use kafkit::protocol::messages::delete_groups::DeleteGroupsRequest;
use kafkit::protocol::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafkit::protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafkit::protocol::messages::produce::ProduceRequest;
use kafkit::protocol::record::{DecodeOptions, RecordSet};
use kafkit::protocol::messages::delete_topics::{DeleteTopicState, DeleteTopicsRequest};
use kafkit::protocol::messages::describe_groups::DescribeGroupsRequest;
use kafkit::protocol::messages::find_coordinator::FindCoordinatorRequest;
use kafkit::protocol::messages::heartbeat::HeartbeatRequest;
use kafkit::protocol::messages::init_producer_id::InitProducerIdRequest;
use kafkit::protocol::messages::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafkit::protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};
use kafkit::protocol::messages::list_groups::ListGroupsRequest;
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkit::protocol::messages::offset_delete::{OffsetDeleteRequest, OffsetDeleteRequestTopic};
use kafkit::protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafkit::protocol::messages::sasl_authenticate::SaslAuthenticateRequest;
use kafkit::protocol::messages::sasl_handshake::SaslHandshakeRequest;
use kafkit::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafkit::protocol::{ApiKey, ErrorCode, Message, Request, VersionRange};

use super::kafka_golden::Recorder;
use super::kafka_scenario;

/// Runs the sweep against the broker at `addr`; `unique` makes topic and
/// group names. Returns the (API, version) pairs exercised.
pub async fn sweep(addr: &str, unique: &dyn Fn(&str) -> String) -> BTreeMap<i16, Vec<i16>> {
    let mut rec = Recorder::connect(addr).await;
    let topic = unique("sweep");
    // The scenario's topic steps at the negotiated versions give a topic
    // with records; the sweep then asks about it at every version.
    api_versions(&mut rec).await;
    admin(&mut rec, &topic, unique).await;
    reads(&mut rec, &topic).await;
    groups(&mut rec, &topic, unique).await;
    sasl(&mut rec).await;
    check_encodings(&rec);
    let mut seen: BTreeMap<i16, Vec<i16>> = BTreeMap::new();
    for x in &rec.exchanges {
        seen.entry(x.api_key).or_default().push(x.version);
    }
    for api in APIS {
        // Produce v0–2 carry magic 0/1 message sets, which kafkit does not write.
        let want: Vec<i16> = common(&rec, api.api_key)
            .filter(|v| api.api_key != ApiKey::PRODUCE || *v >= 3)
            .collect();
        let mut got = seen.get(&api.api_key.0).cloned().unwrap_or_default();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, want, "{}: versions exercised", api.name);
    }
    seen
}

/// The versions of `key` both sides support.
fn common(rec: &Recorder, key: ApiKey) -> impl Iterator<Item = i16> {
    let ours = kafkit::protocol::messages::any::api_info(key)
        .map(|a| a.request_versions)
        .expect("implemented");
    let theirs = rec.broker.get(&key.0).copied().expect("listed by the broker");
    ours.min.max(theirs.min)..=ours.max.min(theirs.max)
}

fn versions<R: Request>(rec: &Recorder) -> Vec<i16> {
    common(rec, R::API_KEY).collect()
}

/// Every recorded answer: decoded strictly through the dynamic codec and
/// re-encoded to the same bytes.
fn check_encodings(rec: &Recorder) {
    for x in &rec.exchanges {
        let what = format!("{} {} v{}", x.step, super::kafka_golden::api_name(x.api_key), x.version);
        let body = x.response.slice(4..);
        let (header, msg) = AnyResponse::decode_frame_strict(ApiKey(x.api_key), x.version, body)
            .unwrap_or_else(|e| panic!("{what}: strict decode: {e}"));
        let mut again = BytesMut::new();
        msg.encode_frame(x.version, header.correlation_id, &mut again)
            .unwrap_or_else(|e| panic!("{what}: re-encode: {e}"));
        super::golden::assert_bytes_eq(&what, &x.response, &again);
    }
}

async fn api_versions(rec: &mut Recorder) {
    for v in versions::<ApiVersionsRequest>(rec) {
        let req = ApiVersionsRequest {
            client_software_name: if v >= 3 { "kafkit".into() } else { String::new() },
            client_software_version: if v >= 3 { "sweep".into() } else { String::new() },
            ..Default::default()
        };
        let resp = rec.call_at("sweep-api-versions", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "ApiVersions v{v}");
        let listed: BTreeMap<i16, VersionRange> = resp
            .api_keys
            .iter()
            .map(|a| (a.api_key, VersionRange::new(a.min_version, a.max_version)))
            .collect();
        assert_eq!(listed, rec.broker, "ApiVersions v{v} lists the same ranges");
    }
}

async fn admin(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
    for v in versions::<CreateTopicsRequest>(rec) {
        let req = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: unique("sweep-validate"),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            validate_only: v >= 1,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-create-topics", &req, v).await;
        assert_eq!(resp.topics[0].error_code, ErrorCode::NONE, "CreateTopics v{v}: {resp:?}");
    }
    for v in versions::<DeleteTopicsRequest>(rec) {
        let missing = unique("sweep-missing");
        let req = DeleteTopicsRequest {
            topics: if v >= 6 {
                vec![DeleteTopicState {
                    name: Some(missing.clone()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            topic_names: if v < 6 { vec![missing] } else { Vec::new() },
            timeout_ms: 10_000,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-delete-topics", &req, v).await;
        assert_eq!(
            resp.responses[0].error_code,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            "DeleteTopics v{v}: {resp:?}"
        );
    }
    for v in versions::<InitProducerIdRequest>(rec) {
        let req = InitProducerIdRequest {
            transaction_timeout_ms: -1,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        // The transaction coordinator may still be loading on a fresh node.
        rec.call_until("sweep-init-producer-id", &req, |r| !r.error_code.is_retriable())
            .await;
        let resp = rec.call_at("sweep-init-producer-id", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "InitProducerId v{v}");
        assert!(resp.producer_id >= 0, "InitProducerId v{v}: {resp:?}");
    }
    // A topic for the record APIs, made at the negotiated versions.
    kafka_scenario::create_topic(rec, topic).await;
}

async fn reads(rec: &mut Recorder, topic: &str) {
    for v in versions::<MetadataRequest>(rec) {
        let req = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.to_string()),
                ..Default::default()
            }]),
            // v0–3 always auto-create (the field defaults to true there).
            allow_auto_topic_creation: v < 4,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-metadata", &req, v).await;
        let t = &resp.topics[0];
        assert_eq!((t.error_code, t.partitions.len()), (ErrorCode::NONE, 2), "Metadata v{v}");
        assert!(!resp.brokers.is_empty(), "Metadata v{v}");
    }
    records(rec, topic).await;
}

/// Produce at every version (3 records each, so the batch of version `v`
/// starts at `3 * k`), then ListOffsets and Fetch at every version.
async fn records(rec: &mut Recorder, topic: &str) {
    let mut produced = 0;
    let mut topic_id = kafkit::protocol::Uuid::ZERO;
    for v in versions::<ProduceRequest>(rec) {
        if v < 3 {
            // v0–2 carry magic 0/1 message sets, which kafkit does not write.
            continue;
        }
        let req = kafka_scenario::produce_request(topic, kafka_scenario::record_batch(-1, -1));
        let resp = rec.call_at("sweep-produce", &req, v).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (ErrorCode::NONE, produced), "Produce v{v}: {resp:?}");
        produced += kafka_scenario::RECORDS;
    }
    for v in versions::<ListOffsetsRequest>(rec) {
        let req = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.to_string(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    current_leader_epoch: -1,
                    timestamp: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = rec.call_at("sweep-list-offsets", &req, v).await;
        let p = &resp.topics[0].partitions[0];
        let offset = if v == 0 { p.old_style_offsets.first().copied().unwrap_or(-1) } else { p.offset };
        assert_eq!((p.error_code, offset), (ErrorCode::NONE, produced), "ListOffsets v{v}: {resp:?}");
    }
    let md = rec
        .call(
            "sweep-topic-id",
            &MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(topic.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
    if let Some(t) = md.topics.first() {
        topic_id = t.topic_id;
    }
    for v in versions::<FetchRequest>(rec) {
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: 10,
            min_bytes: 1,
            max_bytes: 1 << 20,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: if v < 13 { topic.to_string() } else { String::new() },
                topic_id: if v >= 13 { topic_id } else { kafkit::protocol::Uuid::ZERO },
                partitions: vec![FetchPartition {
                    partition: 0,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = rec.call_at("sweep-fetch", &req, v).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (ErrorCode::NONE, produced), "Fetch v{v}");
        let set = RecordSet::decode(p.records.clone().unwrap_or_default(), &DecodeOptions::default())
            .unwrap_or_else(|e| panic!("Fetch v{v}: records: {e}"));
        let first = set.batches.first().unwrap_or_else(|| panic!("Fetch v{v}: no batch"));
        let records: Vec<_> = first.records().collect::<Result<_, _>>().expect("records");
        assert_eq!(records[0].value.as_deref(), Some(kafka_scenario::record_value(0).as_bytes()), "Fetch v{v}");
    }
}

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
async fn groups(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
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
            states_filter: if v >= 4 { vec!["Empty".into()] } else { Vec::new() },
            types_filter: if v >= 5 { vec!["classic".into()] } else { Vec::new() },
            ..Default::default()
        };
        let resp = rec.call_at("sweep-list-groups", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "ListGroups v{v}");
        assert!(
            names.iter().all(|n| resp.groups.iter().any(|g| &g.group_id == n)),
            "ListGroups v{v} lists the sweep's (now empty) groups"
        );
    }
    for v in versions::<OffsetDeleteRequest>(rec) {
        let req = OffsetDeleteRequest {
            group_id: with_offsets[0].clone(),
            topics: vec![OffsetDeleteRequestTopic {
                name: topic.to_string(),
                partitions: vec![0],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = rec.call_at("sweep-offset-delete", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "OffsetDelete v{v}: {resp:?}");
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
        key: if v < 4 { group.to_string() } else { String::new() },
        coordinator_keys: if v >= 4 { vec![group.to_string()] } else { Vec::new() },
        ..Default::default()
    };
    // A fresh node creates __consumer_offsets on the first lookup.
    let found = rec
        .call_until_at("sweep-find-coordinator", &find, v, |r| {
            !r.error_code.is_retriable() && r.coordinators.iter().all(|c| !c.error_code.is_retriable())
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
        .call_until_at("sweep-join-group", &join, v, |r| !r.error_code.is_retriable())
        .await;
    if joined.error_code == ErrorCode::MEMBER_ID_REQUIRED {
        join.member_id = joined.member_id.clone();
        joined = rec.call_at("sweep-join-group", &join, v).await;
    }
    assert_eq!(joined.error_code, ErrorCode::NONE, "JoinGroup v{v}: {joined:?}");
    assert_eq!(joined.leader, joined.member_id, "JoinGroup v{v}");
    let (member, generation) = (joined.member_id, joined.generation_id);
    let committed = sync_and_commit(rec, topic, group, &member, generation, i).await;
    let v = at::<DescribeGroupsRequest>(rec, i);
    let req = DescribeGroupsRequest {
        groups: vec![group.to_string()],
        ..Default::default()
    };
    let described = rec.call_at("sweep-describe-groups", &req, v).await;
    let g = &described.groups[0];
    assert_eq!((g.error_code, g.group_state.as_str()), (ErrorCode::NONE, "Stable"), "DescribeGroups v{v}");
    assert_eq!(g.members[0].member_id, member, "DescribeGroups v{v}");
    let v = at::<LeaveGroupRequest>(rec, i);
    let leave = LeaveGroupRequest {
        group_id: group.to_string(),
        member_id: if v < 3 { member.clone() } else { String::new() },
        members: if v >= 3 {
            vec![MemberIdentity {
                member_id: member.clone(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let left = rec.call_at("sweep-leave-group", &leave, v).await;
    assert_eq!(left.error_code, ErrorCode::NONE, "LeaveGroup v{v}: {left:?}");
    committed
}

async fn sync_and_commit(
    rec: &mut Recorder,
    topic: &str,
    group: &str,
    member: &str,
    generation: i32,
    i: i16,
) -> bool {
    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: vec![TopicPartitions {
            topic: topic.to_string(),
            partitions: vec![0, 1],
            ..Default::default()
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
    assert_eq!((synced.error_code, synced.assignment.clone()), (ErrorCode::NONE, assignment), "SyncGroup v{v}");
    let v = at::<HeartbeatRequest>(rec, i);
    let beat = HeartbeatRequest {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member.to_string(),
        ..Default::default()
    };
    let beat = rec.call_at("sweep-heartbeat", &beat, v).await;
    assert_eq!(beat.error_code, ErrorCode::NONE, "Heartbeat v{v}");
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
        assert_eq!(p.error_code, ErrorCode::UNSUPPORTED_VERSION, "OffsetCommit v0");
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
    let topics = if v >= 8 { &resp.groups[0].topics } else { &resp.topics };
    let p = &topics[0].partitions[0];
    (p.error_code, p.committed_offset, p.metadata.clone())
}

async fn sasl(rec: &mut Recorder) {
    for v in versions::<SaslHandshakeRequest>(rec) {
        let req = SaslHandshakeRequest {
            mechanism: "PLAIN".into(),
            ..Default::default()
        };
        let resp = rec.call_at("sweep-sasl-handshake", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::ILLEGAL_SASL_STATE, "SaslHandshake v{v}");
    }
    for v in versions::<SaslAuthenticateRequest>(rec) {
        let req = SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(b"\0user\0secret"),
            ..Default::default()
        };
        let resp = rec.call_at("sweep-sasl-authenticate", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::ILLEGAL_SASL_STATE, "SaslAuthenticate v{v}");
    }
}
