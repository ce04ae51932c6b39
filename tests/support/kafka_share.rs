//! The KIP-932 share-group steps of the real-broker golden scenario
//! (`kafka_scenario.rs`) and of the version sweep (`kafka_sweep.rs`): a
//! member joins a share group of its own (ShareGroupHeartbeat), opens a
//! share session on partition 0 (ShareFetch at epoch 0), a batch of records
//! is produced, the member acquires them (ShareFetch, delivery count 1),
//! accepts them (ShareAcknowledge), the group is described
//! (ShareGroupDescribe), the session is closed (ShareAcknowledge at epoch
//! -1) and the member leaves (epoch -1). On the now empty group the
//! share-partition start offset is described (DescribeShareGroupOffsets:
//! past the accepted records), set back to 0 (AlterShareGroupOffsets) and
//! the topic's state deleted (DeleteShareGroupOffsets).
//!
//! Share groups start at the latest offset, so the records are produced
//! after the session is open. Nothing is sent to a broker that does not list
//! the share APIs (3.9.1).

use std::time::Duration;

use kafkit::protocol::messages::alter_share_group_offsets::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsRequestPartition,
    AlterShareGroupOffsetsRequestTopic,
};
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::messages::consumer_group_describe::ConsumerGroupDescribeRequest;
use kafkit::protocol::messages::delete_share_group_offsets::{
    DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsRequestTopic,
};
use kafkit::protocol::messages::describe_share_group_offsets::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsRequestGroup,
    DescribeShareGroupOffsetsRequestTopic, DescribeShareGroupOffsetsResponse,
    DescribeShareGroupOffsetsResponsePartition,
};
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::messages::share_acknowledge::{
    ShareAcknowledgeRequest, ShareAcknowledgeResponse,
};
use kafkit::protocol::messages::share_fetch::{
    AcknowledgementBatch, ShareFetchPartition, ShareFetchRequest, ShareFetchResponse,
    ShareFetchTopic,
};
use kafkit::protocol::messages::share_group_describe::{
    ShareGroupDescribeRequest, ShareGroupDescribeResponse,
};
use kafkit::protocol::messages::share_group_heartbeat::{
    ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse,
};
use kafkit::protocol::{ErrorCode, Request, Uuid};

use super::kafka_golden::Recorder;
use super::kafka_scenario::{produce_request, produce_settled, record_batch, RECORDS};
use super::kafka_sweep::versions;

/// `AcknowledgeType` accept on the wire.
pub const ACCEPT: i8 = 1;

/// What one share round saw, for the checks.
pub struct ShareRound {
    /// The member id the client chose.
    pub member_id: String,
    /// The acquired records' first offset.
    pub first_offset: i64,
}

/// Step names of one round (`prefix` is `share` in the scenario).
fn step(prefix: &str, what: &str) -> String {
    format!("{prefix}-{what}")
}

