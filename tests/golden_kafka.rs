//! Golden frames from real Apache Kafka 4.4.0
//! (`protocol-specs/golden/kafka-4.4.0/`, recorded by the scenario in
//! `tests/support/kafka_scenario.rs`): every API kafkit implements, each at
//! the version kafkit negotiates with 4.4.0, the requests kafkit wrote and the
//! broker's answers. Each frame is decoded strictly, re-encoded byte for
//! byte, and its fields are checked against what the scenario did. The same
//! checks run on a live run of the scenario against the test broker.
//!
//! Re-record (against a fresh 4.4.0 node, see the folder's README):
//! `KAFKIT_WRITE_GOLDEN=1 cargo test --test golden_kafka live -- --nocapture`.

mod support;

/// The KIP-932 share-group checks.
#[path = "support/golden_share.rs"]
mod golden_share;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::frame::{decode_request, decode_response_strict, DEFAULT_MAX_FRAME_SIZE};
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription,
};
use kafkit::protocol::messages::*;
use kafkit::protocol::record::{DecodeOptions, RecordSet};
use kafkit::protocol::{try_parse_frame, ErrorCode, Request, Uuid, VersionRange};
use support::golden::{assert_bytes_eq, encode_request_frame, encode_response_frame};
use support::kafka;
use support::kafka_golden::{self as kg, Exchange, Facts, CLIENT_ID_PREFIX};
use support::kafka_scenario::{self as scenario, COMMITTED, COMMIT_METADATA, PROTOCOL, RECORDS};
use support::kafka_txn as txn;

/// The recorded (or live) exchanges, decoded on demand; remembers which
/// steps a check looked at so none goes unchecked.
struct Frames {
    list: Vec<Exchange>,
    facts: Facts,
    seen: RefCell<BTreeSet<String>>,
}

fn body_of(what: &str, frame: &Bytes) -> Bytes {
    let mut buf = BytesMut::from(&frame[..]);
    let body = try_parse_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE)
        .unwrap_or_else(|e| panic!("{what}: bad size prefix: {e}"))
        .unwrap_or_else(|| panic!("{what}: truncated frame"));
    assert!(buf.is_empty(), "{what}: bytes after the frame");
    body
}

impl Frames {
    fn exchange(&self, step: &str) -> &Exchange {
        self.seen.borrow_mut().insert(step.to_string());
        self.list
            .iter()
            .find(|x| x.step == step)
            .unwrap_or_else(|| panic!("no exchange for step {step}"))
    }

    /// The request of `step`, decoded, its header checked and re-encoded.
    fn req<R: Request + Debug>(&self, step: &str) -> R {
        let x = self.exchange(step);
        assert_eq!(x.api_key, R::API_KEY.0, "{step}: api key");
        let (header, body) = decode_request::<R>(body_of(step, &x.request))
            .unwrap_or_else(|e| panic!("{step}: decode {:?} v{}: {e}", R::API_KEY, x.version));
        assert_eq!(header.api_version, x.version, "{step}");
        let client_id = format!("{CLIENT_ID_PREFIX}{step}");
        assert_eq!(header.client_id.as_deref(), Some(client_id.as_str()));
        assert_bytes_eq(step, &x.request, &encode_request_frame(&header, &body));
        body
    }

    /// The broker's answer to `step`, decoded strictly and re-encoded byte
    /// for byte; the correlation id matches the request's.
    fn resp<R: Request>(&self, step: &str) -> R::Response
    where
        R::Response: Debug + PartialEq,
    {
        let x = self.exchange(step);
        let body = body_of(step, &x.response);
        let (header, msg) = decode_response_strict::<R::Response>(body.clone(), x.version)
            .unwrap_or_else(|e| {
                panic!(
                    "{step}: decode {:?} v{} response: {e}",
                    R::API_KEY,
                    x.version
                )
            });
        let request = decode_request::<R>(body_of(step, &x.request))
            .unwrap_or_else(|e| panic!("{step}: request: {e}"))
            .0;
        assert_eq!(
            header.correlation_id, request.correlation_id,
            "{step}: correlation id"
        );
        let shown = format!("{msg:?}");
        assert!(
            !shown.contains("TaggedFields([("),
            "{step}: a tagged field the codec does not know: {shown}"
        );
        let again = encode_response_frame(&header, &msg, x.version);
        assert_bytes_eq(step, &body, &again[4..]);
        msg
    }
}

