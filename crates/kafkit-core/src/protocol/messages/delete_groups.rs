//! DeleteGroups (key 42): delete consumer groups and their committed offsets.
//!
//! Sent to each group's coordinator; a group with live members is refused
//! with `NON_EMPTY_GROUP`, an unknown one with `GROUP_ID_NOT_FOUND`. Every
//! version has the same fields: v1 only changes throttling behaviour, v2 is
//! the flexible encoding.
//!
//! Spec: KIP-229 (DeleteGroups), KIP-482 (v2, flexible).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 2);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Asks a group coordinator to delete groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteGroupsRequest {
    /// The groups to delete (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups_names: Vec<String>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The outcome for one group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeletableGroupResult {
    /// The group id (v0+).
    pub group_id: String,
    /// Deletion error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer to a [`DeleteGroupsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteGroupsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// One result per group (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<DeletableGroupResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DeleteGroupsRequest {
    const API_KEY: ApiKey = ApiKey::DELETE_GROUPS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.groups_names, |w, g| w.string(g))?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            groups_names: r.array(Reader::string)?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DeleteGroupsRequest {
    type Response = DeleteGroupsResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match self.groups_names.as_slice() {
            [one] => RouteKey::Coordinator(one),
            _ => RouteKey::None,
        }
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        match response.results.as_slice() {
            [one] => one.error_code,
            _ => ErrorCode::NONE,
        }
    }
}

impl Message for DeleteGroupsResponse {
    const API_KEY: ApiKey = ApiKey::DELETE_GROUPS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.results, |w, g| {
            w.string(&g.group_id)?;
            w.i16(g.error_code.0);
            w.unknown_tagged_fields(&g.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            results: r.array(|r| {
                Ok(DeletableGroupResult {
                    group_id: r.string()?,
                    error_code: ErrorCode(r.i16()?),
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
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DeleteGroupsRequest>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DeleteGroupsResponse>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        /// The independent `kafka-protocol` crate reads what kafkit writes.
        #[test]
        fn oracle(req in any::<DeleteGroupsRequest>(), resp in any::<DeleteGroupsResponse>(), v in 0i16..=2) {
            use crate::protocol::messages::kafka_protocol_oracle::check_against;
            check_against::<kafka_protocol::messages::DeleteGroupsRequest, _>(&req, v)?;
            check_against::<kafka_protocol::messages::DeleteGroupsResponse, _>(&resp, v)?;
        }

        /// Without tagged fields (which v0-v1 lack) nothing is lost at any version.
        #[test]
        fn untagged_messages_survive(m in any::<DeleteGroupsResponse>(), v in 0i16..=2) {
            let m = DeleteGroupsResponse {
                results: m.results.into_iter().map(|g| DeletableGroupResult {
                    unknown_tagged_fields: TaggedFields::default(),
                    ..g
                }).collect(),
                unknown_tagged_fields: TaggedFields::default(),
                ..m
            };
            let mut buf = BytesMut::new();
            m.encode(v, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(DeleteGroupsResponse::decode(buf.freeze(), v), Ok(m));
        }
    }

    #[test]
    fn request_bytes_classic_and_flexible() {
        let req = DeleteGroupsRequest {
            groups_names: vec!["g1".into(), "h".into()],
            ..Default::default()
        };
        // int32 count 2, int16-length strings.
        let v1: &[u8] = &[0, 0, 0, 2, 0, 2, b'g', b'1', 0, 1, b'h'];
        assert_eq!(encoded(&req, 0), v1);
        assert_eq!(encoded(&req, 1), v1);
        // compact count 2+1, compact strings, empty tag section.
        let v2: &[u8] = &[3, 3, b'g', b'1', 2, b'h', 0];
        assert_eq!(encoded(&req, 2), v2);
        for (v, wire) in [(1, v1), (2, v2)] {
            assert_eq!(
                DeleteGroupsRequest::decode(Bytes::from_static(wire), v),
                Ok(req.clone())
            );
        }
    }

    #[test]
    fn response_bytes_v2() {
        // throttle 7; compact count 1+1; "g" (compact 2), error 68 (NON_EMPTY_GROUP),
        // no tags; no top-level tags.
        let wire: &[u8] = &[0, 0, 0, 7, 2, 2, b'g', 0, 68, 0, 0];
        let resp = DeleteGroupsResponse {
            throttle_time_ms: 7,
            results: vec![DeletableGroupResult {
                group_id: "g".into(),
                error_code: ErrorCode::NON_EMPTY_GROUP,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&resp, 2), wire);
        assert_eq!(
            DeleteGroupsResponse::decode(Bytes::from_static(wire), 2),
            Ok(resp)
        );
    }

    #[test]
    fn hostile_counts_are_refused_before_allocating() {
        // A classic count of 2^31-1 groups in a 4-byte body.
        let wire = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            DeleteGroupsRequest::decode(wire, 0),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        // A truncated v2 response at every length is an error, never a panic.
        let full = encoded(
            &DeleteGroupsResponse {
                results: vec![DeletableGroupResult::default()],
                ..Default::default()
            },
            2,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(DeleteGroupsResponse::decode(cut, 2).is_err(), "{n} bytes");
        }
    }
}