/// Calls `req` at `version` until `ready`, keeping only the last exchange.
async fn call_until<R: Request>(
    rec: &mut Recorder,
    step: &str,
    version: i16,
    mut next: impl FnMut(i32) -> R,
    ready: impl Fn(&R::Response) -> bool,
) -> R::Response {
    for attempt in 0..60 {
        let resp = rec.call_at(step, &next(attempt), version).await;
        if ready(&resp) || attempt == 59 {
            return resp;
        }
        rec.exchanges.pop();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!("the loop returns on its last attempt")
}

/// Joins `group` and heartbeats until the member owns `partitions`
/// partitions; keeps only the last exchange.
async fn join(
    rec: &mut Recorder,
    prefix: &str,
    group: &str,
    member_id: &str,
    topic: &str,
    partitions: usize,
) -> ShareGroupHeartbeatResponse {
    let mut epoch = 0;
    for attempt in 0..60 {
        let req = ShareGroupHeartbeatRequest {
            group_id: group.to_string(),
            member_id: member_id.to_string(),
            member_epoch: epoch,
            subscribed_topic_names: (epoch == 0).then(|| vec![topic.to_string()]),
            ..Default::default()
        };
        let r = rec.call(&step(prefix, "group-heartbeat-join"), &req).await;
        let owned: usize = r
            .assignment
            .iter()
            .flat_map(|a| &a.topic_partitions)
            .map(|tp| tp.partitions.len())
            .sum();
        if (r.error_code == ErrorCode::NONE && owned == partitions) || attempt == 59 {
            return r;
        }
        rec.exchanges.pop();
        if r.error_code == ErrorCode::NONE {
            epoch = r.member_epoch;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!("the loop returns on its last attempt")
}

fn fetch_request(
    group: &str,
    member_id: &str,
    epoch: i32,
    topic_id: Uuid,
    acks: Vec<AcknowledgementBatch>,
) -> ShareFetchRequest {
    ShareFetchRequest {
        group_id: Some(group.to_string()),
        member_id: Some(member_id.to_string()),
        share_session_epoch: epoch,
        max_wait_ms: 200,
        min_bytes: 1,
        max_bytes: 1 << 20,
        max_records: 100,
        batch_size: 100,
        topics: vec![ShareFetchTopic {
            topic_id,
            partitions: vec![ShareFetchPartition {
                partition_index: 0,
                acknowledgement_batches: acks,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn acquired(r: &ShareFetchResponse) -> usize {
    r.responses
        .iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| &p.acquired_records)
        .map(|a| usize::try_from(a.last_offset - a.first_offset + 1).unwrap_or(0))
        .sum()
}

/// One share round in group `group` at ShareFetch/ShareAcknowledge version
/// `v` (the other APIs at their negotiated versions).
pub async fn round(
    rec: &mut Recorder,
    prefix: &str,
    topic: &str,
    topic_id: Uuid,
    group: &str,
    partitions: usize,
    v: i16,
) -> ShareRound {
    let member_id = format!("{:032x}", rand_u128());
    let joined = join(rec, prefix, group, &member_id, topic, partitions).await;
    assert_eq!(
        joined.error_code,
        ErrorCode::NONE,
        "{prefix} join: {joined:?}"
    );
    let open = fetch_request(group, &member_id, 0, topic_id, Vec::new());
    let opened = rec.call_at(&step(prefix, "fetch-open"), &open, v).await;
    assert_eq!(
        opened.error_code,
        ErrorCode::NONE,
        "{prefix} open: {opened:?}"
    );
    let produce = produce_request(topic, record_batch(-1, -1));
    rec.call_until(&step(prefix, "produce"), &produce, produce_settled)
        .await;
    let fetched = call_until(
        rec,
        &step(prefix, "fetch"),
        v,
        |attempt| fetch_request(group, &member_id, attempt + 1, topic_id, Vec::new()),
        |r: &ShareFetchResponse| acquired(r) >= usize::try_from(RECORDS).unwrap_or(0),
    )
    .await;
    let first = fetched
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| &p.acquired_records)
        .map(|a| a.first_offset)
        .min()
        .unwrap_or_else(|| panic!("{prefix}: no records acquired: {fetched:?}"));
    let fetch_epoch = {
        let last = rec.exchanges.last().expect("the fetch");
        let (_, req) =
            kafkit::protocol::frame::decode_request::<ShareFetchRequest>(last.request.slice(4..))
                .expect("our own request");
        req.share_session_epoch
    };
    let ack = ShareAcknowledgeRequest {
        group_id: Some(group.to_string()),
        member_id: Some(member_id.clone()),
        share_session_epoch: fetch_epoch + 1,
        topics: vec![ShareFetchTopic {
            topic_id,
            partitions: vec![ShareFetchPartition {
                partition_index: 0,
                acknowledgement_batches: vec![AcknowledgementBatch {
                    first_offset: first,
                    last_offset: first + RECORDS - 1,
                    acknowledge_types: vec![ACCEPT],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let acked: ShareAcknowledgeResponse = rec.call_at(&step(prefix, "acknowledge"), &ack, v).await;
    assert_eq!(acked.error_code, ErrorCode::NONE, "{prefix} ack: {acked:?}");
    let describe = ShareGroupDescribeRequest {
        group_ids: vec![group.to_string()],
        include_authorized_operations: true,
        ..Default::default()
    };
    let described: ShareGroupDescribeResponse =
        rec.call(&step(prefix, "group-describe"), &describe).await;
    assert_eq!(described.groups.len(), 1, "{described:?}");
    let close = ShareAcknowledgeRequest {
        share_session_epoch: -1,
        topics: Vec::new(),
        ..ack
    };
    let closed = rec.call_at(&step(prefix, "close"), &close, v).await;
    assert_eq!(
        closed.error_code,
        ErrorCode::NONE,
        "{prefix} close: {closed:?}"
    );
    let leave = ShareGroupHeartbeatRequest {
        group_id: group.to_string(),
        member_id: member_id.clone(),
        member_epoch: -1,
        ..Default::default()
    };
    let left = rec
        .call(&step(prefix, "group-heartbeat-leave"), &leave)
        .await;
    assert_eq!(left.error_code, ErrorCode::NONE, "{prefix} leave: {left:?}");
    ShareRound {
        member_id,
        first_offset: first,
    }
}

/// The admin steps on the now empty group: DescribeShareGroupOffsets of
/// partition 0 at `describe_v` (a start offset among the accepted records
/// or past them, and at v1 a lag of 0), AlterShareGroupOffsets back to
/// offset 0, DeleteShareGroupOffsets of the topic.
pub async fn offsets_steps(
    rec: &mut Recorder,
    prefix: &str,
    topic: &str,
    group: &str,
    first_offset: i64,
    describe_v: i16,
) {
    let describe = DescribeShareGroupOffsetsRequest {
        groups: vec![DescribeShareGroupOffsetsRequestGroup {
            group_id: group.to_string(),
            topics: Some(vec![DescribeShareGroupOffsetsRequestTopic {
                topic_name: topic.to_string(),
                partitions: vec![0],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    };
    // The broker persists the start offset lazily (it may still name the
    // first accepted record); v1's lag shows that every record was accepted.
    let settled = |r: &DescribeShareGroupOffsetsResponse| {
        let p = partition0(r);
        p.is_some_and(|p| {
            (first_offset..=first_offset + RECORDS).contains(&p.start_offset)
                && (describe_v == 0 || p.lag == 0)
        })
    };
    let described = rec
        .call_until_at(
            &step(prefix, "describe-offsets"),
            &describe,
            describe_v,
            settled,
        )
        .await;
    assert!(settled(&described), "{prefix} v{describe_v}: {described:?}");
    let alter = AlterShareGroupOffsetsRequest {
        group_id: group.to_string(),
        topics: vec![AlterShareGroupOffsetsRequestTopic {
            topic_name: topic.to_string(),
            partitions: vec![AlterShareGroupOffsetsRequestPartition {
                partition_index: 0,
                start_offset: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let altered = rec.call(&step(prefix, "alter-offsets"), &alter).await;
    let errors: Vec<_> = altered
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        (altered.error_code, errors),
        (ErrorCode::NONE, vec![ErrorCode::NONE])
    );
    let delete = DeleteShareGroupOffsetsRequest {
        group_id: group.to_string(),
        topics: vec![DeleteShareGroupOffsetsRequestTopic {
            topic_name: topic.to_string(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let deleted = rec.call(&step(prefix, "delete-offsets"), &delete).await;
    let errors: Vec<_> = deleted.responses.iter().map(|t| t.error_code).collect();
    assert_eq!(
        (deleted.error_code, errors),
        (ErrorCode::NONE, vec![ErrorCode::NONE])
    );
}

/// Partition 0 in a DescribeShareGroupOffsets answer, when without error.
pub fn partition0(
    r: &DescribeShareGroupOffsetsResponse,
) -> Option<&DescribeShareGroupOffsetsResponsePartition> {
    r.groups
        .iter()
        .flat_map(|g| &g.topics)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == 0 && p.error_code == ErrorCode::NONE)
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let s = std::collections::hash_map::RandomState::new();
    let mut h = s.build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (u128::from(h.finish()) << 64) | u128::from(s.build_hasher().finish())
}

/// The sweep: one share round per shared ShareFetch/ShareAcknowledge
/// version, and ConsumerGroupDescribe at every shared version for a group
/// that does not exist (GROUP_ID_NOT_FOUND, the group named; UNSUPPORTED_VERSION
/// from a broker without the `group.version` feature).
pub async fn sweep(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
    let ask = ApiVersionsRequest {
        client_software_name: "kafkit".into(),
        client_software_version: "sweep".into(),
        ..Default::default()
    };
    let features = rec.call("sweep-share-features", &ask).await;
    // Without `group.version` (3.9.1) consumer groups are refused outright.
    let expected = if features
        .finalized_features
        .iter()
        .any(|f| f.name == "group.version" && f.max_version >= 1)
    {
        ErrorCode::GROUP_ID_NOT_FOUND
    } else {
        ErrorCode::UNSUPPORTED_VERSION
    };
    for v in versions::<ConsumerGroupDescribeRequest>(rec) {
        let group = unique("sweep-cgd");
        let req = ConsumerGroupDescribeRequest {
            group_ids: vec![group.clone()],
            include_authorized_operations: v >= 1,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-consumer-group-describe", &req, v).await;
        let g = resp.groups.first().expect("one group");
        assert_eq!(
            (g.group_id.as_str(), g.error_code),
            (group.as_str(), expected),
            "ConsumerGroupDescribe v{v}: {resp:?}"
        );
    }
    let fetch = versions::<ShareFetchRequest>(rec);
    if fetch.is_empty() {
        return;
    }
    assert_eq!(
        fetch,
        versions::<ShareAcknowledgeRequest>(rec),
        "ShareFetch and ShareAcknowledge move together"
    );
    let meta = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.to_string()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let described = rec.call("sweep-share-metadata", &meta).await;
    let t = described.topics.first().expect("the sweep's topic");
    let (topic_id, partitions) = (t.topic_id, t.partitions.len());
    // One round per version pair: every shared ShareFetch/ShareAcknowledge
    // and DescribeShareGroupOffsets version is used once (the last one
    // repeats when one list is shorter); AlterShareGroupOffsets and
    // DeleteShareGroupOffsets (v0 only) in every round.
    let describe = versions::<DescribeShareGroupOffsetsRequest>(rec);
    for i in 0..fetch.len().max(describe.len()) {
        let v = fetch[i.min(fetch.len() - 1)];
        let group = unique("sweep-share");
        let prefix = format!("sweep-share-v{v}");
        let r = round(rec, &prefix, topic, topic_id, &group, partitions, v).await;
        if let Some(dv) = describe.get(i.min(describe.len().saturating_sub(1))) {
            offsets_steps(rec, &prefix, topic, &group, r.first_offset, *dv).await;
        }
    }
}