/// Runs every check on `frames`; `negotiated(key)` is the version each API
/// must have been sent at.
fn check_all(frames: &Frames, negotiated: &dyn Fn(i16) -> i16) {
    let keys: BTreeSet<i16> = frames.list.iter().map(|x| x.api_key).collect();
    for key in kg::implemented_keys() {
        assert!(keys.contains(&key), "no frame of {}", kg::api_name(key));
    }
    for x in &frames.list {
        assert_eq!(
            x.version,
            negotiated(x.api_key),
            "{}: {} sent at v{}, not the negotiated version",
            x.step,
            kg::api_name(x.api_key),
            x.version
        );
    }
    check_api_versions(frames);
    let topic_id = check_topic(frames);
    check_records(frames, topic_id);
    let member = check_join(frames);
    check_group(frames, &member);
    check_offsets(frames, &member);
    check_txn(frames, &member);
    check_kip848(frames, topic_id);
    golden_share::check_share(frames, topic_id);
    check_cleanup(frames, topic_id);
    check_sasl(frames);
    let unchecked: Vec<_> = frames
        .list
        .iter()
        .filter(|x| !frames.seen.borrow().contains(&x.step))
        .map(|x| x.step.clone())
        .collect();
    assert!(unchecked.is_empty(), "steps without a check: {unchecked:?}");
}

fn check_api_versions(f: &Frames) {
    let req: ApiVersionsRequest = f.req("api-versions");
    assert_eq!(req.client_software_name, "kafkit");
    let resp = f.resp::<ApiVersionsRequest>("api-versions");
    assert_eq!(resp.error_code, ErrorCode::NONE);
    for api in any::APIS {
        let theirs = resp
            .range_of(api.api_key)
            .unwrap_or_else(|| panic!("ApiVersions lists no {}", api.name));
        assert!(
            theirs.highest_common(&api.request_versions).is_some(),
            "{}",
            api.name
        );
    }
    // A KRaft broker reports its finalized metadata.version feature.
    assert!(
        resp.finalized_features
            .iter()
            .any(|feature| feature.name == "metadata.version" && feature.max_version > 0),
        "finalized features: {:?}",
        resp.finalized_features
    );
}

/// CreateTopics and Metadata: the topic with its id, two partitions led by
/// the broker listed at the address the scenario connected to.
fn check_topic(f: &Frames) -> Uuid {
    let topic = f.facts.get("topic");
    let created = f.resp::<create_topics::CreateTopicsRequest>("create-topics");
    let t = &created.topics[0];
    assert_eq!((t.name.as_str(), t.error_code), (topic, ErrorCode::NONE));
    assert_eq!((t.num_partitions, t.replication_factor), (2, 1));
    assert_ne!(
        t.topic_id,
        Uuid::ZERO,
        "CreateTopics v5+ returns the topic id"
    );
    let retention = t
        .configs
        .iter()
        .flatten()
        .find(|c| c.name == "retention.ms")
        .expect("retention.ms among the returned configs");
    assert_eq!(retention.value.as_deref(), Some(scenario::RETENTION_MS));
    let _: create_topics::CreateTopicsRequest = f.req("create-topics");

    let md = f.resp::<metadata::MetadataRequest>("metadata");
    let _: metadata::MetadataRequest = f.req("metadata");
    let broker = &md.brokers[0];
    assert_eq!(md.brokers.len(), 1, "{:?}", md.brokers);
    assert_eq!(broker.host, f.facts.get("host"));
    assert_eq!(broker.port.to_string(), f.facts.get("port"));
    assert_eq!(
        md.controller_id, broker.node_id,
        "a combined node is its own controller"
    );
    assert!(md.cluster_id.as_deref().is_some_and(|c| !c.is_empty()));
    let mt = &md.topics[0];
    assert_eq!(mt.name.as_deref(), Some(topic));
    assert_eq!(
        mt.topic_id, t.topic_id,
        "Metadata and CreateTopics agree on the id"
    );
    let leaders: Vec<i32> = mt.partitions.iter().map(|p| p.leader_id).collect();
    assert_eq!(leaders, vec![broker.node_id; 2]);
    t.topic_id
}

