//! SyncGroup (key 14): the leader hands out assignments, every member
//! receives its own.
//!
//! Followers send an empty assignment list; the leader sends one entry per
//! member. For the consumer protocol the assignment bytes are a
//! [`ConsumerProtocolAssignment`](super::consumer_protocol::ConsumerProtocolAssignment).
//!
//! Spec: `SyncGroupRequest.json` / `SyncGroupResponse.json`; KIP-345 (group
//! instance id v3+), KIP-482 (flexible v4+), KIP-559 (protocol type/name v5+).

use bytes::Bytes;

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Sends the leader's assignments (or nothing, from a follower) to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SyncGroupRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// The generation returned by JoinGroup (v0+).
    pub generation_id: i32,
    /// The member id returned by JoinGroup (v0+).
    pub member_id: String,
    /// Static membership instance id (v3+, nullable).
    pub group_instance_id: Option<String>,
    /// The group's protocol type (v5+, nullable, ignorable).
    pub protocol_type: Option<String>,
    /// The chosen protocol name (v5+, nullable, ignorable).
    pub protocol_name: Option<String>,
    /// One assignment per member; empty unless sent by the leader (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub assignments: Vec<SyncGroupRequestAssignment>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The assignment the leader computed for one member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SyncGroupRequestAssignment {
    /// The member the assignment is for (v0+).
    pub member_id: String,
    /// The encoded assignment (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub assignment: Bytes,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// This member's assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SyncGroupResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Error (v0+).
    pub error_code: ErrorCode,
    /// The group's protocol type (v5+, nullable, ignorable).
    pub protocol_type: Option<String>,
    /// The chosen protocol name (v5+, nullable, ignorable).
    pub protocol_name: Option<String>,
    /// The encoded assignment; may be empty when the member got nothing (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub assignment: Bytes,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Writes the v5+ protocol type and name, or checks they may be dropped.
fn encode_protocol(
    w: &mut Writer<'_>,
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
) -> Result<()> {
    if w.version() >= 5 {
        w.nullable_string(protocol_type)?;
        w.nullable_string(protocol_name)
    } else {
        w.absent("protocol_type", protocol_type.is_none(), true)?;
        w.absent("protocol_name", protocol_name.is_none(), true)
    }
}

