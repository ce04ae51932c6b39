//! DescribeShareGroupOffsets (key 90): the share-partition start offsets
//! (and, from v1, lags) of share groups (KIP-932).
//!
//! Sent to each group's coordinator. A `None` topic list asks for every
//! topic-partition the group has state for. Errors are per group and per
//! partition. Every version is flexible.
//!
//! Spec: `DescribeShareGroupOffsetsRequest.json` / `…Response.json`
//! (Kafka 4.4.0); KIP-932.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields, Uuid,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 1);

/// Asks a group coordinator for share groups' start offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsRequest {
    /// The groups (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<DescribeShareGroupOffsetsRequestGroup>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One group of a [`DescribeShareGroupOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsRequestGroup {
    /// The group id (v0+).
    pub group_id: String,
    /// The topics, or `None` for every topic-partition (v0+, nullable).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub topics: Option<Vec<DescribeShareGroupOffsetsRequestTopic>>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a request group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsRequestTopic {
    /// The topic name (v0+).
    pub topic_name: String,
    /// The partitions (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// One entry per group (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<DescribeShareGroupOffsetsResponseGroup>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One group's offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsResponseGroup {
    /// The group id (v0+).
    pub group_id: String,
    /// Per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DescribeShareGroupOffsetsResponseTopic>,
    /// Group-level error (v0+).
    pub error_code: ErrorCode,
    /// Group-level error message (v0+, nullable).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsResponseTopic {
    /// The topic name (v0+).
    pub topic_name: String,
    /// The topic id (v0+).
    pub topic_id: Uuid,
    /// Per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<DescribeShareGroupOffsetsResponsePartition>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's share-partition state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeShareGroupOffsetsResponsePartition {
    /// The partition index (v0+).
    pub partition_index: i32,
    /// The share-partition start offset; -1 when it has none (v0+).
    pub start_offset: i64,
    /// The leader epoch (v0+).
    pub leader_epoch: i32,
    /// The share-partition lag; -1 unknown (v1+, ignorable).
    pub lag: i64,
    /// Partition-level error (v0+).
    pub error_code: ErrorCode,
    /// Partition-level error message (v0+, nullable).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for DescribeShareGroupOffsetsResponsePartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            start_offset: 0,
            leader_epoch: 0,
            lag: -1,
            error_code: ErrorCode::NONE,
            error_message: None,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl Message for DescribeShareGroupOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_SHARE_GROUP_OFFSETS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.groups, |w, g| {
            w.string(&g.group_id)?;
            w.nullable_array(g.topics.as_deref(), |w, t| {
                w.string(&t.topic_name)?;
                w.array(&t.partitions, |w, p| {
                    w.i32(*p);
                    Ok(())
                })?;
                w.unknown_tagged_fields(&t.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&g.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            groups: r.array(|r| {
                Ok(DescribeShareGroupOffsetsRequestGroup {
                    group_id: r.string()?,
                    topics: r.nullable_array(|r| {
                        Ok(DescribeShareGroupOffsetsRequestTopic {
                            topic_name: r.string()?,
                            partitions: r.i32_array()?,
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

impl Request for DescribeShareGroupOffsetsRequest {
    type Response = DescribeShareGroupOffsetsResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match self.groups.first() {
            Some(g) => RouteKey::Coordinator(&g.group_id),
            None => RouteKey::None,
        }
    }
}

fn encode_partition(
    w: &mut Writer<'_>,
    p: &DescribeShareGroupOffsetsResponsePartition,
) -> Result<()> {
    w.i32(p.partition_index);
    w.i64(p.start_offset);
    w.i32(p.leader_epoch);
    if w.version() >= 1 {
        w.i64(p.lag);
    } else {
        w.absent("lag", p.lag == -1, true)?;
    }
    w.i16(p.error_code.0);
    w.nullable_string(p.error_message.as_deref())?;
    w.unknown_tagged_fields(&p.unknown_tagged_fields)
}

fn decode_partition(
    r: &mut Reader,
    version: i16,
) -> Result<DescribeShareGroupOffsetsResponsePartition> {
    Ok(DescribeShareGroupOffsetsResponsePartition {
        partition_index: r.i32()?,
        start_offset: r.i64()?,
        leader_epoch: r.i32()?,
        lag: if version >= 1 { r.i64()? } else { -1 },
        error_code: ErrorCode(r.i16()?),
        error_message: r.nullable_string()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for DescribeShareGroupOffsetsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_SHARE_GROUP_OFFSETS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.groups, |w, g| {
            w.string(&g.group_id)?;
            w.array(&g.topics, |w, t| {
                w.string(&t.topic_name)?;
                w.uuid(&t.topic_id);
                w.array(&t.partitions, encode_partition)?;
                w.unknown_tagged_fields(&t.unknown_tagged_fields)
            })?;
            w.i16(g.error_code.0);
            w.nullable_string(g.error_message.as_deref())?;
            w.unknown_tagged_fields(&g.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            groups: r.array(|r| {
                Ok(DescribeShareGroupOffsetsResponseGroup {
                    group_id: r.string()?,
                    topics: r.array(|r| {
                        Ok(DescribeShareGroupOffsetsResponseTopic {
                            topic_name: r.string()?,
                            topic_id: r.uuid()?,
                            partitions: r.array(|r| decode_partition(r, version))?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeShareGroupOffsetsRequest>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeShareGroupOffsetsResponse>()) {
            check_roundtrip(&m, 1)?;
        }
    }

    #[test]
    fn request_bytes_lag_gate_and_hostile_responses() {
        let req = DescribeShareGroupOffsetsRequest {
            groups: vec![DescribeShareGroupOffsetsRequestGroup {
                group_id: "g".into(),
                topics: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        // 1 group "g", null topics, tags; tags.
        assert_eq!(encoded(&req, 0), [2, 2, b'g', 0, 0, 0]);
        let resp = DescribeShareGroupOffsetsResponse {
            groups: vec![DescribeShareGroupOffsetsResponseGroup {
                group_id: "g".into(),
                topics: vec![DescribeShareGroupOffsetsResponseTopic {
                    topic_name: "t".into(),
                    topic_id: Uuid([7; 16]),
                    partitions: vec![DescribeShareGroupOffsetsResponsePartition {
                        start_offset: 5,
                        lag: 3,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let wire = encoded(&resp, 1);
        let back = DescribeShareGroupOffsetsResponse::decode(Bytes::from(wire.clone()), 1);
        assert_eq!(back.as_ref(), Ok(&resp));
        check_hostile::<DescribeShareGroupOffsetsResponse>(&wire, 1);
        // v0 has no lag: a known lag is dropped (ignorable), read back as -1.
        let v0 = encoded(&resp, 0);
        assert_eq!(v0.len(), wire.len() - 8);
        let back0 = DescribeShareGroupOffsetsResponse::decode(Bytes::from(v0), 0).unwrap();
        assert_eq!(back0.groups[0].topics[0].partitions[0].lag, -1);
    }
}
