//! DescribeGroups (key 15): state, protocol and members of classic groups.
//!
//! Sent to the coordinator of the groups named. v1 adds the throttle time,
//! v3 the authorized-operations bitfield (requested with
//! `include_authorized_operations`), v4 the members' static instance ids,
//! v5 is the first flexible version. Member metadata and assignments are
//! returned as opaque bytes (the consumer protocol's encodings).
//!
//! Spec: `DescribeGroupsRequest.json` / `DescribeGroupsResponse.json`,
//! KIP-430 (authorized operations), KIP-345 (static membership).

use bytes::Bytes;

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 5);
const FLEXIBLE_FROM: Option<i16> = Some(5);

/// Asks for the description of some groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeGroupsRequest {
    /// Group ids to describe (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<String>,
    /// Whether to return the caller's authorized operations per group (v3+).
    pub include_authorized_operations: bool,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeGroupsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_GROUPS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.groups, |w, g| w.string(g))?;
        if w.version() >= 3 {
            w.bool(self.include_authorized_operations);
        } else {
            w.absent(
                "include_authorized_operations",
                !self.include_authorized_operations,
                false,
            )?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let groups = r.array(Reader::string)?;
        let include_authorized_operations = version >= 3 && r.bool()?;
        Ok(Self {
            groups,
            include_authorized_operations,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeGroupsRequest {
    type Response = DescribeGroupsResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match self.groups.as_slice() {
            [one] => RouteKey::Coordinator(one),
            _ => RouteKey::None,
        }
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        match response.groups.as_slice() {
            [one] => one.error_code,
            _ => ErrorCode::NONE,
        }
    }
}

/// The descriptions of the requested groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeGroupsResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// One entry per requested group (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<DescribedGroup>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One group's description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedGroup {
    /// Error describing this group (v0+).
    pub error_code: ErrorCode,
    /// The group id (v0+).
    pub group_id: String,
    /// State name (`Stable`, `Empty`, ...), or empty (v0+).
    pub group_state: String,
    /// Protocol type (`consumer`, ...), or empty (v0+).
    pub protocol_type: String,
    /// Selected protocol (for consumers, the assignor name), or empty (v0+).
    pub protocol_data: String,
    /// The members (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub members: Vec<DescribedGroupMember>,
    /// Bitfield of the caller's authorized operations, `i32::MIN` when not
    /// requested (v3+, default `i32::MIN`).
    pub authorized_operations: i32,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for DescribedGroup {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            group_id: String::new(),
            group_state: String::new(),
            protocol_type: String::new(),
            protocol_data: String::new(),
            members: Vec::new(),
            authorized_operations: i32::MIN,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedGroupMember {
    /// Member id assigned by the coordinator (v0+).
    pub member_id: String,
    /// Static instance id, `None` for dynamic members (v4+, nullable, ignorable).
    pub group_instance_id: Option<String>,
    /// Client id of the member's latest JoinGroup (v0+).
    pub client_id: String,
    /// Host the member connected from (v0+).
    pub client_host: String,
    /// The member's metadata for the selected protocol (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub member_metadata: Bytes,
    /// The member's current assignment (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub member_assignment: Bytes,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_member(w: &mut Writer<'_>, m: &DescribedGroupMember) -> Result<()> {
    w.string(&m.member_id)?;
    if w.version() >= 4 {
        w.nullable_string(m.group_instance_id.as_deref())?;
    } else {
        w.absent("group_instance_id", m.group_instance_id.is_none(), true)?;
    }
    w.string(&m.client_id)?;
    w.string(&m.client_host)?;
    w.bytes(&m.member_metadata)?;
    w.bytes(&m.member_assignment)?;
    w.unknown_tagged_fields(&m.unknown_tagged_fields)
}

fn decode_member(r: &mut Reader, version: i16) -> Result<DescribedGroupMember> {
    let member_id = r.string()?;
    let group_instance_id = if version >= 4 {
        r.nullable_string()?
    } else {
        None
    };
    Ok(DescribedGroupMember {
        member_id,
        group_instance_id,
        client_id: r.string()?,
        client_host: r.string()?,
        member_metadata: r.bytes()?,
        member_assignment: r.bytes()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

fn encode_group(w: &mut Writer<'_>, g: &DescribedGroup) -> Result<()> {
    w.i16(g.error_code.0);
    w.string(&g.group_id)?;
    w.string(&g.group_state)?;
    w.string(&g.protocol_type)?;
    w.string(&g.protocol_data)?;
    w.array(&g.members, encode_member)?;
    if w.version() >= 3 {
        w.i32(g.authorized_operations);
    } else {
        w.absent(
            "authorized_operations",
            g.authorized_operations == i32::MIN,
            false,
        )?;
    }
    w.unknown_tagged_fields(&g.unknown_tagged_fields)
}

fn decode_group(r: &mut Reader, version: i16) -> Result<DescribedGroup> {
    let mut g = DescribedGroup {
        error_code: ErrorCode(r.i16()?),
        group_id: r.string()?,
        group_state: r.string()?,
        protocol_type: r.string()?,
        protocol_data: r.string()?,
        members: r.array(|r| decode_member(r, version))?,
        ..DescribedGroup::default()
    };
    if version >= 3 {
        g.authorized_operations = r.i32()?;
    }
    g.unknown_tagged_fields = r.unknown_tagged_fields()?;
    Ok(g)
}

impl Message for DescribeGroupsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_GROUPS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.array(&self.groups, encode_group)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let throttle_time_ms = if version >= 1 { r.i32()? } else { 0 };
        Ok(Self {
            throttle_time_ms,
            groups: r.array(|r| decode_group(r, version))?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeGroupsRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeGroupsResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only fields their version has survive unchanged.
        #[test]
        fn fitted_messages_survive(
            req in any::<DescribeGroupsRequest>(),
            resp in any::<DescribeGroupsResponse>(),
            v in 0i16..=5,
        ) {
            let req = fit_request(req, v);
            let bytes = encode(&req, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(DescribeGroupsRequest::decode(bytes.into(), v), Ok(req));
            let resp = fit_response(resp, v);
            let bytes = encode(&resp, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(DescribeGroupsResponse::decode(bytes.into(), v), Ok(resp));
        }
    }

    fn fit_request(mut m: DescribeGroupsRequest, v: i16) -> DescribeGroupsRequest {
        if v < 3 {
            m.include_authorized_operations = false;
        }
        if v < 5 {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn fit_response(mut m: DescribeGroupsResponse, v: i16) -> DescribeGroupsResponse {
        let flexible = v >= 5;
        if v < 1 {
            m.throttle_time_ms = 0;
        }
        for g in &mut m.groups {
            if v < 3 {
                g.authorized_operations = i32::MIN;
            }
            for member in &mut g.members {
                if v < 4 {
                    member.group_instance_id = None;
                }
                if !flexible {
                    member.unknown_tagged_fields = TaggedFields::default();
                }
            }
            if !flexible {
                g.unknown_tagged_fields = TaggedFields::default();
            }
        }
        if !flexible {
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
    fn request_bytes_v0_v3_v5() {
        let mut req = DescribeGroupsRequest {
            groups: vec!["a".into(), "bc".into()],
            ..Default::default()
        };
        let v0: &[u8] = &[0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c'];
        assert_eq!(encode(&req, 0).expect("v0"), v0);
        req.include_authorized_operations = true;
        assert!(encode(&req, 2).is_err(), "flag is not ignorable");
        let v3: &[u8] = &[0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c', 1];
        assert_eq!(encode(&req, 3).expect("v3"), v3);
        let v5: &[u8] = &[3, 2, b'a', 3, b'b', b'c', 1, 0];
        assert_eq!(encode(&req, 5).expect("v5"), v5);
        assert_eq!(
            DescribeGroupsRequest::decode(Bytes::from_static(v5), 5).expect("v5"),
            req
        );
    }

    fn sample_response() -> DescribeGroupsResponse {
        DescribeGroupsResponse {
            throttle_time_ms: 0,
            groups: vec![DescribedGroup {
                error_code: ErrorCode::NONE,
                group_id: "g".into(),
                group_state: "Stable".into(),
                protocol_type: "consumer".into(),
                protocol_data: "range".into(),
                members: vec![DescribedGroupMember {
                    member_id: "m".into(),
                    group_instance_id: None,
                    client_id: "c".into(),
                    client_host: "/h".into(),
                    member_metadata: Bytes::from_static(&[9]),
                    member_assignment: Bytes::new(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn response_bytes_v0() {
        let resp = sample_response();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0, 0, 1,                               // groups: 1
            0, 0,                                     //   error_code
            0, 1, b'g',                               //   group_id
            0, 6, b'S', b't', b'a', b'b', b'l', b'e', //   group_state
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0, 5, b'r', b'a', b'n', b'g', b'e',       //   protocol_data
            0, 0, 0, 1,                               //   members: 1
            0, 1, b'm',                               //     member_id
            0, 1, b'c',                               //     client_id
            0, 2, b'/', b'h',                         //     client_host
            0, 0, 0, 1, 9,                            //     member_metadata
            0, 0, 0, 0,                               //     member_assignment
        ];
        assert_eq!(encode(&resp, 0).expect("v0"), v0);
        assert_eq!(
            DescribeGroupsResponse::decode(Bytes::from_static(v0), 0).expect("v0"),
            resp
        );
    }

    #[test]
    fn response_bytes_v5() {
        let mut resp = sample_response();
        resp.throttle_time_ms = 1;
        resp.groups[0].authorized_operations = 0x0000_0f00;
        resp.groups[0].members[0].group_instance_id = Some("i".into());
        #[rustfmt::skip]
        let v5: &[u8] = &[
            0, 0, 0, 1,                               // throttle_time_ms
            2,                                        // groups: 1
            0, 0, 2, b'g',                            //   error_code, group_id
            7, b'S', b't', b'a', b'b', b'l', b'e',
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            6, b'r', b'a', b'n', b'g', b'e',
            2,                                        //   members: 1
            2, b'm',                                  //     member_id
            2, b'i',                                  //     group_instance_id
            2, b'c', 3, b'/', b'h',                   //     client_id, client_host
            2, 9,                                     //     member_metadata (compact)
            1,                                        //     member_assignment: empty
            0,                                        //     member tags
            0, 0, 0x0f, 0,                            //   authorized_operations
            0,                                        //   group tags
            0,                                        // response tags
        ];
        assert_eq!(encode(&resp, 5).expect("v5"), v5);
        assert_eq!(
            DescribeGroupsResponse::decode(Bytes::from_static(v5), 5).expect("v5"),
            resp
        );
        // The instance id is ignorable, the authorized operations are not.
        let mut v3 = resp.clone();
        v3.groups[0].members[0].group_instance_id = None;
        assert_eq!(encode(&resp, 3).expect("v3"), encode(&v3, 3).expect("v3"));
        assert!(encode(&resp, 2).is_err());
    }
}