/// InitProducerId, Produce, ListOffsets and Fetch: the idempotent batch is
/// stored at offset 0 and read back record by record.
fn check_records(f: &Frames, topic_id: Uuid) {
    let ids = f.resp::<init_producer_id::InitProducerIdRequest>("init-producer-id");
    let _: init_producer_id::InitProducerIdRequest = f.req("init-producer-id");
    assert_eq!(ids.error_code, ErrorCode::NONE);
    assert!(ids.producer_id >= 0 && ids.producer_epoch == 0, "{ids:?}");

    let _: produce::ProduceRequest = f.req("produce");
    let produced = f.resp::<produce::ProduceRequest>("produce");
    let p = &produced.responses[0].partition_responses[0];
    assert_eq!(
        (p.index, p.error_code, p.base_offset),
        (0, ErrorCode::NONE, 0)
    );
    assert_eq!(p.log_start_offset, 0);

    let _: list_offsets::ListOffsetsRequest = f.req("list-offsets");
    let listed = f.resp::<list_offsets::ListOffsetsRequest>("list-offsets");
    let mut offsets: Vec<(i32, ErrorCode, i64)> = listed.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.offset))
        .collect();
    offsets.sort_by_key(|o| o.0);
    assert_eq!(
        offsets,
        [(0, ErrorCode::NONE, RECORDS), (1, ErrorCode::NONE, 0)]
    );

    let req: fetch::FetchRequest = f.req("fetch");
    assert_eq!(
        req.topics[0].topic_id, topic_id,
        "Fetch v13+ names the topic by id"
    );
    let fetched = f.resp::<fetch::FetchRequest>("fetch");
    assert_eq!(fetched.error_code, ErrorCode::NONE);
    assert_eq!(fetched.responses[0].topic_id, topic_id);
    let part = &fetched.responses[0].partitions[0];
    assert_eq!(
        (part.error_code, part.high_watermark),
        (ErrorCode::NONE, RECORDS)
    );
    assert_eq!(part.last_stable_offset, RECORDS);
    let set = RecordSet::decode(
        part.records.clone().expect("records"),
        &DecodeOptions::default(),
    )
    .expect("decode the broker's record set");
    assert_eq!(set.batches.len(), 1);
    let kafkit::protocol::record::Batch::V2(view) = &set.batches[0] else {
        panic!("a v2 batch");
    };
    assert_eq!(view.header.producer_id, ids.producer_id);
    let got: Vec<_> = set.batches[0]
        .records()
        .collect::<Result<_, _>>()
        .expect("records");
    assert_eq!(got.len(), 3);
    for (i, r) in (0..RECORDS).zip(&got) {
        assert_eq!(r.offset, i);
        assert_eq!(
            r.value.as_deref(),
            Some(scenario::record_value(i).as_bytes())
        );
        let key = (i != 2).then(|| format!("k{i}"));
        assert_eq!(r.key.as_deref(), key.as_deref().map(str::as_bytes));
    }
}

/// FindCoordinator and the two JoinGroups; returns the member id.
fn check_join(f: &Frames) -> String {
    let group = f.facts.get("group");
    let _: find_coordinator::FindCoordinatorRequest = f.req("find-coordinator");
    let found = f.resp::<find_coordinator::FindCoordinatorRequest>("find-coordinator");
    let c = &found.coordinators[0];
    assert_eq!((c.key.as_str(), c.error_code), (group, ErrorCode::NONE));
    assert_eq!(
        (c.host.as_str(), c.port.to_string()),
        (f.facts.get("host"), f.facts.get("port").to_string())
    );

    let _: join_group::JoinGroupRequest = f.req("join-group-new-member");
    let first = f.resp::<join_group::JoinGroupRequest>("join-group-new-member");
    assert_eq!(first.error_code, ErrorCode::MEMBER_ID_REQUIRED);
    assert!(
        first
            .member_id
            .starts_with(&format!("{CLIENT_ID_PREFIX}join-group-new-member-")),
        "{}",
        first.member_id
    );

    let req: join_group::JoinGroupRequest = f.req("join-group");
    assert_eq!(
        req.member_id, first.member_id,
        "the rejoin uses the member id given"
    );
    let joined = f.resp::<join_group::JoinGroupRequest>("join-group");
    assert_eq!(joined.error_code, ErrorCode::NONE);
    assert_eq!(joined.member_id, first.member_id);
    assert_eq!(joined.leader, joined.member_id, "the only member leads");
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(joined.protocol_name.as_deref(), Some(PROTOCOL));
    assert_eq!(joined.members.len(), 1);
    let sub = ConsumerProtocolSubscription::decode(joined.members[0].metadata.clone())
        .expect("the member's subscription");
    assert_eq!(sub.topics, [f.facts.get("topic")]);
    joined.member_id
}