impl Message for SyncGroupRequest {
    const API_KEY: ApiKey = ApiKey::SYNC_GROUP;
    const VERSIONS: VersionRange = VersionRange::new(0, 5);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.group_id)?;
        w.i32(self.generation_id);
        w.string(&self.member_id)?;
        if w.version() >= 3 {
            w.nullable_string(self.group_instance_id.as_deref())?;
        } else {
            w.absent("group_instance_id", self.group_instance_id.is_none(), false)?;
        }
        encode_protocol(
            w,
            self.protocol_type.as_deref(),
            self.protocol_name.as_deref(),
        )?;
        w.array(&self.assignments, |w, a| {
            w.string(&a.member_id)?;
            w.bytes(&a.assignment)?;
            w.unknown_tagged_fields(&a.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            group_id: r.string()?,
            generation_id: r.i32()?,
            member_id: r.string()?,
            ..Self::default()
        };
        if version >= 3 {
            msg.group_instance_id = r.nullable_string()?;
        }
        if version >= 5 {
            msg.protocol_type = r.nullable_string()?;
            msg.protocol_name = r.nullable_string()?;
        }
        msg.assignments = r.array(|r| {
            Ok(SyncGroupRequestAssignment {
                member_id: r.string()?,
                assignment: r.bytes()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for SyncGroupRequest {
    type Response = SyncGroupResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }
}

impl Message for SyncGroupResponse {
    const API_KEY: ApiKey = ApiKey::SYNC_GROUP;
    const VERSIONS: VersionRange = VersionRange::new(0, 5);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.i16(self.error_code.0);
        encode_protocol(
            w,
            self.protocol_type.as_deref(),
            self.protocol_name.as_deref(),
        )?;
        w.bytes(&self.assignment)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.error_code = ErrorCode(r.i16()?);
        if version >= 5 {
            msg.protocol_type = r.nullable_string()?;
            msg.protocol_name = r.nullable_string()?;
        }
        // librdkafka's mock cluster writes a null assignment next to an error
        // code; read it as empty so the error itself reaches the member.
        msg.assignment = r.nullable_bytes()?.unwrap_or_default();
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn null_assignment_next_to_an_error_reads_as_empty() {
        use crate::protocol::{ErrorCode, Message};
        // v3: throttle 0, error 27 (REBALANCE_IN_PROGRESS), assignment length -1.
        let body = bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 27, 0xff, 0xff, 0xff, 0xff]);
        let resp = super::SyncGroupResponse::decode(body, 3).expect("decodes");
        assert_eq!(resp.error_code, ErrorCode::REBALANCE_IN_PROGRESS);
        assert!(resp.assignment.is_empty());
    }

    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::ProtocolError;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<SyncGroupRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<SyncGroupResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    fn request() -> SyncGroupRequest {
        SyncGroupRequest {
            group_id: "g".into(),
            generation_id: 2,
            member_id: "m".into(),
            assignments: vec![SyncGroupRequestAssignment {
                member_id: "m".into(),
                assignment: Bytes::from_static(&[1, 2]),
                ..SyncGroupRequestAssignment::default()
            }],
            ..SyncGroupRequest::default()
        }
    }

    #[test]
    fn request_v0_bytes() {
        #[rustfmt::skip]
        let wire = [
            0, 1, b'g',
            0, 0, 0, 2,                     // generation
            0, 1, b'm',
            0, 0, 0, 1,                     // one assignment
            0, 1, b'm',
            0, 0, 0, 2, 1, 2,
        ];
        assert_eq!(encode(&request(), 0).unwrap(), wire);
        assert_eq!(
            SyncGroupRequest::decode(Bytes::copy_from_slice(&wire), 0).unwrap(),
            request()
        );
        // The protocol type and name are ignorable: silently dropped before v5.
        let with_protocol = SyncGroupRequest {
            protocol_type: Some("consumer".into()),
            ..request()
        };
        assert_eq!(encode(&with_protocol, 0).unwrap(), wire);
    }

    #[test]
    fn request_v5_bytes() {
        let msg = SyncGroupRequest {
            group_instance_id: Some("i".into()),
            protocol_type: Some("c".into()),
            protocol_name: None,
            ..request()
        };
        #[rustfmt::skip]
        let wire = [
            2, b'g',
            0, 0, 0, 2,
            2, b'm',
            2, b'i',                        // group_instance_id
            2, b'c',                        // protocol_type
            0,                              // protocol_name null
            2,                              // one assignment
            2, b'm', 3, 1, 2, 0,
            0,
        ];
        assert_eq!(encode(&msg, 5).unwrap(), wire);
        assert_eq!(
            SyncGroupRequest::decode(Bytes::copy_from_slice(&wire), 5).unwrap(),
            msg
        );
    }

    #[test]
    fn instance_id_before_v3_is_an_error() {
        let msg = SyncGroupRequest {
            group_instance_id: Some("i".into()),
            ..request()
        };
        assert!(matches!(
            encode(&msg, 2),
            Err(ProtocolError::FieldNotSupported {
                field: "group_instance_id",
                ..
            })
        ));
    }

    #[test]
    fn response_bytes() {
        // v0: error code, int32-length assignment.
        let wire0 = [0, 0, 0, 0, 0, 1, 9];
        let decoded = SyncGroupResponse::decode(Bytes::copy_from_slice(&wire0), 0).unwrap();
        assert_eq!(decoded.assignment, Bytes::from_static(&[9]));
        assert_eq!(encode(&decoded, 0).unwrap(), wire0);
        // v4 (flexible, no protocol fields): an empty assignment is compact length 1.
        let wire4 = [0, 0, 0, 0, 0, 25, 1, 0];
        let decoded = SyncGroupResponse::decode(Bytes::copy_from_slice(&wire4), 4).unwrap();
        assert_eq!(decoded.error_code, ErrorCode::UNKNOWN_MEMBER_ID);
        assert!(decoded.assignment.is_empty());
        assert_eq!(encode(&decoded, 4).unwrap(), wire4);
        // v5 adds protocol type and name before the assignment.
        let wire5 = [0, 0, 0, 0, 0, 0, 2, b'c', 2, b'r', 2, 9, 0];
        let decoded = SyncGroupResponse::decode(Bytes::copy_from_slice(&wire5), 5).unwrap();
        assert_eq!(decoded.protocol_type.as_deref(), Some("c"));
        assert_eq!(decoded.protocol_name.as_deref(), Some("r"));
        assert_eq!(encode(&decoded, 5).unwrap(), wire5);
    }
}
