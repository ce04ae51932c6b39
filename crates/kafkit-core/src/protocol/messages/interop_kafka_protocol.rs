//! Cross-check of the Metadata, ListOffsets, FindCoordinator and
//! InitProducerId codecs against the independent `kafka-protocol` crate
//! (a dev-dependency, generated from the same upstream schemas).
//!
//! Bytes kafkit writes must decode there, consuming every byte, and encode
//! back to the same bytes; spot checks with distinct values in neighbouring
//! fields of the same type catch swapped fields that the byte round trip
//! alone would not. kafka-protocol 0.18 has no ListOffsets v0, so v0 is
//! covered only by the hand-built vectors in `list_offsets.rs`.

use super::{find_coordinator::*, init_producer_id::*, list_offsets::*, metadata::*};
use crate::protocol::{ErrorCode, Message, Uuid, Writer};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as k;
use kafka_protocol::protocol::{Decodable, Encodable};
use proptest::prelude::*;

/// kafkit's (lenient) encoding of `m` survives a decode/encode through `O`.
fn via_other<M: Message, O: Decodable + Encodable>(m: &M, v: i16) -> Result<(), TestCaseError> {
    let mut b1 = BytesMut::new();
    m.encode_body(&mut Writer::lenient(&mut b1, M::is_flexible(v), v))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut input = Bytes::from(b1.to_vec());
    let o = O::decode(&mut input, v)
        .map_err(|e| TestCaseError::fail(format!("other decode v{v}: {e}")))?;
    prop_assert_eq!(input.len(), 0, "other left bytes at v{}", v);
    let mut b2 = BytesMut::new();
    o.encode(&mut b2, v)
        .map_err(|e| TestCaseError::fail(format!("other encode v{v}: {e}")))?;
    prop_assert_eq!(&b1[..], &b2[..], "v{}", v);
    Ok(())
}

proptest! {
    #[test]
    fn md_req(m in any::<MetadataRequest>(), v in 0i16..=12) {
        via_other::<_, k::MetadataRequest>(&m, v)?;
    }
    #[test]
    fn md_resp(m in any::<MetadataResponse>(), v in 0i16..=12) {
        via_other::<_, k::MetadataResponse>(&m, v)?;
    }
    #[test]
    fn lo_req(m in any::<ListOffsetsRequest>(), v in 1i16..=10) {
        via_other::<_, k::ListOffsetsRequest>(&m, v)?;
    }
    #[test]
    fn lo_resp(m in any::<ListOffsetsResponse>(), v in 1i16..=10) {
        via_other::<_, k::ListOffsetsResponse>(&m, v)?;
    }
    #[test]
    fn fc_req(m in any::<FindCoordinatorRequest>(), v in 0i16..=6) {
        via_other::<_, k::FindCoordinatorRequest>(&m, v)?;
    }
    #[test]
    fn fc_resp(m in any::<FindCoordinatorResponse>(), v in 0i16..=6) {
        via_other::<_, k::FindCoordinatorResponse>(&m, v)?;
    }
    #[test]
    fn ip_req(m in any::<InitProducerIdRequest>(), v in 0i16..=5) {
        via_other::<_, k::InitProducerIdRequest>(&m, v)?;
    }
    #[test]
    fn ip_resp(m in any::<InitProducerIdResponse>(), v in 0i16..=5) {
        via_other::<_, k::InitProducerIdResponse>(&m, v)?;
    }
}

