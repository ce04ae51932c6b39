//! The scenario behind the real-broker golden frames: one topic and one
//! consumer group taken through every API kafkit implements, each request at
//! the version negotiated with the broker, on one connection (a single node
//! is also the group coordinator). See `tests/golden_kafka.rs` for what is
//! checked in the answers.

use bytes::{Bytes, BytesMut};
use kafkit::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartitions,
};
use kafkit::protocol::messages::create_topics::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafkit::protocol::messages::delete_groups::DeleteGroupsRequest;
use kafkit::protocol::messages::delete_topics::{DeleteTopicState, DeleteTopicsRequest};
use kafkit::protocol::messages::describe_groups::DescribeGroupsRequest;
use kafkit::protocol::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafkit::protocol::messages::find_coordinator::FindCoordinatorRequest;
use kafkit::protocol::messages::heartbeat::HeartbeatRequest;
use kafkit::protocol::messages::init_producer_id::InitProducerIdRequest;
use kafkit::protocol::messages::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafkit::protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};
use kafkit::protocol::messages::list_groups::ListGroupsRequest;
use kafkit::protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkit::protocol::messages::offset_delete::{OffsetDeleteRequest, OffsetDeleteRequestTopic};
use kafkit::protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafkit::protocol::messages::produce::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafkit::protocol::messages::sasl_authenticate::SaslAuthenticateRequest;
use kafkit::protocol::messages::sasl_handshake::SaslHandshakeRequest;
use kafkit::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafkit::protocol::record::{BatchAttributes, BatchHeader, Record, RecordBatch, RecordHeader};
use kafkit::protocol::{ErrorCode, Uuid};

use super::kafka_golden::{Exchange, Facts, Recorder};

/// Records the scenario produces to partition 0.
pub const RECORDS: i64 = 3;
/// The offset the group commits for partition 0 (all records read).
pub const COMMITTED: i64 = RECORDS;
/// The commit's metadata string.
pub const COMMIT_METADATA: &str = "golden commit";
/// The group's assignor name.
pub const PROTOCOL: &str = "range";
/// `retention.ms` set on the topic at creation.
pub const RETENTION_MS: &str = "3600000";

/// The value of record `i`.
pub fn record_value(i: i64) -> String {
    format!("golden real kafka {i}")
}

/// What earlier steps learned that later requests need.
#[derive(Default)]
struct State {
    topic_id: Uuid,
    producer_id: i64,
    producer_epoch: i16,
    member_id: String,
    generation: i32,
}

/// Runs the scenario against the broker at `addr` (`host:port`) with a fresh
/// `topic` and `group`; returns the exchanges and the facts to store.
pub async fn run(
    addr: &str,
    topic: &str,
    group: &str,
    broker_version: &str,
) -> (Vec<Exchange>, Facts) {
    let mut rec = Recorder::connect(addr).await;
    let mut st = State::default();
    topic_steps(&mut rec, &mut st, topic).await;
    group_steps(&mut rec, &mut st, topic, group).await;
    let txn_group = super::kafka_txn::TxnGroup {
        id: group,
        generation: st.generation,
        member_id: &st.member_id,
    };
    super::kafka_txn::scenario_steps(&mut rec, topic, &txn_group).await;
    kip848_steps(&mut rec, topic, group).await;
    let v = rec.version::<kafkit::protocol::messages::share_fetch::ShareFetchRequest>();
    let share_group = format!("{group}-share");
    let r =
        super::kafka_share::round(&mut rec, "share", topic, st.topic_id, &share_group, 2, v).await;
    let dv = rec.version::<kafkit::protocol::messages::describe_share_group_offsets::DescribeShareGroupOffsetsRequest>();
    super::kafka_share::offsets_steps(&mut rec, "share", topic, &share_group, r.first_offset, dv)
        .await;
    cleanup_steps(&mut rec, &st, topic, group).await;
    sasl_steps(&mut rec).await;
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let mut facts = Facts::default();
    for (k, v) in [
        ("broker_version", broker_version),
        ("host", host),
        ("port", port),
        ("topic", topic),
        ("group", group),
    ] {
        facts.values.insert(k.to_string(), v.to_string());
    }
    (rec.exchanges, facts)
}

