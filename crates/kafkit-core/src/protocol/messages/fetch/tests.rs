//! Fetch round trips, hand-checked byte vectors and the zero-copy guarantee.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::protocol::messages::leader_discovery::{LeaderIdAndEpoch, NodeEndpoint};
use crate::protocol::testing::check_roundtrip;
use crate::protocol::{decode_response, try_parse_frame, Message, ProtocolError, Result, Uuid};

proptest! {
    #[test]
    fn request_roundtrip(m in any::<FetchRequest>(), v in 0i16..=17) {
        check_roundtrip(&m, v)?;
    }

    #[test]
    fn response_roundtrip(m in any::<FetchResponse>(), v in 0i16..=17) {
        check_roundtrip(&m, v)?;
    }
}

fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
    let mut buf = BytesMut::new();
    m.encode(v, &mut buf)?;
    Ok(buf.to_vec())
}

fn field_error<M: Message>(m: &M, v: i16) -> Option<&'static str> {
    match encode(m, v) {
        Err(ProtocolError::FieldNotSupported { field, .. }) => Some(field),
        _ => None,
    }
}

const TOPIC_ID: Uuid = Uuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);

fn consumer_request(topic: &str, topic_id: Uuid) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            topic_id,
            partitions: vec![FetchPartition {
                partition: 2,
                current_leader_epoch: 3,
                fetch_offset: 5,
                last_fetched_epoch: 3,
                partition_max_bytes: 65536,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn request_v4_bytes() {
    let body: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica id -1
        0, 0, 0x01, 0xf4, // max wait 500
        0, 0, 0, 1, // min bytes 1
        0, 0x10, 0, 0, // max bytes 1 MiB
        1, // read committed
        0, 0, 0, 1, 0, 1, b't', // 1 topic "t"
        0, 0, 0, 1, // 1 partition
        0, 0, 0, 2, // partition 2
        0, 0, 0, 0, 0, 0, 0, 5, // fetch offset 5
        0, 1, 0, 0, // partition max bytes 65536
    ];
    let mut m = consumer_request("t", Uuid::ZERO);
    m.max_bytes = 1 << 20;
    m.isolation_level = FetchRequest::READ_COMMITTED;
    // current_leader_epoch (v9+) is ignorable, last_fetched_epoch (v12+) is not.
    assert_eq!(field_error(&m, 4), Some("last_fetched_epoch"));
    m.topics[0].partitions[0].last_fetched_epoch = -1;
    assert_eq!(encode(&m, 4).unwrap(), body);
    let decoded = FetchRequest::decode(Bytes::from_static(body), 4).unwrap();
    m.topics[0].partitions[0].current_leader_epoch = -1;
    assert_eq!(decoded, m);
}

#[test]
fn request_v12_bytes() {
    // First flexible version: compact strings/arrays, topic names still present.
    let body: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica id -1
        0, 0, 0x01, 0xf4, 0, 0, 0, 1, // max wait 500, min bytes 1
        0x7f, 0xff, 0xff, 0xff, // max bytes default
        0,    // read uncommitted
        0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, // session 0, epoch -1
        2, 2, b't', // 1 topic "t"
        2,    // 1 partition
        0, 0, 0, 2, 0, 0, 0, 3, // partition 2, current leader epoch 3
        0, 0, 0, 0, 0, 0, 0, 5, // fetch offset 5
        0, 0, 0, 3, // last fetched epoch 3
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log start offset -1
        0, 1, 0, 0, // partition max bytes
        0, 0, // partition tags, topic tags
        1, // no forgotten topics
        1, // rack id ""
        0, // request tags
    ];
    let m = consumer_request("t", Uuid::ZERO);
    assert_eq!(encode(&m, 12).unwrap(), body);
    assert_eq!(
        FetchRequest::decode(Bytes::from_static(body), 12).unwrap(),
        m
    );
}

#[test]
fn request_v17_bytes() {
    let mut body: Vec<u8> = vec![
        0, 0, 0x01, 0xf4, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, // no replica id from v15
        0, 0, 0, 42, 0, 0, 0, 1, // session 42, epoch 1
        2, // 1 topic
    ];
    body.extend_from_slice(&TOPIC_ID.0);
    body.extend_from_slice(&[
        2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3, // partition 2 ..
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, // .. max bytes
        1, 0, 16, // 1 tag: replica directory id (tag 0), 16 bytes
    ]);
    body.extend_from_slice(&[0xaa; 16]);
    body.extend_from_slice(&[0, 2]); // topic tags; 1 forgotten topic
    body.extend_from_slice(&[0x11; 16]);
    body.extend_from_slice(&[
        2, 0, 0, 0, 7, 0, // partitions [7], tags
        2, b'r', // rack "r"
        2,    // 2 tags
        0, 2, 2, b'c', // cluster id "c"
        1, 13, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9, 0, // replica state: id 5, epoch 9
    ]);
    let mut m = consumer_request("", TOPIC_ID);
    m.session_id = 42;
    m.session_epoch = 1;
    m.topics[0].partitions[0].replica_directory_id = Uuid([0xaa; 16]);
    m.forgotten_topics_data = vec![ForgottenTopic {
        topic_id: Uuid([0x11; 16]),
        partitions: vec![7],
        ..Default::default()
    }];
    m.rack_id = "r".into();
    m.cluster_id = Some("c".into());
    m.replica_state = ReplicaState {
        replica_id: 5,
        replica_epoch: 9,
        ..Default::default()
    };
    assert_eq!(encode(&m, 17).unwrap(), body);
    assert_eq!(FetchRequest::decode(Bytes::from(body), 17).unwrap(), m);
    // Replica state is not ignorable before v15; the directory id and cluster id are.
    assert_eq!(field_error(&m, 14), Some("replica_state"));
    m.replica_state = ReplicaState::default();
    assert!(encode(&m, 16).is_ok());
    // The old top-level replica id is not ignorable from v15 on.
    m.replica_id = 5;
    assert_eq!(field_error(&m, 15), Some("replica_id"));
}

