//! JoinGroup (key 11): a member (re)joins a group and offers its protocols.
//!
//! The coordinator picks one protocol every member supports, elects a
//! leader and returns every member's metadata to the leader only. For the
//! consumer protocol the metadata bytes are a
//! [`ConsumerProtocolSubscription`](super::consumer_protocol::ConsumerProtocolSubscription).
//!
//! Spec: `JoinGroupRequest.json` / `JoinGroupResponse.json`; KIP-62
//! (rebalance timeout v1+), KIP-345 (static membership v5+), KIP-394
//! (`MEMBER_ID_REQUIRED` v4+), KIP-482 (flexible v6+), KIP-559 (protocol
//! type/name in the response v7+), KIP-800 (reason v8+), KIP-814 (skip
//! assignment v9+).

use bytes::Bytes;

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Asks the coordinator to add the member to the group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct JoinGroupRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// Session timeout in ms; the member is dropped without heartbeats for this long (v0+).
    pub session_timeout_ms: i32,
    /// Rebalance timeout in ms, default -1 (v1+, ignorable).
    pub rebalance_timeout_ms: i32,
    /// The member id assigned by the coordinator, empty on the first join (v0+).
    pub member_id: String,
    /// Static membership instance id (v5+, nullable).
    pub group_instance_id: Option<String>,
    /// The class of protocols, `"consumer"` for consumers (v0+).
    pub protocol_type: String,
    /// The protocols the member supports, in order of preference (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub protocols: Vec<JoinGroupRequestProtocol>,
    /// Why the member (re)joins (v8+, nullable, ignorable).
    pub reason: Option<String>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for JoinGroupRequest {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            session_timeout_ms: 0,
            rebalance_timeout_ms: -1,
            member_id: String::new(),
            group_instance_id: None,
            protocol_type: String::new(),
            protocols: Vec::new(),
            reason: None,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One protocol (assignor) the joining member supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct JoinGroupRequestProtocol {
    /// Protocol name, e.g. `"range"` (v0+).
    pub name: String,
    /// Protocol metadata, e.g. an encoded subscription (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub metadata: Bytes,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer once the group has formed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct JoinGroupResponse {
    /// Throttle time in ms (v2+, ignorable).
    pub throttle_time_ms: i32,
    /// Error, e.g. `MEMBER_ID_REQUIRED` (v0+).
    pub error_code: ErrorCode,
    /// The new generation, default -1 (v0+).
    pub generation_id: i32,
    /// The group's protocol type (v7+, nullable, ignorable).
    pub protocol_type: Option<String>,
    /// The protocol the coordinator chose (v0+, nullable v7+); defaults to `Some("")`
    /// because older versions cannot carry a null.
    pub protocol_name: Option<String>,
    /// Member id of the group leader (v0+).
    pub leader: String,
    /// Tells the leader not to run the assignment (v9+).
    pub skip_assignment: bool,
    /// The member id the coordinator assigned to this member (v0+).
    pub member_id: String,
    /// Every member with its metadata; non-empty only for the leader (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub members: Vec<JoinGroupResponseMember>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for JoinGroupResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            generation_id: -1,
            protocol_type: None,
            protocol_name: Some(String::new()),
            leader: String::new(),
            skip_assignment: false,
            member_id: String::new(),
            members: Vec::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl JoinGroupResponse {
    /// Whether this member was elected leader (and must compute the assignment).
    pub fn is_leader(&self) -> bool {
        !self.member_id.is_empty() && self.leader == self.member_id
    }
}

/// One group member as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct JoinGroupResponseMember {
    /// The member id (v0+).
    pub member_id: String,
    /// The member's static instance id (v5+, nullable, ignorable).
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub metadata: Bytes,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for JoinGroupRequest {
    const API_KEY: ApiKey = ApiKey::JOIN_GROUP;
    const VERSIONS: VersionRange = VersionRange::new(0, 9);
    const FLEXIBLE_FROM: Option<i16> = Some(6);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.string(&self.group_id)?;
        w.i32(self.session_timeout_ms);
        if v >= 1 {
            w.i32(self.rebalance_timeout_ms);
        } else {
            w.absent(
                "rebalance_timeout_ms",
                self.rebalance_timeout_ms == -1,
                true,
            )?;
        }
        w.string(&self.member_id)?;
        if v >= 5 {
            w.nullable_string(self.group_instance_id.as_deref())?;
        } else {
            w.absent("group_instance_id", self.group_instance_id.is_none(), false)?;
        }
        w.string(&self.protocol_type)?;
        w.array(&self.protocols, |w, p| {
            w.string(&p.name)?;
            w.bytes(&p.metadata)?;
            w.unknown_tagged_fields(&p.unknown_tagged_fields)
        })?;
        if v >= 8 {
            w.nullable_string(self.reason.as_deref())?;
        } else {
            w.absent("reason", self.reason.is_none(), true)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            group_id: r.string()?,
            session_timeout_ms: r.i32()?,
            ..Self::default()
        };
        if version >= 1 {
            msg.rebalance_timeout_ms = r.i32()?;
        }
        msg.member_id = r.string()?;
        if version >= 5 {
            msg.group_instance_id = r.nullable_string()?;
        }
        msg.protocol_type = r.string()?;
        msg.protocols = r.array(|r| {
            Ok(JoinGroupRequestProtocol {
                name: r.string()?,
                metadata: r.bytes()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        if version >= 8 {
            msg.reason = r.nullable_string()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for JoinGroupRequest {
    type Response = JoinGroupResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }
}

fn encode_member(w: &mut Writer<'_>, m: &JoinGroupResponseMember) -> Result<()> {
    w.string(&m.member_id)?;
    if w.version() >= 5 {
        w.nullable_string(m.group_instance_id.as_deref())?;
    } else {
        w.absent("group_instance_id", m.group_instance_id.is_none(), true)?;
    }
    w.bytes(&m.metadata)?;
    w.unknown_tagged_fields(&m.unknown_tagged_fields)
}

fn decode_member(r: &mut Reader, version: i16) -> Result<JoinGroupResponseMember> {
    let member_id = r.string()?;
    let group_instance_id = if version >= 5 {
        r.nullable_string()?
    } else {
        None
    };
    Ok(JoinGroupResponseMember {
        member_id,
        group_instance_id,
        metadata: r.bytes()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for JoinGroupResponse {
    const API_KEY: ApiKey = ApiKey::JOIN_GROUP;
    const VERSIONS: VersionRange = VersionRange::new(0, 9);
    const FLEXIBLE_FROM: Option<i16> = Some(6);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 2 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.i16(self.error_code.0);
        w.i32(self.generation_id);
        if v >= 7 {
            w.nullable_string(self.protocol_type.as_deref())?;
        } else {
            w.absent("protocol_type", self.protocol_type.is_none(), true)?;
        }
        match self.protocol_name.as_deref() {
            Some(name) => w.string(name)?,
            None if w.null_allowed("protocol_name", v >= 7)? => w.nullable_string(None)?,
            None => w.string("")?,
        }
        w.string(&self.leader)?;
        if v >= 9 {
            w.bool(self.skip_assignment);
        } else {
            w.absent("skip_assignment", !self.skip_assignment, false)?;
        }
        w.string(&self.member_id)?;
        w.array(&self.members, encode_member)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 2 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.error_code = ErrorCode(r.i16()?);
        // librdkafka's mock cluster writes null protocol name, leader and
        // member id next to an error code; read them as empty there so the
        // error itself reaches the member.
        let failed = !msg.error_code.is_ok();
        msg.generation_id = r.i32()?;
        if version >= 7 {
            msg.protocol_type = r.nullable_string()?;
            msg.protocol_name = r.nullable_string()?;
        } else {
            msg.protocol_name = Some(string_or_null_on_error(r, failed)?);
        }
        msg.leader = string_or_null_on_error(r, failed)?;
        if version >= 9 {
            msg.skip_assignment = r.bool()?;
        }
        msg.member_id = string_or_null_on_error(r, failed)?;
        msg.members = r.array(|r| decode_member(r, version))?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

/// A non-nullable string, except that null reads as empty in an error response.
fn string_or_null_on_error(r: &mut Reader, failed: bool) -> Result<String> {
    if failed {
        Ok(r.nullable_string()?.unwrap_or_default())
    } else {
        r.string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;

    #[test]
    fn null_strings_next_to_an_error_read_as_empty() {
        // v5 as librdkafka's mock writes an error: throttle 0, error 14
        // (COORDINATOR_LOAD_IN_PROGRESS), generation -1, protocol name,
        // leader and member id null, no members.
        let body = bytes::Bytes::from_static(&[
            0, 0, 0, 0, 0, 14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0,
            0,
        ]);
        let resp = JoinGroupResponse::decode(body.clone(), 5).expect("decodes");
        assert_eq!(resp.error_code, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        assert_eq!(resp.leader, "");
        // Without an error code, a null leader stays an error.
        let mut ok = body.to_vec();
        ok[5] = 0;
        assert_eq!(
            JoinGroupResponse::decode(bytes::Bytes::from(ok), 5),
            Err(ProtocolError::UnexpectedNull)
        );
    }
    use crate::protocol::ProtocolError;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<JoinGroupRequest>(), v in 0i16..=9) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<JoinGroupResponse>(), v in 0i16..=9) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    fn request() -> JoinGroupRequest {
        JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            member_id: String::new(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(&[0xAB, 0xCD]),
                ..JoinGroupRequestProtocol::default()
            }],
            ..JoinGroupRequest::default()
        }
    }

    #[test]
    fn request_v1_bytes() {
        #[rustfmt::skip]
        let wire = [
            0, 1, b'g',                     // group_id
            0, 0, 0x27, 0x10,               // session timeout 10000
            0, 0, 0x75, 0x30,               // rebalance timeout 30000
            0, 0,                           // member_id ""
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0, 0, 0, 1,                     // one protocol
            0, 5, b'r', b'a', b'n', b'g', b'e',
            0, 0, 0, 2, 0xAB, 0xCD,         // metadata, int32 length
        ];
        assert_eq!(encode(&request(), 1).unwrap(), wire);
        assert_eq!(
            JoinGroupRequest::decode(Bytes::copy_from_slice(&wire), 1).unwrap(),
            request()
        );
        // v0 lacks the rebalance timeout; decoding leaves the spec default.
        let mut v0 = wire.to_vec();
        v0.drain(7..11);
        let decoded = JoinGroupRequest::decode(Bytes::from(v0.clone()), 0).unwrap();
        assert_eq!(decoded.rebalance_timeout_ms, -1);
        // The rebalance timeout is ignorable: dropped at v0, not an error.
        assert_eq!(encode(&request(), 0).unwrap(), v0);
    }

    #[test]
    fn request_v8_bytes() {
        let msg = JoinGroupRequest {
            group_instance_id: Some("i".into()),
            reason: Some("r".into()),
            ..request()
        };
        #[rustfmt::skip]
        let wire = [
            2, b'g',
            0, 0, 0x27, 0x10,
            0, 0, 0x75, 0x30,
            1,                              // member_id "" (compact)
            2, b'i',                        // group_instance_id
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            2,                              // one protocol (compact)
            6, b'r', b'a', b'n', b'g', b'e',
            3, 0xAB, 0xCD,                  // compact bytes
            0,                              // protocol tags
            2, b'r',                        // reason
            0,                              // body tags
        ];
        assert_eq!(encode(&msg, 8).unwrap(), wire);
        assert_eq!(
            JoinGroupRequest::decode(Bytes::copy_from_slice(&wire), 8).unwrap(),
            msg
        );
        // Null reason is a compact null (0).
        let no_reason = JoinGroupRequest {
            reason: None,
            ..msg
        };
        let bytes = encode(&no_reason, 8).unwrap();
        assert_eq!(bytes[bytes.len() - 2..], [0, 0]);
    }

    #[test]
    fn instance_id_before_v5_is_an_error() {
        let msg = JoinGroupRequest {
            group_instance_id: Some("i".into()),
            ..request()
        };
        assert!(matches!(
            encode(&msg, 4),
            Err(ProtocolError::FieldNotSupported {
                field: "group_instance_id",
                ..
            })
        ));
    }

    fn response() -> JoinGroupResponse {
        JoinGroupResponse {
            generation_id: 3,
            protocol_name: Some("range".into()),
            leader: "a".into(),
            member_id: "a".into(),
            members: vec![JoinGroupResponseMember {
                member_id: "a".into(),
                metadata: Bytes::from_static(&[7]),
                ..JoinGroupResponseMember::default()
            }],
            ..JoinGroupResponse::default()
        }
    }

    #[test]
    fn response_v0_bytes() {
        #[rustfmt::skip]
        let wire = [
            0, 0,                           // error
            0, 0, 0, 3,                     // generation
            0, 5, b'r', b'a', b'n', b'g', b'e',
            0, 1, b'a',                     // leader
            0, 1, b'a',                     // member_id
            0, 0, 0, 1,                     // one member
            0, 1, b'a',
            0, 0, 0, 1, 7,                  // metadata
        ];
        assert_eq!(encode(&response(), 0).unwrap(), wire);
        let decoded = JoinGroupResponse::decode(Bytes::copy_from_slice(&wire), 0).unwrap();
        assert_eq!(decoded, response());
        assert!(decoded.is_leader());
    }

    #[test]
    fn response_v9_bytes() {
        let msg = JoinGroupResponse {
            throttle_time_ms: 1,
            protocol_type: Some("consumer".into()),
            skip_assignment: true,
            members: vec![JoinGroupResponseMember {
                group_instance_id: Some("s".into()),
                ..response().members[0].clone()
            }],
            ..response()
        };
        #[rustfmt::skip]
        let wire = [
            0, 0, 0, 1,                     // throttle
            0, 0,                           // error
            0, 0, 0, 3,                     // generation
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            6, b'r', b'a', b'n', b'g', b'e',
            2, b'a',                        // leader
            1,                              // skip_assignment
            2, b'a',                        // member_id
            2,                              // one member
            2, b'a', 2, b's', 2, 7, 0,      // id, instance id, metadata, tags
            0,                              // body tags
        ];
        assert_eq!(encode(&msg, 9).unwrap(), wire);
        assert_eq!(
            JoinGroupResponse::decode(Bytes::copy_from_slice(&wire), 9).unwrap(),
            msg
        );
    }

    #[test]
    fn protocol_name_null_only_from_v7() {
        let msg = JoinGroupResponse {
            protocol_name: None,
            ..response()
        };
        assert!(matches!(
            encode(&msg, 6),
            Err(ProtocolError::FieldNotSupported {
                field: "protocol_name",
                ..
            })
        ));
        let bytes = encode(&msg, 7).unwrap();
        // throttle(4) error(2) generation(4) protocol_type null(1) then protocol_name null.
        assert_eq!(bytes[10..12], [0, 0]);
        let decoded = JoinGroupResponse::decode(Bytes::from(bytes), 7).unwrap();
        assert_eq!(decoded.protocol_name, None);
    }

    #[test]
    fn skip_assignment_before_v9_is_an_error() {
        let msg = JoinGroupResponse {
            skip_assignment: true,
            ..response()
        };
        assert!(matches!(
            encode(&msg, 8),
            Err(ProtocolError::FieldNotSupported {
                field: "skip_assignment",
                ..
            })
        ));
    }
}
