//! Produce (key 0): append record batches to partition logs.
//!
//! The `records` of each partition are carried as raw bytes — an encoded
//! record batch (or a legacy message set) built and parsed by the record
//! layer. Decoding hands them out as zero-copy slices of the input frame.
//!
//! With `acks = 0` the broker sends no response at all; see
//! [`ProduceRequest::expects_response`].
//!
//! Versions 0-11, flexible from 9. Version-by-version changes: v1 throttle
//! time, v2 log-append time, v3 transactional id, v5 log start offset, v8
//! record errors (KIP-467), v9 flexible, v10 leader discovery (KIP-951).
//!
//! Spec: `ProduceRequest.json` / `ProduceResponse.json`, KIP-98, KIP-467, KIP-951.

use bytes::Bytes;

use super::leader_discovery::{
    decode_node_endpoints, encode_node_endpoints, LeaderIdAndEpoch, NodeEndpoint,
};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TagWriter, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 11);
const FLEXIBLE_FROM: Option<i16> = Some(9);

/// Appends records to partitions on their leader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProduceRequest {
    /// Transactional id, `None` for a non-transactional producer (v3+, nullable v3+).
    pub transactional_id: Option<String>,
    /// Acknowledgements required: 0 none, 1 leader only, -1 all in-sync replicas (v0+).
    pub acks: i16,
    /// How long the broker may wait for the acknowledgements, in ms (v0+).
    pub timeout_ms: i32,
    /// Records per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topic_data: Vec<TopicProduceData>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl ProduceRequest {
    /// Whether the broker answers this request (it does not when `acks == 0`).
    pub fn expects_response(&self) -> bool {
        self.acks != 0
    }
}

