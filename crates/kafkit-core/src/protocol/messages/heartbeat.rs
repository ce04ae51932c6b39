//! Heartbeat (key 12): a group member tells its coordinator it is alive.
//!
//! The response's error code carries the rebalance signal
//! (`REBALANCE_IN_PROGRESS`) as well as fencing errors.
//!
//! Spec: `HeartbeatRequest.json` / `HeartbeatResponse.json`; KIP-345 (static
//! membership, group instance id v3+), KIP-482 (flexible v4+).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Keeps a member's session with the group coordinator alive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct HeartbeatRequest {
    /// The group id (v0+).
    pub group_id: String,
    /// The generation the member believes is current (v0+).
    pub generation_id: i32,
    /// The member id the coordinator assigned (v0+).
    pub member_id: String,
    /// Static membership instance id (v3+, nullable).
    pub group_instance_id: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct HeartbeatResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Error, e.g. `REBALANCE_IN_PROGRESS` when the member must rejoin (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for HeartbeatRequest {
    const API_KEY: ApiKey = ApiKey::HEARTBEAT;
    const VERSIONS: VersionRange = VersionRange::new(0, 4);
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
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let group_id = r.string()?;
        let generation_id = r.i32()?;
        let member_id = r.string()?;
        let group_instance_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        Ok(Self {
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for HeartbeatRequest {
    type Response = HeartbeatResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }
}

impl Message for HeartbeatResponse {
    const API_KEY: ApiKey = ApiKey::HEARTBEAT;
    const VERSIONS: VersionRange = VersionRange::new(0, 4);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.i16(self.error_code.0);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let throttle_time_ms = if version >= 1 { r.i32()? } else { 0 };
        Ok(Self {
            throttle_time_ms,
            error_code: ErrorCode(r.i16()?),
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
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
        fn request_roundtrip(m in any::<HeartbeatRequest>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<HeartbeatResponse>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    fn request() -> HeartbeatRequest {
        HeartbeatRequest {
            group_id: "g".into(),
            generation_id: 5,
            member_id: "m1".into(),
            ..HeartbeatRequest::default()
        }
    }

    #[test]
    fn request_v0_bytes() {
        // group_id int16-len "g", generation 5, member_id int16-len "m1".
        let wire = [0, 1, b'g', 0, 0, 0, 5, 0, 2, b'm', b'1'];
        assert_eq!(encode(&request(), 0).unwrap(), wire);
        assert_eq!(
            HeartbeatRequest::decode(Bytes::copy_from_slice(&wire), 0).unwrap(),
            request()
        );
    }

    #[test]
    fn request_v4_bytes() {
        let msg = HeartbeatRequest {
            group_instance_id: Some("i".into()),
            ..request()
        };
        // Compact strings (len+1), instance id "i", empty tag section.
        let wire = [2, b'g', 0, 0, 0, 5, 3, b'm', b'1', 2, b'i', 0];
        assert_eq!(encode(&msg, 4).unwrap(), wire);
        assert_eq!(
            HeartbeatRequest::decode(Bytes::copy_from_slice(&wire), 4).unwrap(),
            msg
        );
        // v3 is classic: int16-length instance id, null is -1.
        let wire3 = [0, 1, b'g', 0, 0, 0, 5, 0, 2, b'm', b'1', 0xff, 0xff];
        assert_eq!(encode(&request(), 3).unwrap(), wire3);
    }

    #[test]
    fn instance_id_before_v3_is_an_error() {
        let msg = HeartbeatRequest {
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
        let msg = HeartbeatResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::REBALANCE_IN_PROGRESS,
            ..HeartbeatResponse::default()
        };
        // v0: error code only (27 = REBALANCE_IN_PROGRESS).
        assert_eq!(encode(&msg, 0).unwrap(), [0, 27]);
        // v4: throttle, error, empty tags.
        let wire = [0, 0, 0, 7, 0, 27, 0];
        let decoded = HeartbeatResponse::decode(Bytes::copy_from_slice(&wire), 4).unwrap();
        assert_eq!(decoded.throttle_time_ms, 7);
        assert_eq!(decoded.error_code, ErrorCode::REBALANCE_IN_PROGRESS);
        assert_eq!(encode(&decoded, 4).unwrap(), wire);
    }
}