/// SyncGroup, Heartbeat, DescribeGroups and ListGroups of the stable group.
fn check_group(f: &Frames, member: &str) {
    let group = f.facts.get("group");
    let topic = f.facts.get("topic");
    let _: sync_group::SyncGroupRequest = f.req("sync-group");
    let synced = f.resp::<sync_group::SyncGroupRequest>("sync-group");
    assert_eq!(synced.error_code, ErrorCode::NONE);
    assert_eq!(synced.protocol_name.as_deref(), Some(PROTOCOL));
    let got = ConsumerProtocolAssignment::decode(synced.assignment.clone()).expect("assignment");
    assert_eq!(got.assigned_partitions[0].topic, topic);
    assert_eq!(got.assigned_partitions[0].partitions, [0, 1]);

    let beat: heartbeat::HeartbeatRequest = f.req("heartbeat");
    assert_eq!((beat.member_id.as_str(), beat.generation_id), (member, 1));
    assert_eq!(
        f.resp::<heartbeat::HeartbeatRequest>("heartbeat")
            .error_code,
        ErrorCode::NONE
    );

    let _: describe_groups::DescribeGroupsRequest = f.req("describe-groups");
    let described = f.resp::<describe_groups::DescribeGroupsRequest>("describe-groups");
    let g = &described.groups[0];
    assert_eq!(
        (g.error_code, g.group_id.as_str()),
        (ErrorCode::NONE, group)
    );
    assert_eq!(g.group_state, "Stable");
    assert_eq!(
        (g.protocol_type.as_str(), g.protocol_data.as_str()),
        ("consumer", PROTOCOL)
    );
    assert!(
        g.authorized_operations > 0,
        "requested: {}",
        g.authorized_operations
    );
    let m = &g.members[0];
    assert_eq!(m.member_id, member);
    assert_eq!(m.client_id, format!("{CLIENT_ID_PREFIX}join-group"));
    assert!(!m.client_host.is_empty());
    let assigned =
        ConsumerProtocolAssignment::decode(m.member_assignment.clone()).expect("assignment");
    assert_eq!(assigned, got, "DescribeGroups shows what SyncGroup gave");

    let _: list_groups::ListGroupsRequest = f.req("list-groups");
    let listed = f.resp::<list_groups::ListGroupsRequest>("list-groups");
    assert_eq!(listed.error_code, ErrorCode::NONE);
    let ours = listed
        .groups
        .iter()
        .find(|l| l.group_id == group)
        .expect("our group listed");
    assert_eq!(
        (ours.group_state.as_str(), ours.group_type.as_str()),
        ("Stable", "classic")
    );
    assert_eq!(ours.protocol_type, "consumer");
    assert!(
        listed.groups.iter().all(|l| l.group_state == "Stable"),
        "the states filter holds"
    );
}

/// OffsetCommit and OffsetFetch: the committed offset and metadata come back.
fn check_offsets(f: &Frames, member: &str) {
    let req: offset_commit::OffsetCommitRequest = f.req("offset-commit");
    assert_eq!(req.member_id, member);
    let committed = f.resp::<offset_commit::OffsetCommitRequest>("offset-commit");
    let p = &committed.topics[0].partitions[0];
    assert_eq!((p.partition_index, p.error_code), (0, ErrorCode::NONE));

    let _: offset_fetch::OffsetFetchRequest = f.req("offset-fetch");
    let fetched = f.resp::<offset_fetch::OffsetFetchRequest>("offset-fetch");
    let g = &fetched.groups[0];
    assert_eq!(
        (g.group_id.as_str(), g.error_code),
        (f.facts.get("group"), ErrorCode::NONE)
    );
    let t = &g.topics[0];
    assert_eq!(t.name, f.facts.get("topic"));
    let mut got: Vec<(i32, i64, Option<&str>)> = t
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset, p.metadata.as_deref()))
        .collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(
        got,
        [(0, COMMITTED, Some(COMMIT_METADATA)), (1, -1, Some(""))]
    );
}