/// The records for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TopicProduceData {
    /// Topic name (v0+).
    pub name: String,
    /// Records per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partition_data: Vec<PartitionProduceData>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The records for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PartitionProduceData {
    /// Partition index (v0+).
    pub index: i32,
    /// Encoded record batch(es), kept raw (v0+, nullable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub records: Option<Bytes>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The broker's answer to a [`ProduceRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProduceResponse {
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<TopicProduceResponse>,
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Endpoints of the new leaders named in `current_leader` (v10+, tag 0).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TopicProduceResponse {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partition_responses: Vec<PartitionProduceResponse>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The result of appending to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PartitionProduceResponse {
    /// Partition index (v0+).
    pub index: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Offset given to the first record appended (v0+).
    pub base_offset: i64,
    /// Broker append time when the topic uses LogAppendTime, else -1 (v2+, ignorable).
    pub log_append_time_ms: i64,
    /// Log start offset, -1 if unknown (v5+, ignorable).
    pub log_start_offset: i64,
    /// Records that made the batch fail (v8+, ignorable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub record_errors: Vec<BatchIndexAndErrorMessage>,
    /// Summary of why the batch was dropped (v8+, nullable, ignorable).
    pub error_message: Option<String>,
    /// The new leader when the error is `NOT_LEADER_OR_FOLLOWER` (v10+, tag 0).
    pub current_leader: LeaderIdAndEpoch,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for PartitionProduceResponse {
    fn default() -> Self {
        Self {
            index: 0,
            error_code: ErrorCode::NONE,
            base_offset: 0,
            log_append_time_ms: -1,
            log_start_offset: -1,
            record_errors: Vec::new(),
            error_message: None,
            current_leader: LeaderIdAndEpoch::default(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One record that caused its batch to be rejected (v8+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BatchIndexAndErrorMessage {
    /// Index of the record within its batch (v8+).
    pub batch_index: i32,
    /// Why that record was rejected (v8+, nullable).
    pub batch_index_error_message: Option<String>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ProduceRequest {
    const API_KEY: ApiKey = ApiKey::PRODUCE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 3 {
            w.nullable_string(self.transactional_id.as_deref())?;
        } else {
            w.absent("transactional_id", self.transactional_id.is_none(), false)?;
        }
        w.i16(self.acks);
        w.i32(self.timeout_ms);
        w.array(&self.topic_data, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partition_data, |w, p| {
                w.i32(p.index);
                w.nullable_bytes(p.records.as_deref())?;
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let transactional_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        Ok(Self {
            transactional_id,
            acks: r.i16()?,
            timeout_ms: r.i32()?,
            topic_data: r.array(|r| {
                Ok(TopicProduceData {
                    name: r.string()?,
                    partition_data: r.array(|r| {
                        Ok(PartitionProduceData {
                            index: r.i32()?,
                            records: r.nullable_bytes()?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for ProduceRequest {
    type Response = ProduceResponse;
    const ROUTE: Route = Route::PartitionLeader;
}

fn encode_partition_response(w: &mut Writer<'_>, p: &PartitionProduceResponse) -> Result<()> {
    let v = w.version();
    w.i32(p.index);
    w.i16(p.error_code.0);
    w.i64(p.base_offset);
    if v >= 2 {
        w.i64(p.log_append_time_ms);
    } else {
        w.absent("log_append_time_ms", p.log_append_time_ms == -1, true)?;
    }
    if v >= 5 {
        w.i64(p.log_start_offset);
    } else {
        w.absent("log_start_offset", p.log_start_offset == -1, true)?;
    }
    if v >= 8 {
        w.array(&p.record_errors, |w, e| {
            w.i32(e.batch_index);
            w.nullable_string(e.batch_index_error_message.as_deref())?;
            w.unknown_tagged_fields(&e.unknown_tagged_fields)
        })?;
        w.nullable_string(p.error_message.as_deref())?;
    } else {
        w.absent("record_errors", p.record_errors.is_empty(), true)?;
        w.absent("error_message", p.error_message.is_none(), true)?;
    }
    let mut tags = TagWriter::new(&p.unknown_tagged_fields, w);
    if v >= 10 {
        if !p.current_leader.is_default() {
            tags.field(0, |w| p.current_leader.encode(w))?;
        }
    } else {
        w.absent("current_leader", p.current_leader.is_default(), false)?;
    }
    tags.finish(w)
}

fn decode_partition_response(r: &mut Reader, version: i16) -> Result<PartitionProduceResponse> {
    let mut p = PartitionProduceResponse {
        index: r.i32()?,
        error_code: ErrorCode(r.i16()?),
        base_offset: r.i64()?,
        ..PartitionProduceResponse::default()
    };
    if version >= 2 {
        p.log_append_time_ms = r.i64()?;
    }
    if version >= 5 {
        p.log_start_offset = r.i64()?;
    }
    if version >= 8 {
        p.record_errors = r.array(|r| {
            Ok(BatchIndexAndErrorMessage {
                batch_index: r.i32()?,
                batch_index_error_message: r.nullable_string()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        p.error_message = r.nullable_string()?;
    }
    p.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
        0 if version >= 10 => {
            p.current_leader = LeaderIdAndEpoch::decode(f)?;
            f.finish()?;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    Ok(p)
}

impl Message for ProduceResponse {
    const API_KEY: ApiKey = ApiKey::PRODUCE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.array(&self.responses, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partition_responses, encode_partition_response)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        let mut tags = TagWriter::new(&self.unknown_tagged_fields, w);
        if v >= 10 {
            if !self.node_endpoints.is_empty() {
                tags.field(0, |w| encode_node_endpoints(w, &self.node_endpoints))?;
            }
        } else {
            w.absent("node_endpoints", self.node_endpoints.is_empty(), false)?;
        }
        tags.finish(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            responses: r.array(|r| {
                Ok(TopicProduceResponse {
                    name: r.string()?,
                    partition_responses: r.array(|r| decode_partition_response(r, version))?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            ..Self::default()
        };
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
            0 if version >= 10 => {
                msg.node_endpoints = decode_node_endpoints(f)?;
                f.finish()?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
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
        // v1 lacks both offsets-and-times fields: they are ignorable, so dropped.
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
}
