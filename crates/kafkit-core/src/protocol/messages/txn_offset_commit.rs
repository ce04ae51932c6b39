//! TxnOffsetCommit (key 28): commit a consumer group's offsets inside a
//! transaction.
//!
//! Sent by a transactional producer to the group coordinator; the offsets
//! become visible when the transaction commits and are dropped when it
//! aborts. v2 adds the leader epoch of the committed position, v3 (the first
//! flexible version) the group metadata of KIP-447 — generation (or member
//! epoch), member id and static instance id — so the coordinator can fence a
//! zombie producer that lost its partitions in a rebalance. v4 only adds the
//! `TRANSACTION_ABORTABLE` error code; v5 has v4's layout and is the
//! transaction protocol v2 form (KIP-890): it also adds the group's offsets
//! partition to the transaction, replacing AddOffsetsToTxn. kafkit stops at
//! v5 (v6 of Kafka 4.4 names topics by id, KIP-1319).
//!
//! Spec: `TxnOffsetCommitRequest.json` / `TxnOffsetCommitResponse.json`,
//! KIP-98, KIP-320 (leader epoch), KIP-447 (group metadata), KIP-890.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 5);
const FLEXIBLE_FROM: Option<i16> = Some(3);

/// Commits offsets for a group as part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TxnOffsetCommitRequest {
    /// The transactional id (v0+).
    pub transactional_id: String,
    /// The consumer group id (v0+).
    pub group_id: String,
    /// The producer id in use by the transactional id (v0+).
    pub producer_id: i64,
    /// The producer's current epoch (v0+).
    pub producer_epoch: i16,
    /// The group's generation (classic protocol) or the member epoch
    /// (KIP-848), -1 for none (v3+, default -1).
    pub generation_id_or_member_epoch: i32,
    /// Member id assigned by the group coordinator (v3+).
    pub member_id: String,
    /// Static member id, `None` for dynamic members (v3+, nullable).
    pub group_instance_id: Option<String>,
    /// Offsets to commit, per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<TxnOffsetCommitRequestTopic>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for TxnOffsetCommitRequest {
    fn default() -> Self {
        Self {
            transactional_id: String::new(),
            group_id: String::new(),
            producer_id: 0,
            producer_epoch: 0,
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            group_instance_id: None,
            topics: Vec::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// Offsets to commit for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TxnOffsetCommitRequestTopic {
    /// Topic name (v0-v5).
    pub name: String,
    /// Partitions of the topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<TxnOffsetCommitRequestPartition>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TxnOffsetCommitRequestPartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// The offset to commit: the next record the group will consume (v0+).
    pub committed_offset: i64,
    /// Leader epoch of the last consumed record, -1 if unknown
    /// (v2+, ignorable, default -1).
    pub committed_leader_epoch: i32,
    /// Client metadata stored with the offset (v0+, nullable).
    pub committed_metadata: Option<String>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for TxnOffsetCommitRequestPartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            committed_offset: 0,
            committed_leader_epoch: -1,
            committed_metadata: Some(String::new()),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The coordinator's answer: one error code per partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TxnOffsetCommitResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<TxnOffsetCommitResponseTopic>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TxnOffsetCommitResponseTopic {
    /// Topic name (v0-v5).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<TxnOffsetCommitResponsePartition>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Result for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TxnOffsetCommitResponsePartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Error, `NONE` when committed (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for TxnOffsetCommitRequest {
    const API_KEY: ApiKey = ApiKey::TXN_OFFSET_COMMIT;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.transactional_id)?;
        w.string(&self.group_id)?;
        w.i64(self.producer_id);
        w.i16(self.producer_epoch);
        if w.version() >= 3 {
            w.i32(self.generation_id_or_member_epoch);
            w.string(&self.member_id)?;
            w.nullable_string(self.group_instance_id.as_deref())?;
        } else {
            let generation = self.generation_id_or_member_epoch == -1;
            w.absent("generation_id_or_member_epoch", generation, false)?;
            w.absent("member_id", self.member_id.is_empty(), false)?;
            let instance = self.group_instance_id.is_none();
            w.absent("group_instance_id", instance, false)?;
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
            transactional_id: r.string()?,
            group_id: r.string()?,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            ..Self::default()
        };
        if version >= 3 {
            msg.generation_id_or_member_epoch = r.i32()?;
            msg.member_id = r.string()?;
            msg.group_instance_id = r.nullable_string()?;
        }
        msg.topics = r.array(|r| {
            Ok(TxnOffsetCommitRequestTopic {
                name: r.string()?,
                partitions: r.array(|r| decode_request_partition(r, version))?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for TxnOffsetCommitRequest {
    type Response = TxnOffsetCommitResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }
}

fn encode_request_partition(w: &mut Writer<'_>, p: &TxnOffsetCommitRequestPartition) -> Result<()> {
    w.i32(p.partition_index);
    w.i64(p.committed_offset);
    if w.version() >= 2 {
        w.i32(p.committed_leader_epoch);
    } else {
        let unknown = p.committed_leader_epoch == -1;
        w.absent("committed_leader_epoch", unknown, true)?;
    }
    w.nullable_string(p.committed_metadata.as_deref())?;
    w.unknown_tagged_fields(&p.unknown_tagged_fields)
}

fn decode_request_partition(
    r: &mut Reader,
    version: i16,
) -> Result<TxnOffsetCommitRequestPartition> {
    let mut p = TxnOffsetCommitRequestPartition {
        partition_index: r.i32()?,
        committed_offset: r.i64()?,
        ..TxnOffsetCommitRequestPartition::default()
    };
    if version >= 2 {
        p.committed_leader_epoch = r.i32()?;
    }
    p.committed_metadata = r.nullable_string()?;
    p.unknown_tagged_fields = r.unknown_tagged_fields()?;
    Ok(p)
}

impl Message for TxnOffsetCommitResponse {
    const API_KEY: ApiKey = ApiKey::TXN_OFFSET_COMMIT;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
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

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        let throttle_time_ms = r.i32()?;
        let topics = r.array(|r| {
            Ok(TxnOffsetCommitResponseTopic {
                name: r.string()?,
                partitions: r.array(|r| {
                    Ok(TxnOffsetCommitResponsePartition {
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
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<TxnOffsetCommitRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<TxnOffsetCommitResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only what a version carries survive exactly.
        #[test]
        fn version_shaped_roundtrip(
            q in any::<TxnOffsetCommitRequest>(),
            p in any::<TxnOffsetCommitResponse>(),
            v in 0i16..=5,
        ) {
            let q = request_at(q, v);
            prop_assert_eq!(TxnOffsetCommitRequest::decode(encoded(&q, v).into(), v), Ok(q));
            let p = response_at(p, v);
            prop_assert_eq!(TxnOffsetCommitResponse::decode(encoded(&p, v).into(), v), Ok(p));
        }
    }

    /// Resets what version `v` lacks, restating the spec's version ranges.
    fn request_at(mut m: TxnOffsetCommitRequest, v: i16) -> TxnOffsetCommitRequest {
        let flexible = v >= 3;
        if !flexible {
            m.generation_id_or_member_epoch = -1;
            m.member_id.clear();
            m.group_instance_id = None;
            m.unknown_tagged_fields = TaggedFields::default();
        }
        for t in &mut m.topics {
            if !flexible {
                t.unknown_tagged_fields = TaggedFields::default();
            }
            for p in &mut t.partitions {
                if v < 2 {
                    p.committed_leader_epoch = -1;
                }
                if !flexible {
                    p.unknown_tagged_fields = TaggedFields::default();
                }
            }
        }
        m
    }

    fn response_at(mut m: TxnOffsetCommitResponse, v: i16) -> TxnOffsetCommitResponse {
        if v < 3 {
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

    fn sample() -> TxnOffsetCommitRequest {
        TxnOffsetCommitRequest {
            transactional_id: "tx".into(),
            group_id: "g".into(),
            producer_id: 7,
            producer_epoch: 1,
            topics: vec![TxnOffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![TxnOffsetCommitRequestPartition {
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

    #[test]
    fn request_v0_bytes() {
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 2, b't', b'x', 0, 1, b'g',       // transactional id, group id
            0, 0, 0, 0, 0, 0, 0, 7, 0, 1,       // producer id, epoch
            0, 0, 0, 1, 0, 1, b't',             // topics: 1, "t"
            0, 0, 0, 1, 0, 0, 0, 2,             // partitions: 1, index 2
            0, 0, 0, 0, 0, 0, 0, 100, 0xff, 0xff, // offset 100, null metadata
        ];
        assert_eq!(encoded(&sample(), 0), v0);
        assert_eq!(
            TxnOffsetCommitRequest::decode(Bytes::from_static(v0), 0),
            Ok(sample())
        );
    }

    #[test]
    fn request_v5_with_group_metadata_bytes() {
        let mut m = sample();
        m.generation_id_or_member_epoch = 3;
        m.member_id = "m".into();
        m.group_instance_id = Some("i".into());
        m.topics[0].partitions[0].committed_leader_epoch = 4;
        #[rustfmt::skip]
        let v5: &[u8] = &[
            3, b't', b'x', 2, b'g', 0, 0, 0, 0, 0, 0, 0, 7, 0, 1,
            0, 0, 0, 3, 2, b'm', 2, b'i',      // generation, member id, instance id
            2, 2, b't', 2, 0, 0, 0, 2,         // topics: "t", partitions: index 2
            0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 4, 0, 0, // offset, epoch 4, null, tags
            0, 0,                              // topic and request tags
        ];
        assert_eq!(encoded(&m, 5), v5);
        assert_eq!(
            TxnOffsetCommitRequest::decode(Bytes::from_static(v5), 5),
            Ok(m.clone())
        );
        // The group metadata is not ignorable: v2 refuses it.
        assert!(matches!(
            m.encode(2, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
    }

    #[test]
    fn response_v3_bytes() {
        let m = TxnOffsetCommitResponse {
            throttle_time_ms: 1,
            topics: vec![TxnOffsetCommitResponseTopic {
                name: "t".into(),
                partitions: vec![TxnOffsetCommitResponsePartition {
                    partition_index: 0,
                    error_code: ErrorCode::ILLEGAL_GENERATION,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let v3: &[u8] = &[0, 0, 0, 1, 2, 2, b't', 2, 0, 0, 0, 0, 0, 22, 0, 0, 0];
        assert_eq!(encoded(&m, 3), v3);
        assert_eq!(
            TxnOffsetCommitResponse::decode(Bytes::from_static(v3), 3),
            Ok(m)
        );
    }
}