#[test]
fn field_spot_checks() {
    // Distinct values in same-typed neighbours so a swapped field shows up.
    let m = MetadataResponse {
        throttle_time_ms: 11,
        brokers: vec![MetadataResponseBroker {
            node_id: 21,
            host: "h".into(),
            port: 22,
            rack: Some("r".into()),
            ..Default::default()
        }],
        cluster_id: Some("c".into()),
        controller_id: 31,
        topics: vec![MetadataResponseTopic {
            error_code: ErrorCode(41),
            name: Some("t".into()),
            topic_id: Uuid([5; 16]),
            is_internal: true,
            partitions: vec![MetadataResponsePartition {
                error_code: ErrorCode(51),
                partition_index: 52,
                leader_id: 53,
                leader_epoch: 54,
                replica_nodes: vec![55],
                isr_nodes: vec![56],
                offline_replicas: vec![57],
                ..Default::default()
            }],
            topic_authorized_operations: 61,
            ..Default::default()
        }],
        cluster_authorized_operations: 71,
        ..Default::default()
    };
    let mut b = BytesMut::new();
    m.encode(10, &mut b).unwrap();
    let o = k::MetadataResponse::decode(&mut b.freeze(), 10).unwrap();
    assert_eq!(o.throttle_time_ms, 11);
    assert_eq!(o.cluster_id.as_deref(), Some("c"));
    assert_eq!(o.brokers[0].rack.as_deref(), Some("r"));
    assert_eq!(o.topics[0].name.as_deref().map(|n| &**n), Some("t"));
    assert_eq!((o.brokers[0].node_id.0, o.brokers[0].port), (21, 22));
    assert_eq!(o.controller_id.0, 31);
    assert_eq!(o.cluster_authorized_operations, 71);
    let t = &o.topics[0];
    assert_eq!(
        (t.error_code, t.is_internal, t.topic_authorized_operations),
        (41, true, 61)
    );
    let p = &t.partitions[0];
    assert_eq!(
        (
            p.error_code,
            p.partition_index,
            p.leader_id.0,
            p.leader_epoch
        ),
        (51, 52, 53, 54)
    );
    assert_eq!(
        (
            p.replica_nodes[0].0,
            p.isr_nodes[0].0,
            p.offline_replicas[0].0
        ),
        (55, 56, 57)
    );

    let r = ListOffsetsRequest {
        replica_id: 3,
        isolation_level: 1,
        timeout_ms: 9,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 4,
                current_leader_epoch: 5,
                timestamp: 6,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut b = BytesMut::new();
    r.encode(10, &mut b).unwrap();
    let o = k::ListOffsetsRequest::decode(&mut b.freeze(), 10).unwrap();
    assert_eq!((o.replica_id.0, o.isolation_level, o.timeout_ms), (3, 1, 9));
    let p = &o.topics[0].partitions[0];
    assert_eq!(
        (p.partition_index, p.current_leader_epoch, p.timestamp),
        (4, 5, 6)
    );

    let r = ListOffsetsResponse {
        throttle_time_ms: 1,
        topics: vec![ListOffsetsTopicResponse {
            name: "t".into(),
            partitions: vec![ListOffsetsPartitionResponse {
                partition_index: 2,
                error_code: ErrorCode(3),
                timestamp: 4,
                offset: 5,
                leader_epoch: 6,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut b = BytesMut::new();
    r.encode(8, &mut b).unwrap();
    let o = k::ListOffsetsResponse::decode(&mut b.freeze(), 8).unwrap();
    let p = &o.topics[0].partitions[0];
    assert_eq!(
        (
            o.throttle_time_ms,
            p.partition_index,
            p.error_code,
            p.timestamp,
            p.offset,
            p.leader_epoch
        ),
        (1, 2, 3, 4, 5, 6)
    );

    let r = FindCoordinatorResponse {
        throttle_time_ms: 1,
        error_code: ErrorCode(2),
        error_message: Some("e".into()),
        node_id: 3,
        host: "h".into(),
        port: 4,
        ..Default::default()
    };
    let mut b = BytesMut::new();
    r.encode(3, &mut b).unwrap();
    let o = k::FindCoordinatorResponse::decode(&mut b.freeze(), 3).unwrap();
    assert_eq!(
        (o.throttle_time_ms, o.error_code, o.node_id.0, o.port),
        (1, 2, 3, 4)
    );

    let r = InitProducerIdResponse {
        throttle_time_ms: 1,
        error_code: ErrorCode(2),
        producer_id: 3,
        producer_epoch: 4,
        ..Default::default()
    };
    let mut b = BytesMut::new();
    r.encode(4, &mut b).unwrap();
    let o = k::InitProducerIdResponse::decode(&mut b.freeze(), 4).unwrap();
    assert_eq!(
        (
            o.throttle_time_ms,
            o.error_code,
            o.producer_id.0,
            o.producer_epoch
        ),
        (1, 2, 3, 4)
    );
    let r = InitProducerIdRequest {
        transactional_id: Some("x".into()),
        transaction_timeout_ms: 2,
        producer_id: 3,
        producer_epoch: 4,
        ..Default::default()
    };
    let mut b = BytesMut::new();
    r.encode(4, &mut b).unwrap();
    let o = k::InitProducerIdRequest::decode(&mut b.freeze(), 4).unwrap();
    assert_eq!(
        (o.transaction_timeout_ms, o.producer_id.0, o.producer_epoch),
        (2, 3, 4)
    );
}
