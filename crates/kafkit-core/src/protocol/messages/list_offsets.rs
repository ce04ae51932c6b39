//! ListOffsets (key 2): the offset of a partition at a timestamp.
//!
//! Besides real timestamps the request takes the sentinels below (latest,
//! earliest, ...). Version 0 asks for up to `max_num_offsets` offsets and
//! gets them back in `old_style_offsets`; v1+ return a single
//! `timestamp`/`offset` pair per partition.
//!
//! Spec: KIP-79 (v1 timestamp lookup), KIP-98 (isolation level, v2),
//! KIP-320 (leader epochs, v4), KIP-482 (flexible, v6), KIP-734 (v7),
//! KIP-405 (v8), KIP-1005 (v9), KIP-1075 (timeout, v10).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Timestamp sentinel: the offset of the next record to be written (log end).
pub const LATEST_TIMESTAMP: i64 = -1;
/// Timestamp sentinel: the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// Timestamp sentinel: the record with the largest timestamp (v7+).
pub const MAX_TIMESTAMP: i64 = -3;
/// Timestamp sentinel: the local log start offset under tiered storage (v8+).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// Timestamp sentinel: the highest offset copied to tiered storage (v9+).
pub const LATEST_TIERED_TIMESTAMP: i64 = -5;

/// Looks up offsets by timestamp for a set of partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListOffsetsRequest {
    /// Requesting broker id; -1 (the default) for a client (v0+).
    pub replica_id: i32,
    /// 0 = read uncommitted, 1 = read committed (v2+).
    pub isolation_level: i8,
    /// Topics to look up (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<ListOffsetsTopic>,
    /// How long the broker may wait on remote storage, in ms (v10+, ignorable).
    pub timeout_ms: i32,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ListOffsetsRequest {
    fn default() -> Self {
        Self {
            replica_id: -1,
            isolation_level: 0,
            topics: Vec::new(),
            timeout_ms: 0,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One topic of a [`ListOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListOffsetsTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Partitions to look up (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<ListOffsetsPartition>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition of a [`ListOffsetsTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListOffsetsPartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// The leader epoch the client knows, -1 if none (v4+, ignorable).
    pub current_leader_epoch: i32,
    /// Timestamp to look up, or one of the `*_TIMESTAMP` sentinels (v0+).
    pub timestamp: i64,
    /// How many offsets to return, default 1 (v0 only).
    pub max_num_offsets: i32,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ListOffsetsPartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            current_leader_epoch: -1,
            timestamp: 0,
            max_num_offsets: 1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The offsets found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListOffsetsResponse {
    /// Throttle time in ms (v2+, ignorable).
    pub throttle_time_ms: i32,
    /// One entry per requested topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<ListOffsetsTopicResponse>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`ListOffsetsResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListOffsetsTopicResponse {
    /// Topic name (v0+).
    pub name: String,
    /// One entry per requested partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<ListOffsetsPartitionResponse>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition of a [`ListOffsetsTopicResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListOffsetsPartitionResponse {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The offsets found, newest first (v0 only).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub old_style_offsets: Vec<i64>,
    /// Timestamp of the returned offset, -1 if none (v1+).
    pub timestamp: i64,
    /// The returned offset, -1 if none (v1+).
    pub offset: i64,
    /// Leader epoch of the returned offset, -1 if unknown (v4+).
    pub leader_epoch: i32,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ListOffsetsPartitionResponse {
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: ErrorCode::NONE,
            old_style_offsets: Vec::new(),
            timestamp: -1,
            offset: -1,
            leader_epoch: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl ListOffsetsPartition {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.i32(self.partition_index);
        if v >= 4 {
            w.i32(self.current_leader_epoch);
        } else {
            w.absent(
                "current_leader_epoch",
                self.current_leader_epoch == -1,
                true,
            )?;
        }
        w.i64(self.timestamp);
        if v == 0 {
            w.i32(self.max_num_offsets);
        } else {
            w.absent("max_num_offsets", self.max_num_offsets == 1, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader, version: i16) -> Result<Self> {
        let mut p = Self {
            partition_index: r.i32()?,
            ..Self::default()
        };
        if version >= 4 {
            p.current_leader_epoch = r.i32()?;
        }
        p.timestamp = r.i64()?;
        if version == 0 {
            p.max_num_offsets = r.i32()?;
        }
        p.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(p)
    }
}

impl Message for ListOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::LIST_OFFSETS;
    const VERSIONS: VersionRange = VersionRange::new(0, 10);
    const FLEXIBLE_FROM: Option<i16> = Some(6);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.i32(self.replica_id);
        if v >= 2 {
            w.i8(self.isolation_level);
        } else {
            w.absent("isolation_level", self.isolation_level == 0, false)?;
        }
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| p.encode(w))?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        if v >= 10 {
            w.i32(self.timeout_ms);
        } else {
            w.absent("timeout_ms", self.timeout_ms == 0, true)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            replica_id: r.i32()?,
            ..Self::default()
        };
        if version >= 2 {
            msg.isolation_level = r.i8()?;
        }
        msg.topics = r.array(|r| {
            Ok(ListOffsetsTopic {
                name: r.string()?,
                partitions: r.array(|r| ListOffsetsPartition::decode(r, version))?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        if version >= 10 {
            msg.timeout_ms = r.i32()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for ListOffsetsRequest {
    type Response = ListOffsetsResponse;
    const ROUTE: Route = Route::PartitionLeader;

    fn route_key(&self) -> RouteKey<'_> {
        match self.topics.first() {
            Some(t) => match t.partitions.first() {
                Some(p) => RouteKey::Partition(&t.name, p.partition_index),
                None => RouteKey::None,
            },
            None => RouteKey::None,
        }
    }
}

impl ListOffsetsPartitionResponse {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.i32(self.partition_index);
        w.i16(self.error_code.0);
        if v == 0 {
            w.array(&self.old_style_offsets, |w, o| {
                w.i64(*o);
                Ok(())
            })?;
            w.absent("timestamp", self.timestamp == -1, false)?;
            w.absent("offset", self.offset == -1, false)?;
        } else {
            w.absent(
                "old_style_offsets",
                self.old_style_offsets.is_empty(),
                false,
            )?;
            w.i64(self.timestamp);
            w.i64(self.offset);
        }
        if v >= 4 {
            w.i32(self.leader_epoch);
        } else {
            w.absent("leader_epoch", self.leader_epoch == -1, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader, version: i16) -> Result<Self> {
        let mut p = Self {
            partition_index: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            ..Self::default()
        };
        if version == 0 {
            p.old_style_offsets = r.array(Reader::i64)?;
        } else {
            p.timestamp = r.i64()?;
            p.offset = r.i64()?;
        }
        if version >= 4 {
            p.leader_epoch = r.i32()?;
        }
        p.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(p)
    }
}

impl Message for ListOffsetsResponse {
    const API_KEY: ApiKey = ApiKey::LIST_OFFSETS;
    const VERSIONS: VersionRange = VersionRange::new(0, 10);
    const FLEXIBLE_FROM: Option<i16> = Some(6);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 2 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| p.encode(w))?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 2 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.topics = r.array(|r| {
            Ok(ListOffsetsTopicResponse {
                name: r.string()?,
                partitions: r.array(|r| ListOffsetsPartitionResponse::decode(r, version))?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::testing::encoded;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ListOffsetsRequest>(), v in 0i16..=10) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ListOffsetsResponse>(), v in 0i16..=10) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only what a version carries survive exactly.
        #[test]
        fn version_shaped_roundtrip(
            q in any::<ListOffsetsRequest>(),
            p in any::<ListOffsetsResponse>(),
            v in 0i16..=10,
        ) {
            let q = request_at(q, v);
            check_roundtrip(&q, v)?;
            prop_assert_eq!(ListOffsetsRequest::decode(encoded(&q, v).into(), v), Ok(q));
            let p = response_at(p, v);
            check_roundtrip(&p, v)?;
            prop_assert_eq!(ListOffsetsResponse::decode(encoded(&p, v).into(), v), Ok(p));
        }
    }

    /// Resets what version `v` lacks, restating the spec's version ranges.
    fn request_at(mut m: ListOffsetsRequest, v: i16) -> ListOffsetsRequest {
        let flexible = v >= 6;
        if v < 2 {
            m.isolation_level = 0;
        }
        if v < 10 {
            m.timeout_ms = 0;
        }
        for t in &mut m.topics {
            for p in &mut t.partitions {
                if v < 4 {
                    p.current_leader_epoch = -1;
                }
                if v > 0 {
                    p.max_num_offsets = 1;
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

    fn response_at(mut m: ListOffsetsResponse, v: i16) -> ListOffsetsResponse {
        let flexible = v >= 6;
        if v < 2 {
            m.throttle_time_ms = 0;
        }
        for t in &mut m.topics {
            for p in &mut t.partitions {
                if v == 0 {
                    p.timestamp = -1;
                    p.offset = -1;
                } else {
                    p.old_style_offsets.clear();
                }
                if v < 4 {
                    p.leader_epoch = -1;
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

    fn one_partition_request(p: ListOffsetsPartition) -> ListOffsetsRequest {
        ListOffsetsRequest {
            topics: vec![ListOffsetsTopic {
                name: "t".into(),
                partitions: vec![p],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn request_v0_bytes() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, // replica id -1
            0, 0, 0, 1, 0, 1, b't', // 1 topic, "t"
            0, 0, 0, 1, 0, 0, 0, 0, // 1 partition, index 0
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // timestamp -2 (earliest)
            0, 0, 0, 1, // max num offsets 1
        ];
        let m = one_partition_request(ListOffsetsPartition {
            timestamp: EARLIEST_TIMESTAMP,
            ..Default::default()
        });
        assert_eq!(encoded(&m, 0), bytes);
        assert_eq!(
            ListOffsetsRequest::decode(Bytes::from_static(bytes), 0),
            Ok(m)
        );
    }

    #[test]
    fn request_v7_and_v10_bytes() {
        #[rustfmt::skip]
        let v7: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, // replica id -1
            1, // read committed
            2, 2, b't', // compact: 1 topic, "t"
            2, 0, 0, 0, 3, // 1 partition, index 3
            0, 0, 0, 5, // current leader epoch 5
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp -1 (latest)
            0, 0, 0, // partition, topic and request tag sections
        ];
        let mut m = one_partition_request(ListOffsetsPartition {
            partition_index: 3,
            current_leader_epoch: 5,
            timestamp: LATEST_TIMESTAMP,
            ..Default::default()
        });
        m.isolation_level = 1;
        assert_eq!(encoded(&m, 7), v7);
        assert_eq!(
            ListOffsetsRequest::decode(Bytes::from_static(v7), 7),
            Ok(m.clone())
        );

        // v10 appends the timeout (30000 ms) before the request's tag section.
        m.timeout_ms = 30_000;
        let mut v10 = v7[..v7.len() - 1].to_vec();
        v10.extend_from_slice(&[0, 0, 0x75, 0x30, 0]);
        assert_eq!(encoded(&m, 10), v10);
        assert_eq!(
            ListOffsetsRequest::decode(Bytes::from(v10), 10),
            Ok(m.clone())
        );
        // The timeout is ignorable: older versions drop it.
        assert_eq!(encoded(&m, 7), v7);
    }

    #[test]
    fn request_fields_a_version_lacks_are_rejected() {
        let many = one_partition_request(ListOffsetsPartition {
            max_num_offsets: 10,
            ..Default::default()
        });
        assert_eq!(
            many.encode(1, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported {
                field: "max_num_offsets",
                version: 1
            })
        );
        let committed = ListOffsetsRequest {
            isolation_level: 1,
            ..Default::default()
        };
        assert!(committed.encode(1, &mut BytesMut::new()).is_err());
        assert!(committed.encode(2, &mut BytesMut::new()).is_ok());
    }

    #[test]
    fn response_v0_bytes() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't', // 1 topic, "t"
            0, 0, 0, 1, 0, 0, 0, 0, 0, 6, // 1 partition, index 0, error 6
            0, 0, 0, 2, // 2 old-style offsets: 100, 0
            0, 0, 0, 0, 0, 0, 0, 100,
            0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let m = ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: "t".into(),
                partitions: vec![ListOffsetsPartitionResponse {
                    error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
                    old_style_offsets: vec![100, 0],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&m, 0), bytes);
        assert_eq!(
            ListOffsetsResponse::decode(Bytes::from_static(bytes), 0),
            Ok(m)
        );
    }

    #[test]
    fn response_v6_bytes() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 0, // throttle
            2, 2, b't', // compact: 1 topic, "t"
            2, 0, 0, 0, 1, 0, 0, // 1 partition, index 1, error 0
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp -1
            0, 0, 0, 0, 0, 0, 0, 42, // offset 42
            0, 0, 0, 3, // leader epoch 3
            0, 0, 0, // partition, topic and response tag sections
        ];
        let m = ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: "t".into(),
                partitions: vec![ListOffsetsPartitionResponse {
                    partition_index: 1,
                    offset: 42,
                    leader_epoch: 3,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&m, 6), bytes);
        assert_eq!(
            ListOffsetsResponse::decode(Bytes::from_static(bytes), 6),
            Ok(m.clone())
        );
        // At v1-v3 the leader epoch has no field and is not ignorable.
        assert!(m.encode(3, &mut BytesMut::new()).is_err());
    }
}