#[test]
fn topic_names_and_ids_switch_at_v13() {
    let m = consumer_request("t", TOPIC_ID);
    let v12 = FetchRequest::decode(Bytes::from(encode(&m, 12).unwrap()), 12).unwrap();
    assert_eq!(
        (v12.topics[0].topic.as_str(), v12.topics[0].topic_id),
        ("t", Uuid::ZERO)
    );
    let v13 = FetchRequest::decode(Bytes::from(encode(&m, 13).unwrap()), 13).unwrap();
    assert_eq!(
        (v13.topics[0].topic.as_str(), v13.topics[0].topic_id),
        ("", TOPIC_ID)
    );
}

// v4: throttle, then per partition hw, lso, aborted transactions, records.
const RESPONSE_V4: &[u8] = &[
    0, 0, 0, 0, // throttle 0
    0, 0, 0, 1, 0, 1, b't', // 1 topic "t"
    0, 0, 0, 1, // 1 partition
    0, 0, 0, 0, 0, 0, // partition 0, no error
    0, 0, 0, 0, 0, 0, 0, 100, // high watermark 100
    0, 0, 0, 0, 0, 0, 0, 90, // last stable offset 90
    0, 0, 0, 1, // 1 aborted transaction
    0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 80, // producer 7 from offset 80
    0, 0, 0, 3, 1, 2, 3, // records
];

#[test]
fn response_v4_bytes() {
    let m = FetchResponse::decode(Bytes::from_static(RESPONSE_V4), 4).unwrap();
    assert_eq!(m.responses[0].topic, "t");
    let p = &m.responses[0].partitions[0];
    assert_eq!((p.high_watermark, p.last_stable_offset), (100, 90));
    assert_eq!(p.log_start_offset, -1);
    let aborted = p.aborted_transactions.as_deref().unwrap();
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (7, 80));
    assert_eq!(p.records.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(encode(&m, 4).unwrap(), RESPONSE_V4);

    // A null aborted-transactions array (-1) stays null.
    let mut null_aborted = RESPONSE_V4[..37].to_vec();
    null_aborted.put_i32(-1);
    null_aborted.extend_from_slice(&RESPONSE_V4[57..]);
    let m = FetchResponse::decode(Bytes::from(null_aborted.clone()), 4).unwrap();
    assert_eq!(m.responses[0].partitions[0].aborted_transactions, None);
    assert_eq!(encode(&m, 4).unwrap(), null_aborted);
}

fn response_v16_body() -> Vec<u8> {
    let mut body: Vec<u8> = vec![
        0, 0, 0, 0, 0, 0, 0, 0, 0, 7, // throttle 0, no error, session 7
        2, // 1 topic
    ];
    body.extend_from_slice(&TOPIC_ID.0);
    body.extend_from_slice(&[
        2, 0, 0, 0, 1, 0, 0, // 1 partition: index 1, no error
        0, 0, 0, 0, 0, 0, 0, 100, // high watermark 100
        0, 0, 0, 0, 0, 0, 0, 100, // last stable offset 100
        0, 0, 0, 0, 0, 0, 0, 0, // log start offset 0
        0, // aborted transactions null
        0, 0, 0, 2, // preferred read replica 2
        4, 1, 2, 3, // records
        3, // 3 tags
        0, 13, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 50, 0, // diverging: epoch 4, end 50
        1, 9, 0, 0, 0, 2, 0, 0, 0, 5, 0, // current leader 2, epoch 5
        2, 13, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 3, 0, // snapshot: end 40, epoch 3
        0, // topic tags
        1, 0, 13, 2, 0, 0, 0, 2, 2, b'h', 0, 0, 0x23, 0x84, 0, 0, // node 2 "h":9092
    ]);
    body
}