/// The transaction: FindCoordinator and InitProducerId for the
/// transactional id, AddPartitionsToTxn, a transactional Produce,
/// AddOffsetsToTxn, TxnOffsetCommit with the group's metadata (KIP-447) and
/// EndTxn commit, all answered without error.
fn check_txn(f: &Frames, member: &str) {
    let group = f.facts.get("group");
    let txn_id = format!("{group}-txn");
    let find: find_coordinator::FindCoordinatorRequest = f.req("txn-find-coordinator");
    assert_eq!(find.key_type, find_coordinator::KEY_TYPE_TRANSACTION);
    let found = f.resp::<find_coordinator::FindCoordinatorRequest>("txn-find-coordinator");
    assert_eq!(
        (
            found.coordinators[0].key.as_str(),
            found.coordinators[0].error_code
        ),
        (txn_id.as_str(), ErrorCode::NONE)
    );
    let init: init_producer_id::InitProducerIdRequest = f.req("txn-init-producer-id");
    assert_eq!(init.transactional_id.as_deref(), Some(txn_id.as_str()));
    assert_eq!(init.transaction_timeout_ms, txn::TXN_TIMEOUT_MS);
    let ids = f.resp::<init_producer_id::InitProducerIdRequest>("txn-init-producer-id");
    assert_eq!(ids.error_code, ErrorCode::NONE);
    assert!(ids.producer_id >= 0, "{ids:?}");

    let add: add_partitions_to_txn::AddPartitionsToTxnRequest = f.req("txn-add-partitions");
    let t = &add.transactions[0];
    assert_eq!(
        (t.transactional_id.as_str(), t.producer_id),
        (txn_id.as_str(), ids.producer_id)
    );
    assert!(!t.verify_only);
    let added = f.resp::<add_partitions_to_txn::AddPartitionsToTxnRequest>("txn-add-partitions");
    assert_eq!(added.error_code, ErrorCode::NONE);
    assert_eq!(txn::add_partitions_errors(&added), [ErrorCode::NONE]);

    let produce: produce::ProduceRequest = f.req("txn-produce");
    assert_eq!(produce.transactional_id.as_deref(), Some(txn_id.as_str()));
    let records = produce.topic_data[0].partition_data[0].records.clone();
    let set = RecordSet::decode(records.expect("records"), &DecodeOptions::default())
        .expect("the transactional batch");
    let kafkit::protocol::record::Batch::V2(view) = &set.batches[0] else {
        panic!("a v2 batch");
    };
    assert!(view.header.attributes.transactional, "{:?}", view.header);
    assert_eq!(
        (
            view.header.producer_id,
            view.header.producer_epoch,
            view.header.base_sequence
        ),
        (ids.producer_id, ids.producer_epoch, 0)
    );
    let written = f.resp::<produce::ProduceRequest>("txn-produce");
    let p = &written.responses[0].partition_responses[0];
    assert_eq!(
        (p.index, p.error_code),
        (txn::TXN_PARTITION, ErrorCode::NONE)
    );

    let _: add_offsets_to_txn::AddOffsetsToTxnRequest = f.req("txn-add-offsets");
    let offsets = f.resp::<add_offsets_to_txn::AddOffsetsToTxnRequest>("txn-add-offsets");
    assert_eq!(offsets.error_code, ErrorCode::NONE);
    let commit: txn_offset_commit::TxnOffsetCommitRequest = f.req("txn-offset-commit");
    assert_eq!(
        (
            commit.member_id.as_str(),
            commit.generation_id_or_member_epoch
        ),
        (member, 1),
        "KIP-447 group metadata"
    );
    let committed = f.resp::<txn_offset_commit::TxnOffsetCommitRequest>("txn-offset-commit");
    let p = &committed.topics[0].partitions[0];
    assert_eq!(
        (p.partition_index, p.error_code),
        (txn::TXN_PARTITION, ErrorCode::NONE)
    );

    let end: end_txn::EndTxnRequest = f.req("txn-end");
    assert!(end.committed);
    let ended = f.resp::<end_txn::EndTxnRequest>("txn-end");
    assert_eq!(ended.error_code, ErrorCode::NONE, "{ended:?}");
    assert_eq!(
        ended.producer_id, ids.producer_id,
        "EndTxn v5 returns the producer id"
    );
    assert_eq!(
        ended.producer_epoch,
        ids.producer_epoch + 1,
        "and bumps the epoch (KIP-890)"
    );
}

