//! LeaveGroup (key 13): members leave a group so it rebalances at once.
//!
//! Versions 0-2 carry a single member id; v3+ carry a list of member
//! identities (a static member or an admin can remove several at once) and
//! the response reports per member. Because the two shapes do not overlap,
//! a request must be built for the version it will be sent at: a member id
//! at v3+ or a member list before v3 is an encoding error.
//!
//! Spec: `LeaveGroupRequest.json` / `LeaveGroupResponse.json`; KIP-345
//! (batch leave, v3+), KIP-482 (flexible v4+), KIP-800 (reason v5+).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Removes one member (v0-2) or several (v3+) from a group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LeaveGroupRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// The leaving member (v0-v2).
    pub member_id: String,
    /// The leaving members (v3+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub members: Vec<MemberIdentity>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One leaving member (v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MemberIdentity {
    /// The member id (v3+).
    pub member_id: String,
    /// The member's static instance id (v3+, nullable).
    pub group_instance_id: Option<String>,
    /// Why the member leaves (v5+, nullable, ignorable).
    pub reason: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer, per member from v3 on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LeaveGroupResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Top-level error (v0+).
    pub error_code: ErrorCode,
    /// Per-member results (v3+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub members: Vec<MemberResponse>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The result for one leaving member (v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MemberResponse {
    /// The member id (v3+).
    pub member_id: String,
    /// The member's static instance id (v3+, nullable).
    pub group_instance_id: Option<String>,
    /// The member's error (v3+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for LeaveGroupRequest {
    const API_KEY: ApiKey = ApiKey::LEAVE_GROUP;
    const VERSIONS: VersionRange = VersionRange::new(0, 5);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.string(&self.group_id)?;
        if v <= 2 {
            w.string(&self.member_id)?;
            w.absent("members", self.members.is_empty(), false)?;
        } else {
            w.absent("member_id", self.member_id.is_empty(), false)?;
            w.array(&self.members, |w, m| {
                w.string(&m.member_id)?;
                w.nullable_string(m.group_instance_id.as_deref())?;
                if v >= 5 {
                    w.nullable_string(m.reason.as_deref())?;
                } else {
                    w.absent("reason", m.reason.is_none(), true)?;
                }
                w.unknown_tagged_fields(&m.unknown_tagged_fields)
            })?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            group_id: r.string()?,
            ..Self::default()
        };
        if version <= 2 {
            msg.member_id = r.string()?;
        } else {
            msg.members = r.array(|r| {
                let member_id = r.string()?;
                let group_instance_id = r.nullable_string()?;
                let reason = if version >= 5 {
                    r.nullable_string()?
                } else {
                    None
                };
                Ok(MemberIdentity {
                    member_id,
                    group_instance_id,
                    reason,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for LeaveGroupRequest {
    type Response = LeaveGroupResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }
}

impl Message for LeaveGroupResponse {
    const API_KEY: ApiKey = ApiKey::LEAVE_GROUP;
    const VERSIONS: VersionRange = VersionRange::new(0, 5);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.i16(self.error_code.0);
        if v >= 3 {
            w.array(&self.members, |w, m| {
                w.string(&m.member_id)?;
                w.nullable_string(m.group_instance_id.as_deref())?;
                w.i16(m.error_code.0);
                w.unknown_tagged_fields(&m.unknown_tagged_fields)
            })?;
        } else {
            w.absent("members", self.members.is_empty(), false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.error_code = ErrorCode(r.i16()?);
        if version >= 3 {
            msg.members = r.array(|r| {
                Ok(MemberResponse {
                    member_id: r.string()?,
                    group_instance_id: r.nullable_string()?,
                    error_code: ErrorCode(r.i16()?),
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
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
        fn request_roundtrip(m in any::<LeaveGroupRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<LeaveGroupResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn request_v0_bytes() {
        let msg = LeaveGroupRequest {
            group_id: "g".into(),
            member_id: "m1".into(),
            ..LeaveGroupRequest::default()
        };
        let wire = [0, 1, b'g', 0, 2, b'm', b'1'];
        assert_eq!(encode(&msg, 0).unwrap(), wire);
        assert_eq!(
            LeaveGroupRequest::decode(Bytes::copy_from_slice(&wire), 2).unwrap(),
            msg
        );
        // The single member id does not exist from v3 on.
        assert!(matches!(
            encode(&msg, 3),
            Err(ProtocolError::FieldNotSupported {
                field: "member_id",
                ..
            })
        ));
    }

    fn batch() -> LeaveGroupRequest {
        LeaveGroupRequest {
            group_id: "g".into(),
            members: vec![MemberIdentity {
                member_id: "m".into(),
                group_instance_id: Some("i".into()),
                reason: Some("bye".into()),
                ..MemberIdentity::default()
            }],
            ..LeaveGroupRequest::default()
        }
    }

    #[test]
    fn request_v3_and_v5_bytes() {
        // v3: classic array of (member_id, instance id); the reason is ignorable and dropped.
        let wire3 = [0, 1, b'g', 0, 0, 0, 1, 0, 1, b'm', 0, 1, b'i'];
        assert_eq!(encode(&batch(), 3).unwrap(), wire3);
        let decoded = LeaveGroupRequest::decode(Bytes::copy_from_slice(&wire3), 3).unwrap();
        assert_eq!(decoded.members[0].reason, None);
        #[rustfmt::skip]
        let wire5 = [
            2, b'g',
            2,                              // one member (compact)
            2, b'm', 2, b'i',
            4, b'b', b'y', b'e',            // reason
            0,                              // member tags
            0,                              // body tags
        ];
        assert_eq!(encode(&batch(), 5).unwrap(), wire5);
        assert_eq!(
            LeaveGroupRequest::decode(Bytes::copy_from_slice(&wire5), 5).unwrap(),
            batch()
        );
        // A member list cannot be sent before v3.
        assert!(matches!(
            encode(&batch(), 2),
            Err(ProtocolError::FieldNotSupported {
                field: "members",
                ..
            })
        ));
    }

    #[test]
    fn response_bytes() {
        // v1: throttle, error.
        let wire1 = [0, 0, 0, 5, 0, 0];
        let decoded = LeaveGroupResponse::decode(Bytes::copy_from_slice(&wire1), 1).unwrap();
        assert_eq!(decoded.throttle_time_ms, 5);
        assert!(decoded.members.is_empty());
        assert_eq!(encode(&decoded, 1).unwrap(), wire1);
        // v4: throttle, error, one member (id, null instance id, UNKNOWN_MEMBER_ID), tags.
        let wire4 = [0, 0, 0, 0, 0, 0, 2, 2, b'm', 0, 0, 25, 0, 0];
        let decoded = LeaveGroupResponse::decode(Bytes::copy_from_slice(&wire4), 4).unwrap();
        assert_eq!(
            decoded.members,
            vec![MemberResponse {
                member_id: "m".into(),
                group_instance_id: None,
                error_code: ErrorCode::UNKNOWN_MEMBER_ID,
                ..MemberResponse::default()
            }]
        );
        assert_eq!(encode(&decoded, 4).unwrap(), wire4);
    }
}
