//! DeleteShareGroupOffsets (key 92): forget an empty share group's state for
//! whole topics (KIP-932); a later member starts them afresh at
//! `share.auto.offset.reset`.
//!
//! Sent to the group's coordinator; the group must have no members.
//! Errors are top-level and per topic. Only v0 exists; it is flexible.
//!
//! Spec: `DeleteShareGroupOffsetsRequest.json` / `…Response.json`
//! (Kafka 4.4.0); KIP-932.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields, Uuid,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);

/// Asks a group coordinator to delete a share group's state for topics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteShareGroupOffsetsRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// The topics (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DeleteShareGroupOffsetsRequestTopic>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`DeleteShareGroupOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteShareGroupOffsetsRequestTopic {
    /// The topic name (v0+).
    pub topic_name: String,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteShareGroupOffsetsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Top-level error (v0+).
    pub error_code: ErrorCode,
    /// Top-level error message (v0+, nullable).
    pub error_message: Option<String>,
    /// Per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<DeleteShareGroupOffsetsResponseTopic>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteShareGroupOffsetsResponseTopic {
    /// The topic name (v0+).
    pub topic_name: String,
    /// The topic id (v0+).
    pub topic_id: Uuid,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Error message (v0+, nullable).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DeleteShareGroupOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::DELETE_SHARE_GROUP_OFFSETS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.group_id)?;
        w.array(&self.topics, |w, t| {
            w.string(&t.topic_name)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            group_id: r.string()?,
            topics: r.array(|r| {
                Ok(DeleteShareGroupOffsetsRequestTopic {
                    topic_name: r.string()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DeleteShareGroupOffsetsRequest {
    type Response = DeleteShareGroupOffsetsResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for DeleteShareGroupOffsetsResponse {
    const API_KEY: ApiKey = ApiKey::DELETE_SHARE_GROUP_OFFSETS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.array(&self.responses, |w, t| {
            w.string(&t.topic_name)?;
            w.uuid(&t.topic_id);
            w.i16(t.error_code.0);
            w.nullable_string(t.error_message.as_deref())?;
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
                Ok(DeleteShareGroupOffsetsResponseTopic {
                    topic_name: r.string()?,
                    topic_id: r.uuid()?,
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
        fn request_roundtrip(m in any::<DeleteShareGroupOffsetsRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DeleteShareGroupOffsetsResponse>()) {
            check_roundtrip(&m, 0)?;
        }
    }

    #[test]
    fn request_bytes_and_hostile_responses() {
        let req = DeleteShareGroupOffsetsRequest {
            group_id: "g".into(),
            topics: vec![DeleteShareGroupOffsetsRequestTopic {
                topic_name: "t".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&req, 0), [2, b'g', 2, 2, b't', 0, 0]);
        let resp = DeleteShareGroupOffsetsResponse {
            responses: vec![DeleteShareGroupOffsetsResponseTopic {
                topic_name: "t".into(),
                topic_id: Uuid([9; 16]),
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ..Default::default()
            }],
            ..Default::default()
        };
        let wire = encoded(&resp, 0);
        let back = DeleteShareGroupOffsetsResponse::decode(Bytes::from(wire.clone()), 0);
        assert_eq!(back, Ok(resp));
        check_hostile::<DeleteShareGroupOffsetsResponse>(&wire, 0);
    }
}