/// LeaveGroup, OffsetDelete, DeleteGroups and DeleteTopics all succeed.
fn check_cleanup(f: &Frames, topic_id: Uuid) {
    let left = f.resp::<leave_group::LeaveGroupRequest>("leave-group");
    let req: leave_group::LeaveGroupRequest = f.req("leave-group");
    assert_eq!(left.error_code, ErrorCode::NONE);
    assert_eq!(left.members[0].member_id, req.members[0].member_id);
    assert_eq!(left.members[0].error_code, ErrorCode::NONE);

    let _: offset_delete::OffsetDeleteRequest = f.req("offset-delete");
    let deleted = f.resp::<offset_delete::OffsetDeleteRequest>("offset-delete");
    assert_eq!(deleted.error_code, ErrorCode::NONE);
    let p = &deleted.topics[0].partitions[0];
    assert_eq!((p.partition_index, p.error_code), (0, ErrorCode::NONE));

    let _: delete_groups::DeleteGroupsRequest = f.req("delete-groups");
    let gone = f.resp::<delete_groups::DeleteGroupsRequest>("delete-groups");
    let r = &gone.results[0];
    assert_eq!(
        (r.group_id.as_str(), r.error_code),
        (f.facts.get("group"), ErrorCode::NONE)
    );

    let _: delete_topics::DeleteTopicsRequest = f.req("delete-topics");
    let dropped = f.resp::<delete_topics::DeleteTopicsRequest>("delete-topics");
    let r = &dropped.responses[0];
    assert_eq!(r.name.as_deref(), Some(f.facts.get("topic")));
    assert_eq!((r.topic_id, r.error_code), (topic_id, ErrorCode::NONE));
}

/// SASL on the PLAINTEXT listener: refused, with the state error.
/// ConsumerGroupHeartbeat: a join at epoch 0 with the client's member id
/// gets both partitions of the topic by id; the leave answers epoch -1.
fn check_kip848(f: &Frames, topic_id: Uuid) {
    use consumer_group_heartbeat::ConsumerGroupHeartbeatRequest as Cgh;
    let join: Cgh = f.req("consumer-group-heartbeat-join");
    let topic = f.facts.get("topic");
    assert_eq!(join.member_epoch, 0);
    assert_eq!(join.subscribed_topic_names, Some(vec![topic.to_string()]));
    let joined = f.resp::<Cgh>("consumer-group-heartbeat-join");
    assert_eq!(joined.error_code, ErrorCode::NONE, "{joined:?}");
    assert_eq!(joined.member_id.as_deref(), Some(join.member_id.as_str()));
    assert!(joined.member_epoch > 0 && joined.heartbeat_interval_ms > 0);
    let assigned = joined.assignment.expect("an assignment");
    let parts: Vec<_> = assigned
        .topic_partitions
        .iter()
        .map(|tp| (tp.topic_id, tp.partitions.clone()))
        .collect();
    assert_eq!(parts, [(topic_id, vec![0, 1])]);
    let _: consumer_group_describe::ConsumerGroupDescribeRequest = f.req("consumer-group-describe");
    let described =
        f.resp::<consumer_group_describe::ConsumerGroupDescribeRequest>("consumer-group-describe");
    let g = &described.groups[0];
    assert_eq!(
        (g.error_code, g.group_id.as_str(), g.group_state.as_str()),
        (
            ErrorCode::NONE,
            format!("{}-kip848", f.facts.get("group")).as_str(),
            "Stable"
        ),
        "{g:?}"
    );
    assert_eq!(g.members.len(), 1);
    let m = &g.members[0];
    assert_eq!(m.member_id, join.member_id);
    assert_eq!(m.member_epoch, joined.member_epoch);
    assert_eq!(m.subscribed_topic_names, [topic]);
    let owned: Vec<_> = m
        .assignment
        .topic_partitions
        .iter()
        .map(|tp| (tp.topic_id, tp.topic_name.as_str(), tp.partitions.clone()))
        .collect();
    assert_eq!(owned, [(topic_id, topic, vec![0, 1])]);
    assert!(g.authorized_operations > 0, "{g:?}");
    let leave: Cgh = f.req("consumer-group-heartbeat-leave");
    assert_eq!((leave.member_id, leave.member_epoch), (join.member_id, -1));
    let left = f.resp::<Cgh>("consumer-group-heartbeat-leave");
    assert_eq!((left.error_code, left.member_epoch), (ErrorCode::NONE, -1));
}

