//! OffsetCommit (key 8): store a consumer group's committed offsets.
//!
//! Sent to the group coordinator. v1 carries a per-partition commit
//! timestamp, v2-v4 a request-wide retention time instead, v5+ neither (the
//! broker's configuration decides retention). v6 adds the leader epoch of the
//! committed position, v7 the static member id, v8 is the first flexible
//! version. v9 has the same layout as v8; with the KIP-848 consumer protocol
//! `generation_id_or_member_epoch` carries the member epoch, and the broker
//! may answer `STALE_MEMBER_EPOCH` or `GROUP_ID_NOT_FOUND`. v0 and v1 are
//! deprecated upstream.
//!
//! Spec: `OffsetCommitRequest.json` / `OffsetCommitResponse.json`, KIP-211
//! (retention), KIP-320 (leader epoch), KIP-345 (static membership), KIP-848.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 9);
const FLEXIBLE_FROM: Option<i16> = Some(8);

/// Commits offsets for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetCommitRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// Generation id (classic protocol) or member epoch (KIP-848); -1 when
    /// committing outside a generation (v1+, ignorable, default -1).
    pub generation_id_or_member_epoch: i32,
    /// Member id assigned by the coordinator (v1+, ignorable).
    pub member_id: String,
    /// Static member id, `None` for dynamic members (v7+, nullable).
    pub group_instance_id: Option<String>,
    /// How long the broker keeps the offsets, -1 for its default
    /// (v2-v4, ignorable, default -1).
    pub retention_time_ms: i64,
    /// Offsets to commit, per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<OffsetCommitRequestTopic>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for OffsetCommitRequest {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: Vec::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// Offsets to commit for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetCommitRequestTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Partitions of the topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<OffsetCommitRequestPartition>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetCommitRequestPartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// The offset to commit: the next record the group will consume (v0+).
    pub committed_offset: i64,
    /// Leader epoch of the record before `committed_offset`, -1 if unknown
    /// (v6+, ignorable, default -1).
    pub committed_leader_epoch: i32,
    /// Commit timestamp in ms, -1 for the broker's time (v1 only, default -1).
    pub commit_timestamp: i64,
    /// Client metadata stored with the offset (v0+, nullable; default `""`).
    pub committed_metadata: Option<String>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for OffsetCommitRequestPartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            committed_offset: 0,
            committed_leader_epoch: -1,
            commit_timestamp: -1,
            committed_metadata: Some(String::new()),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl Message for OffsetCommitRequest {
    const API_KEY: ApiKey = ApiKey::OFFSET_COMMIT;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.string(&self.group_id)?;
        if v >= 1 {
            w.i32(self.generation_id_or_member_epoch);
            w.string(&self.member_id)?;
        } else {
            w.absent(
                "generation_id_or_member_epoch",
                self.generation_id_or_member_epoch == -1,
                true,
            )?;
            w.absent("member_id", self.member_id.is_empty(), true)?;
        }
        if v >= 7 {
            w.nullable_string(self.group_instance_id.as_deref())?;
        } else {
            w.absent("group_instance_id", self.group_instance_id.is_none(), false)?;
        }
        if (2..=4).contains(&v) {
            w.i64(self.retention_time_ms);
        } else {
            w.absent("retention_time_ms", self.retention_time_ms == -1, true)?;
        }
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, encode_request_partition)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            group_id: r.string()?,
            ..Self::default()
        };
        if version >= 1 {
            msg.generation_id_or_member_epoch = r.i32()?;
            msg.member_id = r.string()?;
        }
        if version >= 7 {
            msg.group_instance_id = r.nullable_string()?;
        }
        if (2..=4).contains(&version) {
            msg.retention_time_ms = r.i64()?;
        }
        msg.topics = r.array(|r| {
            Ok(OffsetCommitRequestTopic {
                name: r.string()?,
                partitions: r.array(|r| decode_request_partition(r, version))?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for OffsetCommitRequest {
    type Response = OffsetCommitResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }
}

fn encode_request_partition(w: &mut Writer<'_>, p: &OffsetCommitRequestPartition) -> Result<()> {
    let v = w.version();
    w.i32(p.partition_index);
    w.i64(p.committed_offset);
    if v >= 6 {
        w.i32(p.committed_leader_epoch);
    } else {
        w.absent(
            "committed_leader_epoch",
            p.committed_leader_epoch == -1,
            true,
        )?;
    }
    if v == 1 {
        w.i64(p.commit_timestamp);
    } else {
        w.absent("commit_timestamp", p.commit_timestamp == -1, false)?;
    }
    w.nullable_string(p.committed_metadata.as_deref())?;
    w.unknown_tagged_fields(&p.unknown_tagged_fields)
}

fn decode_request_partition(r: &mut Reader, version: i16) -> Result<OffsetCommitRequestPartition> {
    let mut p = OffsetCommitRequestPartition {
        partition_index: r.i32()?,
        committed_offset: r.i64()?,
        ..OffsetCommitRequestPartition::default()
    };
    if version >= 6 {
        p.committed_leader_epoch = r.i32()?;
    }
    if version == 1 {
        p.commit_timestamp = r.i64()?;
    }
    p.committed_metadata = r.nullable_string()?;
    p.unknown_tagged_fields = r.unknown_tagged_fields()?;
    Ok(p)
}

/// The coordinator's answer: one error code per partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetCommitResponse {
    /// Throttle time in ms (v3+, ignorable).
    pub throttle_time_ms: i32,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<OffsetCommitResponseTopic>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Commit results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetCommitResponseTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<OffsetCommitResponsePartition>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Commit result for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetCommitResponsePartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Error for this partition, `NONE` when committed (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for OffsetCommitResponse {
    const API_KEY: ApiKey = ApiKey::OFFSET_COMMIT;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 3 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i16(p.error_code.0);
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let throttle_time_ms = if version >= 3 { r.i32()? } else { 0 };
        let topics = r.array(|r| {
            Ok(OffsetCommitResponseTopic {
                name: r.string()?,
                partitions: r.array(|r| {
                    Ok(OffsetCommitResponsePartition {
                        partition_index: r.i32()?,
                        error_code: ErrorCode(r.i16()?),
                        unknown_tagged_fields: r.unknown_tagged_fields()?,
                    })
                })?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        Ok(Self {
            throttle_time_ms,
            topics,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<OffsetCommitRequest>(), v in 0i16..=9) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<OffsetCommitResponse>(), v in 0i16..=9) {
            check_roundtrip(&m, v)?;
        }

        /// A message holding only fields its version has encodes strictly and
        /// decodes back unchanged (so no field present at a version is lost).
        #[test]
        fn fitted_messages_survive(
            req in any::<OffsetCommitRequest>(),
            resp in any::<OffsetCommitResponse>(),
            v in 0i16..=9,
        ) {
            let req = fit_request(req, v);
            let bytes = encode(&req, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(OffsetCommitRequest::decode(bytes.into(), v), Ok(req));
            let resp = fit_response(resp, v);
            let bytes = encode(&resp, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(OffsetCommitResponse::decode(bytes.into(), v), Ok(resp));
        }
    }

    /// Resets every field `v` lacks to its default.
    fn fit_request(mut m: OffsetCommitRequest, v: i16) -> OffsetCommitRequest {
        let flexible = v >= 8;
        if v < 1 {
            m.generation_id_or_member_epoch = -1;
            m.member_id.clear();
        }
        if v < 7 {
            m.group_instance_id = None;
        }
        if !(2..=4).contains(&v) {
            m.retention_time_ms = -1;
        }
        for t in &mut m.topics {
            for p in &mut t.partitions {
                if v < 6 {
                    p.committed_leader_epoch = -1;
                }
                if v != 1 {
                    p.commit_timestamp = -1;
                }
                if !flexible {
                    p.unknown_tagged_fields = TaggedFields::default();
                }
            }
            if !flexible {
                t.unknown_tagged_fields = TaggedFields::default();
            }
        }
        if !flexible {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn fit_response(mut m: OffsetCommitResponse, v: i16) -> OffsetCommitResponse {
        if v < 3 {
            m.throttle_time_ms = 0;
        }
        if v < 8 {
            m.unknown_tagged_fields = TaggedFields::default();
            for t in &mut m.topics {
                t.unknown_tagged_fields = TaggedFields::default();
                for p in &mut t.partitions {
                    p.unknown_tagged_fields = TaggedFields::default();
                }
            }
        }
        m
    }

    fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    fn sample_request() -> OffsetCommitRequest {
        OffsetCommitRequest {
            group_id: "g".into(),
            generation_id_or_member_epoch: 5,
            member_id: "m".into(),
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 2,
                    committed_offset: 100,
                    committed_metadata: None,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// v1: classic strings/arrays, generation and member id, per-partition timestamp.
    #[test]
    fn request_v1_bytes() {
        let mut req = sample_request();
        req.topics[0].partitions[0].commit_timestamp = 7;
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 1, b'g',               // group_id
            0, 0, 0, 5,               // generation_id
            0, 1, b'm',               // member_id
            0, 0, 0, 1,               // topics: 1
            0, 1, b't',               //   name
            0, 0, 0, 1,               //   partitions: 1
            0, 0, 0, 2,               //     partition_index
            0, 0, 0, 0, 0, 0, 0, 100, //     committed_offset
            0, 0, 0, 0, 0, 0, 0, 7,   //     commit_timestamp (v1 only)
            0xff, 0xff,               //     committed_metadata: null
        ];
        assert_eq!(encode(&req, 1).expect("v1 encodes"), expected);
        let back = OffsetCommitRequest::decode(Bytes::from_static(expected), 1).expect("v1");
        assert_eq!(back, req);
    }

    /// v3: retention time after the member id, no timestamp, metadata "x".
    #[test]
    fn request_v3_bytes() {
        let mut req = sample_request();
        req.retention_time_ms = 60_000;
        req.topics[0].partitions[0].committed_metadata = Some("x".into());
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 1, b'g', 0, 0, 0, 5, 0, 1, b'm',
            0, 0, 0, 0, 0, 0, 0xea, 0x60, // retention_time_ms = 60000
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1,
            0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 100,
            0, 1, b'x',                   // committed_metadata
        ];
        assert_eq!(encode(&req, 3).expect("v3 encodes"), expected);
        let back = OffsetCommitRequest::decode(Bytes::from_static(expected), 3).expect("v3");
        assert_eq!(back, req);
    }

    /// v8: compact strings/arrays, instance id, leader epoch, tagged sections.
    #[test]
    fn request_v8_bytes() {
        let mut req = sample_request();
        req.group_instance_id = Some("i".into());
        req.topics[0].partitions[0].committed_leader_epoch = 3;
        #[rustfmt::skip]
        let expected: &[u8] = &[
            2, b'g',                  // group_id (compact: len + 1)
            0, 0, 0, 5,               // generation_id_or_member_epoch
            2, b'm',                  // member_id
            2, b'i',                  // group_instance_id
            2,                        // topics: 1 (compact)
            2, b't',                  //   name
            2,                        //   partitions: 1
            0, 0, 0, 2,               //     partition_index
            0, 0, 0, 0, 0, 0, 0, 100, //     committed_offset
            0, 0, 0, 3,               //     committed_leader_epoch
            0,                        //     committed_metadata: null
            0,                        //     partition tags
            0,                        //   topic tags
            0,                        // request tags
        ];
        assert_eq!(encode(&req, 8).expect("v8 encodes"), expected);
        let back = OffsetCommitRequest::decode(Bytes::from_static(expected), 8).expect("v8");
        assert_eq!(back, req);
        // v9 has the same layout.
        assert_eq!(encode(&req, 9).expect("v9 encodes"), expected);
    }

    #[test]
    fn strictness_follows_ignorable_flags() {
        let mut req = sample_request();
        req.group_instance_id = Some("i".into());
        assert_eq!(
            encode(&req, 6),
            Err(ProtocolError::FieldNotSupported {
                field: "group_instance_id",
                version: 6
            })
        );
        let mut req = sample_request();
        req.topics[0].partitions[0].commit_timestamp = 1;
        assert!(
            encode(&req, 2).is_err(),
            "commit timestamp exists only at v1"
        );
        // Retention and leader epoch are ignorable: dropped, not an error.
        let mut req = sample_request();
        req.retention_time_ms = 5;
        req.topics[0].partitions[0].committed_leader_epoch = 9;
        assert_eq!(encode(&req, 5), encode(&sample_request(), 5));
    }

    #[test]
    fn response_bytes_v2_and_v8() {
        let resp = OffsetCommitResponse {
            throttle_time_ms: 0,
            topics: vec![OffsetCommitResponseTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitResponsePartition {
                    partition_index: 1,
                    error_code: ErrorCode::ILLEGAL_GENERATION,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let v2: &[u8] = &[0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 22];
        assert_eq!(encode(&resp, 2).expect("v2"), v2);
        let mut resp = resp;
        resp.throttle_time_ms = 10;
        #[rustfmt::skip]
        let v8: &[u8] = &[
            0, 0, 0, 10,           // throttle_time_ms
            2, 2, b't',            // topics: 1, name
            2, 0, 0, 0, 1, 0, 22,  // partitions: 1, index 1, ILLEGAL_GENERATION
            0, 0, 0,               // partition, topic, response tags
        ];
        assert_eq!(encode(&resp, 8).expect("v8"), v8);
        let back = OffsetCommitResponse::decode(Bytes::from_static(v8), 8).expect("v8");
        assert_eq!(back, resp);
    }
}