/// Creates `topic` (2 partitions, `retention.ms` set) and asks Metadata
/// until both partitions have a leader; returns the topic id.
pub async fn create_topic(rec: &mut Recorder, topic: &str) -> Uuid {
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.to_string(),
            num_partitions: 2,
            replication_factor: 1,
            configs: vec![CreatableTopicConfig {
                name: "retention.ms".into(),
                value: Some(RETENTION_MS.into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let created = rec.call("create-topics", &create).await;
    let md = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.to_string()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    // The new partitions' leaders appear within moments.
    rec.call_until("metadata", &md, |m| {
        m.topics.first().is_some_and(|t| {
            t.error_code == ErrorCode::NONE
                && t.partitions.len() == 2
                && t.partitions.iter().all(|p| p.leader_id >= 0)
        })
    })
    .await;
    created.topics.first().map_or(Uuid::ZERO, |t| t.topic_id)
}

async fn topic_steps(rec: &mut Recorder, st: &mut State, topic: &str) {
    st.topic_id = create_topic(rec, topic).await;
    let init = InitProducerIdRequest {
        transaction_timeout_ms: -1,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let ids = rec
        .call_until("init-producer-id", &init, |r| !r.error_code.is_retriable())
        .await;
    (st.producer_id, st.producer_epoch) = (ids.producer_id, ids.producer_epoch);
    produce(rec, st, topic).await;
    let list = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.to_string(),
            partitions: [(0, -1), (1, -2)]
                .map(|(partition_index, timestamp)| ListOffsetsPartition {
                    partition_index,
                    current_leader_epoch: -1,
                    timestamp,
                    ..Default::default()
                })
                .to_vec(),
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    rec.call_until("list-offsets", &list, |r| {
        r.topics
            .iter()
            .flat_map(|t| &t.partitions)
            .all(|p| !p.error_code.is_retriable())
    })
    .await;
    let fetch = FetchRequest {
        replica_id: -1,
        max_wait_ms: 100,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic_id: st.topic_id,
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
    rec.call("fetch", &fetch).await;
}

/// A v2 batch of [`RECORDS`] records (idempotent when `producer_id` >= 0).
pub fn record_batch(producer_id: i64, producer_epoch: i16) -> Bytes {
    let base_timestamp = 1_765_000_000_000;
    let records = (0..RECORDS)
        .map(|i| Record {
            timestamp_delta: i,
            offset_delta: i32::try_from(i).expect("small"),
            key: (i != 2).then(|| Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(record_value(i))),
            headers: vec![RecordHeader {
                key: format!("h{i}"),
                value: Some(Bytes::from(format!("v{i}"))),
            }],
            ..Default::default()
        })
        .collect();
    let batch = RecordBatch {
        header: BatchHeader {
            attributes: BatchAttributes::default(),
            last_offset_delta: i32::try_from(RECORDS - 1).expect("small"),
            base_timestamp,
            max_timestamp: base_timestamp + RECORDS - 1,
            producer_id,
            producer_epoch,
            base_sequence: if producer_id >= 0 { 0 } else { -1 },
            ..Default::default()
        },
        records,
    };
    let mut bytes = BytesMut::new();
    batch.encode(&mut bytes).expect("encode batch");
    bytes.freeze()
}

/// A Produce of `records` to partition 0 of `topic`, acks=all.
pub fn produce_request(topic: &str, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Whether a Produce answer is final (no partition with a retriable error).
pub fn produce_settled(resp: &kafkit::protocol::messages::produce::ProduceResponse) -> bool {
    resp.responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .all(|p| !p.error_code.is_retriable())
}

/// One idempotent batch to partition 0.
async fn produce(rec: &mut Recorder, st: &State, topic: &str) {
    let produce = produce_request(topic, record_batch(st.producer_id, st.producer_epoch));
    // Metadata may name the leader a moment before it takes writes.
    rec.call_until("produce", &produce, produce_settled).await;
}

fn subscription(topic: &str) -> Bytes {
    ConsumerProtocolSubscription {
        topics: vec![topic.to_string()],
        ..Default::default()
    }
    .encode(3)
    .expect("subscription")
}

async fn group_steps(rec: &mut Recorder, st: &mut State, topic: &str, group: &str) {
    let find = FindCoordinatorRequest {
        key_type: 0,
        coordinator_keys: vec![group.to_string()],
        ..Default::default()
    };
    rec.call_until("find-coordinator", &find, |r| {
        r.coordinators.iter().all(|c| !c.error_code.is_retriable())
    })
    .await;
    let mut join = JoinGroupRequest {
        group_id: group.to_string(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: PROTOCOL.into(),
            metadata: subscription(topic),
            ..Default::default()
        }],
        reason: Some("golden frames".into()),
        ..Default::default()
    };
    // KIP-394: the first join of an unknown member is refused with a member id.
    // A fresh node may still be loading the group's offsets partition:
    // COORDINATOR_LOAD_IN_PROGRESS is asked again, as a client would.
    let first = rec
        .call_until("join-group-new-member", &join, |r| {
            r.error_code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        })
        .await;
    join.member_id = first.member_id;
    let joined = rec.call("join-group", &join).await;
    (st.member_id, st.generation) = (joined.member_id, joined.generation_id);
    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: vec![TopicPartitions {
            topic: topic.to_string(),
            partitions: vec![0, 1],
        }],
        ..Default::default()
    }
    .encode(3)
    .expect("assignment");
    let sync = SyncGroupRequest {
        group_id: group.to_string(),
        generation_id: st.generation,
        member_id: st.member_id.clone(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some(PROTOCOL.into()),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: st.member_id.clone(),
            assignment,
            ..Default::default()
        }],
        ..Default::default()
    };
    rec.call("sync-group", &sync).await;
    let beat = HeartbeatRequest {
        group_id: group.to_string(),
        generation_id: st.generation,
        member_id: st.member_id.clone(),
        ..Default::default()
    };
    rec.call("heartbeat", &beat).await;
    commit_and_fetch(rec, st, topic, group).await;
    let describe = DescribeGroupsRequest {
        groups: vec![group.to_string()],
        include_authorized_operations: true,
        ..Default::default()
    };
    rec.call("describe-groups", &describe).await;
    let list = ListGroupsRequest {
        states_filter: vec!["Stable".into()],
        types_filter: vec!["classic".into()],
        ..Default::default()
    };
    rec.call("list-groups", &list).await;
}

async fn commit_and_fetch(rec: &mut Recorder, st: &State, topic: &str, group: &str) {
    let commit = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id_or_member_epoch: st.generation,
        member_id: st.member_id.clone(),
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: topic.to_string(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: COMMITTED,
                committed_leader_epoch: -1,
                commit_timestamp: -1,
                committed_metadata: Some(COMMIT_METADATA.into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    rec.call("offset-commit", &commit).await;
    let fetch = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.to_string(),
            member_id: Some(st.member_id.clone()),
            member_epoch: -1,
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.to_string(),
                partition_indexes: vec![0, 1],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        require_stable: true,
        ..Default::default()
    };
    rec.call("offset-fetch", &fetch).await;
}

/// A KIP-848 consumer group of its own (`{group}-kip848`): a member joins at
/// epoch 0 with a client-generated id (ConsumerGroupHeartbeat v1), is given
/// both partitions of the topic by topic id, is described
/// (ConsumerGroupDescribe), and leaves at epoch -1.
async fn kip848_steps(rec: &mut Recorder, topic: &str, group: &str) {
    use kafkit::protocol::messages::consumer_group_heartbeat::ConsumerGroupHeartbeatRequest;
    let group = format!("{group}-kip848");
    let join = ConsumerGroupHeartbeatRequest {
        group_id: group.clone(),
        member_id: format!("{group}-member"),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec![topic.to_string()]),
        topic_partitions: Some(Vec::new()),
        ..Default::default()
    };
    let joined = rec
        .call_until("consumer-group-heartbeat-join", &join, |r| {
            !r.error_code.is_retriable()
        })
        .await;
    let describe =
        kafkit::protocol::messages::consumer_group_describe::ConsumerGroupDescribeRequest {
            group_ids: vec![group.clone()],
            include_authorized_operations: true,
            ..Default::default()
        };
    rec.call("consumer-group-describe", &describe).await;
    let leave = ConsumerGroupHeartbeatRequest {
        group_id: group,
        member_id: joined.member_id.unwrap_or_default(),
        member_epoch: -1,
        ..Default::default()
    };
    rec.call("consumer-group-heartbeat-leave", &leave).await;
}

async fn cleanup_steps(rec: &mut Recorder, st: &State, topic: &str, group: &str) {
    let leave = LeaveGroupRequest {
        group_id: group.to_string(),
        members: vec![MemberIdentity {
            member_id: st.member_id.clone(),
            reason: Some("golden frames done".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    rec.call("leave-group", &leave).await;
    let delete_offsets = OffsetDeleteRequest {
        group_id: group.to_string(),
        topics: vec![OffsetDeleteRequestTopic {
            name: topic.to_string(),
            partitions: vec![0],
        }],
    };
    rec.call("offset-delete", &delete_offsets).await;
    let delete_groups = DeleteGroupsRequest {
        groups_names: vec![group.to_string()],
        ..Default::default()
    };
    rec.call("delete-groups", &delete_groups).await;
    let delete_topics = DeleteTopicsRequest {
        topics: vec![DeleteTopicState {
            name: Some(topic.to_string()),
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    rec.call("delete-topics", &delete_topics).await;
}

/// SASL on a PLAINTEXT listener: the broker answers both with
/// ILLEGAL_SASL_STATE (its listener does not do SASL).
async fn sasl_steps(rec: &mut Recorder) {
    let handshake = SaslHandshakeRequest {
        mechanism: "PLAIN".into(),
    };
    rec.call("sasl-handshake", &handshake).await;
    let auth = SaslAuthenticateRequest {
        auth_bytes: Bytes::from_static(b"\0golden-user\0golden-secret"),
        ..Default::default()
    };
    rec.call("sasl-authenticate", &auth).await;
}
