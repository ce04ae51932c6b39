//! AlterShareGroupOffsets (key 91): set the share-partition start offsets of
//! an empty share group (KIP-932), e.g. to rewind it or skip ahead.
//!
//! Sent to the group's coordinator; the group must have no members
//! (`NON_EMPTY_GROUP` otherwise). Errors are top-level and per partition.
//! Only v0 exists; it is flexible.
//!
//! Spec: `AlterShareGroupOffsetsRequest.json` / `…Response.json`
//! (Kafka 4.4.0); KIP-932.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields, Uuid,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);

/// Asks a group coordinator to set share-partition start offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterShareGroupOffsetsRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// The topics (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<AlterShareGroupOffsetsRequestTopic>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of an [`AlterShareGroupOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterShareGroupOffsetsRequestTopic {
    /// The topic name (v0+).
    pub topic_name: String,
    /// The partitions (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<AlterShareGroupOffsetsRequestPartition>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's new start offset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterShareGroupOffsetsRequestPartition {
    /// The partition index (v0+).
    pub partition_index: i32,
    /// The new share-partition start offset (v0+).
    pub start_offset: i64,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterShareGroupOffsetsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Top-level error (v0+).
    pub error_code: ErrorCode,
    /// Top-level error message (v0+, nullable).
    pub error_message: Option<String>,
    /// Per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<AlterShareGroupOffsetsResponseTopic>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterShareGroupOffsetsResponseTopic {
    /// The topic name (v0+).
    pub topic_name: String,
    /// The topic id (v0+).
    pub topic_id: Uuid,
    /// Per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<AlterShareGroupOffsetsResponsePartition>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterShareGroupOffsetsResponsePartition {
    /// The partition index (v0+).
    pub partition_index: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Error message (v0+, nullable).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for AlterShareGroupOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::ALTER_SHARE_GROUP_OFFSETS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.group_id)?;
        w.array(&self.topics, |w, t| {
            w.string(&t.topic_name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i64(p.start_offset);
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            group_id: r.string()?,
            topics: r.array(|r| {
                Ok(AlterShareGroupOffsetsRequestTopic {
                    topic_name: r.string()?,
                    partitions: r.array(|r| {
                        Ok(AlterShareGroupOffsetsRequestPartition {
                            partition_index: r.i32()?,
                            start_offset: r.i64()?,
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

impl Request for AlterShareGroupOffsetsRequest {
    type Response = AlterShareGroupOffsetsResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for AlterShareGroupOffsetsResponse {
    const API_KEY: ApiKey = ApiKey::ALTER_SHARE_GROUP_OFFSETS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.array(&self.responses, |w, t| {
            w.string(&t.topic_name)?;
            w.uuid(&t.topic_id);
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i16(p.error_code.0);
                w.nullable_string(p.error_message.as_deref())?;
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            responses: r.array(|r| {
                Ok(AlterShareGroupOffsetsResponseTopic {
                    topic_name: r.string()?,
                    topic_id: r.uuid()?,
                    partitions: r.array(|r| {
                        Ok(AlterShareGroupOffsetsResponsePartition {
                            partition_index: r.i32()?,
                            error_code: ErrorCode(r.i16()?),
                            error_message: r.nullable_string()?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<AlterShareGroupOffsetsRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<AlterShareGroupOffsetsResponse>()) {
            check_roundtrip(&m, 0)?;
        }
    }

    #[test]
    fn request_bytes_and_hostile_responses() {
        let req = AlterShareGroupOffsetsRequest {
            group_id: "g".into(),
            topics: vec![AlterShareGroupOffsetsRequestTopic {
                topic_name: "t".into(),
                partitions: vec![AlterShareGroupOffsetsRequestPartition {
                    partition_index: 1,
                    start_offset: 2,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let want: &[u8] = &[
            2, b'g', 2, 2, b't', 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
        ];
        assert_eq!(encoded(&req, 0), want);
        let resp = AlterShareGroupOffsetsResponse {
            responses: vec![AlterShareGroupOffsetsResponseTopic {
                topic_name: "t".into(),
                topic_id: Uuid([1; 16]),
                partitions: vec![AlterShareGroupOffsetsResponsePartition {
                    partition_index: 1,
                    error_code: ErrorCode::NON_EMPTY_GROUP,
                    error_message: Some("busy".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let wire = encoded(&resp, 0);
        let back = AlterShareGroupOffsetsResponse::decode(Bytes::from(wire.clone()), 0);
        assert_eq!(back, Ok(resp));
        check_hostile::<AlterShareGroupOffsetsResponse>(&wire, 0);
    }
}
