//! ListGroups (key 16): the groups a broker coordinates.
//!
//! Each broker lists only the groups it is coordinator for, so listing a
//! cluster's groups means asking every broker. v1 adds the throttle time,
//! v3 is the first flexible version, v4 filters by state and reports each
//! group's state, v5 filters by type (`classic`, `consumer`, ...) and reports
//! each group's type.
//!
//! Spec: `ListGroupsRequest.json` / `ListGroupsResponse.json`, KIP-518
//! (state filter), KIP-848 (group types).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 5);
const FLEXIBLE_FROM: Option<i16> = Some(3);

/// Asks a broker for the groups it coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListGroupsRequest {
    /// Only list groups in these states; empty lists all (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub states_filter: Vec<String>,
    /// Only list groups of these types; empty lists all (v5+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub types_filter: Vec<String>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_strings(w: &mut Writer<'_>, items: &[String]) -> Result<()> {
    w.array(items, |w, s| w.string(s))
}

impl Message for ListGroupsRequest {
    const API_KEY: ApiKey = ApiKey::LIST_GROUPS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 4 {
            encode_strings(w, &self.states_filter)?;
        } else {
            w.absent("states_filter", self.states_filter.is_empty(), false)?;
        }
        if v >= 5 {
            encode_strings(w, &self.types_filter)?;
        } else {
            w.absent("types_filter", self.types_filter.is_empty(), false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 4 {
            msg.states_filter = r.array(Reader::string)?;
        }
        if version >= 5 {
            msg.types_filter = r.array(Reader::string)?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for ListGroupsRequest {
    type Response = ListGroupsResponse;
    const ROUTE: Route = Route::AnyBroker;

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

/// The groups one broker coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListGroupsResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Error listing the groups (v0+).
    pub error_code: ErrorCode,
    /// The groups (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<ListedGroup>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One listed group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListedGroup {
    /// The group id (v0+).
    pub group_id: String,
    /// Protocol type, e.g. `consumer`; empty for KIP-848-only groups (v0+).
    pub protocol_type: String,
    /// State name (v4+, ignorable).
    pub group_state: String,
    /// Group type name (v5+, ignorable).
    pub group_type: String,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ListGroupsResponse {
    const API_KEY: ApiKey = ApiKey::LIST_GROUPS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.i16(self.error_code.0);
        w.array(&self.groups, |w, g| {
            w.string(&g.group_id)?;
            w.string(&g.protocol_type)?;
            if v >= 4 {
                w.string(&g.group_state)?;
            } else {
                w.absent("group_state", g.group_state.is_empty(), true)?;
            }
            if v >= 5 {
                w.string(&g.group_type)?;
            } else {
                w.absent("group_type", g.group_type.is_empty(), true)?;
            }
            w.unknown_tagged_fields(&g.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let throttle_time_ms = if version >= 1 { r.i32()? } else { 0 };
        let error_code = ErrorCode(r.i16()?);
        let groups = r.array(|r| {
            let mut g = ListedGroup {
                group_id: r.string()?,
                protocol_type: r.string()?,
                ..ListedGroup::default()
            };
            if version >= 4 {
                g.group_state = r.string()?;
            }
            if version >= 5 {
                g.group_type = r.string()?;
            }
            g.unknown_tagged_fields = r.unknown_tagged_fields()?;
            Ok(g)
        })?;
        Ok(Self {
            throttle_time_ms,
            error_code,
            groups,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ListGroupsRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ListGroupsResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only fields their version has survive unchanged.
        #[test]
        fn fitted_messages_survive(
            req in any::<ListGroupsRequest>(),
            resp in any::<ListGroupsResponse>(),
            v in 0i16..=5,
        ) {
            let req = fit_request(req, v);
            let bytes = encode(&req, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ListGroupsRequest::decode(bytes.into(), v), Ok(req));
            let resp = fit_response(resp, v);
            let bytes = encode(&resp, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ListGroupsResponse::decode(bytes.into(), v), Ok(resp));
        }
    }

    fn fit_request(mut m: ListGroupsRequest, v: i16) -> ListGroupsRequest {
        if v < 4 {
            m.states_filter.clear();
        }
        if v < 5 {
            m.types_filter.clear();
        }
        if v < 3 {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn fit_response(mut m: ListGroupsResponse, v: i16) -> ListGroupsResponse {
        if v < 1 {
            m.throttle_time_ms = 0;
        }
        for g in &mut m.groups {
            if v < 4 {
                g.group_state.clear();
            }
            if v < 5 {
                g.group_type.clear();
            }
            if v < 3 {
                g.unknown_tagged_fields = TaggedFields::default();
            }
        }
        if v < 3 {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn request_bytes() {
        let empty = ListGroupsRequest::default();
        assert_eq!(encode(&empty, 0).expect("v0"), Vec::<u8>::new());
        assert_eq!(encode(&empty, 3).expect("v3"), [0]);
        let req = ListGroupsRequest {
            states_filter: vec!["Empty".into()],
            types_filter: vec!["classic".into()],
            ..Default::default()
        };
        #[rustfmt::skip]
        let v5: &[u8] = &[
            2, 6, b'E', b'm', b'p', b't', b'y',                   // states_filter
            2, 8, b'c', b'l', b'a', b's', b's', b'i', b'c',       // types_filter
            0,                                                    // tags
        ];
        assert_eq!(encode(&req, 5).expect("v5"), v5);
        assert_eq!(
            ListGroupsRequest::decode(Bytes::from_static(v5), 5).expect("v5"),
            req
        );
        // Filters are not ignorable: an old broker would list unfiltered.
        assert!(encode(&req, 4).is_err());
        let states_only = ListGroupsRequest {
            types_filter: Vec::new(),
            ..req
        };
        let v4: &[u8] = &[2, 6, b'E', b'm', b'p', b't', b'y', 0];
        assert_eq!(encode(&states_only, 4).expect("v4"), v4);
        assert!(encode(&states_only, 3).is_err());
    }

    #[test]
    fn response_bytes_v0_and_v5() {
        let mut resp = ListGroupsResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            groups: vec![ListedGroup {
                group_id: "g".into(),
                protocol_type: "consumer".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0,                 // error_code
            0, 0, 0, 1,           // groups: 1
            0, 1, b'g',           //   group_id
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
        ];
        assert_eq!(encode(&resp, 0).expect("v0"), v0);
        assert_eq!(
            ListGroupsResponse::decode(Bytes::from_static(v0), 0).expect("v0"),
            resp
        );
        resp.throttle_time_ms = 2;
        resp.groups[0].group_state = "Stable".into();
        resp.groups[0].group_type = "classic".into();
        #[rustfmt::skip]
        let v5: &[u8] = &[
            0, 0, 0, 2,           // throttle_time_ms
            0, 0,                 // error_code
            2,                    // groups: 1
            2, b'g',
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            7, b'S', b't', b'a', b'b', b'l', b'e',
            8, b'c', b'l', b'a', b's', b's', b'i', b'c',
            0,                    //   group tags
            0,                    // response tags
        ];
        assert_eq!(encode(&resp, 5).expect("v5"), v5);
        assert_eq!(
            ListGroupsResponse::decode(Bytes::from_static(v5), 5).expect("v5"),
            resp
        );
        // State and type are ignorable: v0 drops them (and the throttle time).
        assert_eq!(encode(&resp, 0).expect("v0 drops"), v0);
    }
}
