//! Produce round trips, hand-checked byte vectors and the zero-copy guarantee.

use super::*;
use crate::protocol::testing::check_roundtrip;
use crate::protocol::ProtocolError;
use bytes::BytesMut;
use proptest::prelude::*;

proptest! {
    #[test]
    fn request_roundtrip(m in any::<ProduceRequest>(), v in 0i16..=11) {
        check_roundtrip(&m, v)?;
    }

    #[test]
    fn response_roundtrip(m in any::<ProduceResponse>(), v in 0i16..=11) {
        check_roundtrip(&m, v)?;
    }
}

fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
    let mut buf = BytesMut::new();
    m.encode(v, &mut buf)?;
    Ok(buf.to_vec())
}

fn request(transactional_id: Option<&str>, records: Option<&'static [u8]>) -> ProduceRequest {
    ProduceRequest {
        transactional_id: transactional_id.map(str::to_owned),
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "t".into(),
            partition_data: vec![PartitionProduceData {
                index: 1,
                records: records.map(Bytes::from_static),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

// v2: acks, timeout, [name, [index, records]] with classic int16/int32 lengths.
const REQUEST_V2: &[u8] = &[
    0xff, 0xff, // acks -1
    0, 0, 0x03, 0xe8, // timeout 1000
    0, 0, 0, 1, // 1 topic
    0, 1, b't', // name
    0, 0, 0, 1, // 1 partition
    0, 0, 0, 1, // index 1
    0, 0, 0, 3, 7, 8, 9, // records
];

#[test]
fn request_v2_bytes() {
    let m = request(None, Some(&[7, 8, 9]));
    assert_eq!(encode(&m, 2).unwrap(), REQUEST_V2);
    assert_eq!(
        ProduceRequest::decode(Bytes::from_static(REQUEST_V2), 2).unwrap(),
        m
    );
}

#[test]
fn transactional_id_needs_v3() {
    let m = request(Some("tx"), None);
    assert_eq!(
        encode(&m, 2),
        Err(ProtocolError::FieldNotSupported {
            field: "transactional_id",
            version: 2
        })
    );
    // v3: a null transactional id is a -1 int16 length; null records are a -1 int32.
    let expected: &[u8] = &[
        0xff, 0xff, // transactional id null
        0xff, 0xff, 0, 0, 0x03, 0xe8, // acks, timeout
        0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 1, // topic, partition 1
        0xff, 0xff, 0xff, 0xff, // records null
    ];
    let m = request(None, None);
    assert_eq!(encode(&m, 3).unwrap(), expected);
    let decoded = ProduceRequest::decode(Bytes::copy_from_slice(expected), 3).unwrap();
    assert_eq!(decoded, m);
}

// v9: compact nullable string, compact arrays/bytes (N+1 varints), empty tag sections.
const REQUEST_V9: &[u8] = &[
    3, b't', b'x', // transactional id "tx"
    0xff, 0xff, 0, 0, 0x03, 0xe8, // acks -1, timeout 1000
    2,    // 1 topic
    2, b't', // name
    2,    // 1 partition
    0, 0, 0, 1, // index 1
    4, 7, 8, 9, // records
    0, // partition tags
    0, // topic tags
    0, // request tags
];

#[test]
fn request_v9_bytes() {
    let m = request(Some("tx"), Some(&[7, 8, 9]));
    assert_eq!(encode(&m, 9).unwrap(), REQUEST_V9);
    assert_eq!(
        ProduceRequest::decode(Bytes::from_static(REQUEST_V9), 9).unwrap(),
        m
    );
}

#[test]
fn records_are_zero_copy() {
    // Offset of the first records byte in each vector above.
    for (bytes, v, offset) in [(REQUEST_V2, 2i16, 25usize), (REQUEST_V9, 9, 18)] {
        let input = Bytes::copy_from_slice(bytes);
        let m = ProduceRequest::decode(input.clone(), v).unwrap();
        let records = m.topic_data[0].partition_data[0].records.as_ref().unwrap();
        assert_eq!(&records[..], &[7, 8, 9]);
        assert_eq!(records.as_ptr(), input[offset..].as_ptr(), "v{v}");
    }
}

#[test]
fn response_v5_bytes() {
    let body: &[u8] = &[
        0, 0, 0, 1, 0, 1, b't', // 1 topic "t"
        0, 0, 0, 1, // 1 partition
        0, 0, 0, 2, // index 2
        0, 0, // error NONE
        0, 0, 0, 0, 0, 0, 0, 42, // base offset 42
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log append time -1
        0, 0, 0, 0, 0, 0, 0, 7, // log start offset 7
        0, 0, 0, 9, // throttle 9
    ];
    let m = ProduceResponse::decode(Bytes::copy_from_slice(body), 5).unwrap();
    let p = &m.responses[0].partition_responses[0];
    assert_eq!(
        (p.index, p.error_code, p.base_offset),
        (2, ErrorCode::NONE, 42)
    );
    assert_eq!((p.log_append_time_ms, p.log_start_offset), (-1, 7));
    assert_eq!(m.throttle_time_ms, 9);
    assert_eq!(encode(&m, 5).unwrap(), body);
    // v1 has neither log append time nor log start offset; both are ignorable, so dropped.
    let v1 = encode(&m, 1).unwrap();
    assert_eq!(v1.len(), body.len() - 16);
}

// v10: per-partition CurrentLeader (tag 0) and top-level NodeEndpoints (tag 0).
const RESPONSE_V10: &[u8] = &[
    2, 2, b't', // 1 topic "t"
    2,    // 1 partition
    0, 0, 0, 0, // index 0
    0, 6, // NOT_LEADER_OR_FOLLOWER
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // base offset -1
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log append time -1
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log start offset -1
    1,    // record errors: empty
    0,    // error message null
    1, 0, 9, // 1 tag: tag 0, 9 bytes
    0, 0, 0, 2, 0, 0, 0, 7, 0, // leader 2, epoch 7, no tags
    0, // topic tags
    0, 0, 0, 0, // throttle 0
    1, 0, 13, // 1 tag: tag 0, 13 bytes
    2,  // 1 node
    0, 0, 0, 2, 2, b'h', 0, 0, 0x23, 0x84, 0, 0, // id 2, "h", port 9092, rack null, tags
];

fn response_v10() -> ProduceResponse {
    ProduceResponse {
        responses: vec![TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![PartitionProduceResponse {
                error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
                base_offset: -1,
                current_leader: LeaderIdAndEpoch {
                    leader_id: 2,
                    leader_epoch: 7,
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        }],
        node_endpoints: vec![NodeEndpoint {
            node_id: 2,
            host: "h".into(),
            port: 9092,
            rack: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn response_v10_bytes() {
    let m = response_v10();
    assert_eq!(encode(&m, 10).unwrap(), RESPONSE_V10);
    assert_eq!(
        ProduceResponse::decode(Bytes::from_static(RESPONSE_V10), 10).unwrap(),
        m
    );
}

#[test]
fn leader_discovery_needs_v10() {
    let m = response_v10();
    assert!(matches!(
        encode(&m, 9),
        Err(ProtocolError::FieldNotSupported { .. })
    ));
    // At v9 the same tags are not known: they survive as unknown fields.
    let mut as_v9 = RESPONSE_V10.to_vec();
    as_v9.truncate(as_v9.len() - 16); // drop the top-level tag section
    as_v9.push(0);
    let m9 = ProduceResponse::decode(Bytes::from(as_v9.clone()), 9).unwrap();
    let p = &m9.responses[0].partition_responses[0];
    assert!(p.current_leader.is_default());
    assert_eq!(p.unknown_tagged_fields.0.len(), 1);
    assert_eq!(encode(&m9, 9).unwrap(), as_v9);
}

#[test]
fn hostile_counts_are_rejected() {
    // A topic count of 2^31-1 with nothing behind it.
    let body: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff];
    assert!(matches!(
        ProduceRequest::decode(Bytes::from_static(body), 1),
        Err(ProtocolError::LengthExceedsInput { .. })
    ));
}

#[test]
fn acks_zero_expects_no_response() {
    assert!(!ProduceRequest::default().expects_response());
    assert!(request(None, None).expects_response());
}

proptest! {
    #[test]
    fn request_matches_kafka_protocol(m in any::<ProduceRequest>(), v in 3i16..=11) {
        use kafka_protocol::messages::ProduceRequest as Theirs;
        crate::protocol::messages::kafka_protocol_oracle::check_against::<Theirs, _>(&m, v)?;
    }

    #[test]
    fn response_matches_kafka_protocol(m in any::<ProduceResponse>(), v in 3i16..=11) {
        use kafka_protocol::messages::ProduceResponse as Theirs;
        crate::protocol::messages::kafka_protocol_oracle::check_against::<Theirs, _>(&m, v)?;
    }
}