fn check_sasl(f: &Frames) {
    let _: sasl_handshake::SaslHandshakeRequest = f.req("sasl-handshake");
    let hs = f.resp::<sasl_handshake::SaslHandshakeRequest>("sasl-handshake");
    assert_eq!(hs.error_code, ErrorCode::ILLEGAL_SASL_STATE, "{hs:?}");
    let _: sasl_authenticate::SaslAuthenticateRequest = f.req("sasl-authenticate");
    let auth = f.resp::<sasl_authenticate::SaslAuthenticateRequest>("sasl-authenticate");
    assert_eq!(auth.error_code, ErrorCode::ILLEGAL_SASL_STATE, "{auth:?}");
    assert!(auth.error_message.is_some(), "{auth:?}");
}

/// The 4.4.0 negotiated column of `protocol-specs/negotiated-versions.md`.
fn table_version(key: i16) -> i16 {
    let table = include_str!("../protocol-specs/negotiated-versions.md");
    let needle = format!("| {} ({key}) |", kg::api_name(key));
    let section = table
        .split("## Apache Kafka 4.4.0")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the 4.4.0 table");
    let line = section
        .lines()
        .find(|l| l.starts_with(&needle))
        .unwrap_or_else(|| panic!("no row {needle}"));
    line.split('|')
        .nth(4)
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("row {needle}: negotiated column"))
}

#[test]
fn recorded_frames_decode_and_match_the_scenario() {
    let (list, facts) = kg::read_recording();
    assert_eq!(facts.get("broker_version"), kg::RECORDED_BROKER);
    let frames = Frames {
        list,
        facts,
        seen: RefCell::default(),
    };
    check_all(&frames, &table_version);
}

#[tokio::test]
async fn live_scenario_against_the_broker_passes_the_same_checks() {
    let Some(k) = kafka::single() else { return };
    if k.origin == "KAFKA_BROKERS" {
        // The scenario needs a single combined node (its own coordinator,
        // listed alone in Metadata); a user's cluster may have several.
        eprintln!("KAFKA_BROKERS is a user's cluster: the scenario runs on the test rig only");
        return;
    }
    let addr = k.bootstrap.split(',').next().expect("a broker").to_string();
    let version =
        std::env::var("KAFKIT_KAFKA_VERSION").unwrap_or_else(|_| kg::RECORDED_BROKER.into());
    let (list, facts) = scenario::run(
        &addr,
        &kafka::unique("golden-kafka"),
        &kafka::unique("golden-kafka-group"),
        &version,
    )
    .await;
    if std::env::var_os("KAFKIT_WRITE_GOLDEN").is_some() {
        kg::write_recording(&list, &facts);
        eprintln!(
            "wrote {} exchanges under protocol-specs/golden/{}",
            list.len(),
            kg::RECORDED_DIR
        );
    }
    let frames = Frames {
        list,
        facts,
        seen: RefCell::default(),
    };
    let broker = {
        let f = &frames;
        let resp = f.resp::<ApiVersionsRequest>("api-versions");
        resp.api_keys
            .iter()
            .map(|a| (a.api_key, VersionRange::new(a.min_version, a.max_version)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let negotiated = |key: i16| {
        let ours = any::api_info(kafkit::protocol::ApiKey(key))
            .expect("implemented")
            .request_versions;
        ours.highest_common(&broker[&key])
            .expect("a common version")
    };
    check_all(&frames, &negotiated);
}