fn response_v16() -> FetchResponse {
    FetchResponse {
        session_id: 7,
        responses: vec![FetchTopicResponse {
            topic_id: TOPIC_ID,
            partitions: vec![FetchPartitionResponse {
                partition_index: 1,
                high_watermark: 100,
                last_stable_offset: 100,
                log_start_offset: 0,
                diverging_epoch: EpochEndOffset {
                    epoch: 4,
                    end_offset: 50,
                    ..Default::default()
                },
                current_leader: LeaderIdAndEpoch {
                    leader_id: 2,
                    leader_epoch: 5,
                    ..Default::default()
                },
                snapshot_id: SnapshotId {
                    end_offset: 40,
                    epoch: 3,
                    ..Default::default()
                },
                aborted_transactions: None,
                preferred_read_replica: 2,
                records: Some(Bytes::from_static(&[1, 2, 3])),
                ..Default::default()
            }],
            ..Default::default()
        }],
        node_endpoints: vec![NodeEndpoint {
            node_id: 2,
            host: "h".into(),
            port: 9092,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn response_v16_bytes() {
    let body = response_v16_body();
    let m = response_v16();
    assert_eq!(encode(&m, 16).unwrap(), body);
    assert_eq!(FetchResponse::decode(Bytes::from(body), 16).unwrap(), m);
    // Node endpoints are not known (nor ignorable) before v16.
    assert_eq!(field_error(&m, 15), Some("node_endpoints"));
}

#[test]
fn non_ignorable_response_fields_need_their_version() {
    let mut m = response_v16();
    m.node_endpoints.clear();
    m.responses[0].topic_id = Uuid::ZERO;
    assert_eq!(field_error(&m, 11), Some("diverging_epoch"));
    let p = &mut m.responses[0].partitions[0];
    p.diverging_epoch = EpochEndOffset::default();
    p.current_leader = LeaderIdAndEpoch::default();
    p.snapshot_id = SnapshotId::default();
    assert!(encode(&m, 11).is_ok());
    assert_eq!(field_error(&m, 10), Some("preferred_read_replica"));
    m.responses[0].partitions[0].preferred_read_replica = -1;
    assert!(encode(&m, 7).is_ok());
    assert_eq!(field_error(&m, 6), Some("session_id"));
}

#[test]
fn records_are_zero_copy() {
    let v16 = Bytes::from(response_v16_body());
    for (input, v, offset) in [
        (Bytes::from_static(RESPONSE_V4), 4i16, 61usize),
        (v16, 16, 64),
    ] {
        let m = FetchResponse::decode(input.clone(), v).unwrap();
        let records = m.responses[0].partitions[0].records.as_ref().unwrap();
        assert_eq!(&records[..], &[1, 2, 3]);
        assert_eq!(records.as_ptr(), input[offset..].as_ptr(), "v{v}");
    }
}

#[test]
fn records_stay_in_the_socket_buffer() {
    // A whole frame as read from a socket: size, correlation id, empty header tags, body.
    let body = response_v16_body();
    let mut socket = BytesMut::new();
    socket.put_i32(i32::try_from(body.len() + 5).unwrap());
    socket.put_i32(99);
    socket.put_u8(0);
    socket.extend_from_slice(&body);
    let base = socket.as_ptr() as usize;
    let end = base + socket.len();
    let frame = try_parse_frame(&mut socket, 1 << 20).unwrap().unwrap();
    let (header, m) = decode_response::<FetchRequest>(frame, 16).unwrap();
    assert_eq!(header.correlation_id, 99);
    let records = m.responses[0].partitions[0].records.as_ref().unwrap();
    let at = records.as_ptr() as usize;
    assert!(
        (base..end).contains(&at),
        "records were copied out of the read buffer"
    );
    assert_eq!(at - base, 4 + 5 + 64);
}

#[test]
fn hostile_input_is_rejected() {
    // Records claiming 2 GiB with 3 bytes behind them.
    let mut body = RESPONSE_V4[..RESPONSE_V4.len() - 7].to_vec();
    body.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    assert!(matches!(
        FetchResponse::decode(Bytes::from(body), 4),
        Err(ProtocolError::LengthExceedsInput { .. })
    ));
    // A known tagged field with a trailing byte inside it. The diverging-epoch
    // tag starts 58 bytes from the end (15 + 11 + 15 tag bytes, topic tags, 16 top-level).
    let mut body = response_v16_body();
    let diverging = body.len() - 58;
    assert_eq!(body[diverging..diverging + 2], [0, 13]);
    body[diverging + 1] = 14;
    body.insert(diverging + 2 + 13, 0);
    assert_eq!(
        FetchResponse::decode(Bytes::from(body), 16),
        Err(ProtocolError::TrailingBytes(1))
    );
}

proptest! {
    #[test]
    fn request_matches_kafka_protocol(m in any::<FetchRequest>(), v in 4i16..=17) {
        use kafka_protocol::messages::FetchRequest as Theirs;
        crate::protocol::messages::kafka_protocol_oracle::check_against::<Theirs, _>(&m, v)?;
    }

    #[test]
    fn response_matches_kafka_protocol(m in any::<FetchResponse>(), v in 4i16..=17) {
        use kafka_protocol::messages::FetchResponse as Theirs;
        crate::protocol::messages::kafka_protocol_oracle::check_against::<Theirs, _>(&m, v)?;
    }
}
