//! InitProducerId (key 22): obtain a producer id and epoch.
//!
//! An idempotent producer sends it with a null transactional id to any
//! broker; a transactional producer sends it to its transaction coordinator.
//! From v3 a producer may pass its current id and epoch to resume after an
//! `INVALID_PRODUCER_EPOCH` error instead of being given a fresh id.
//!
//! Spec: KIP-98 (idempotence and transactions), KIP-360 (epoch bump, v3).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Asks for a producer id (and, for a transactional producer, fences older instances).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct InitProducerIdRequest {
    /// Transactional id, `None` for an idempotent-only producer (v0+, nullable).
    pub transactional_id: Option<String>,
    /// Idle time after which the coordinator aborts an open transaction, in ms (v0+).
    pub transaction_timeout_ms: i32,
    /// Current producer id, -1 for none (v3+).
    pub producer_id: i64,
    /// Current producer epoch, -1 for none (v3+).
    pub producer_epoch: i16,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for InitProducerIdRequest {
    fn default() -> Self {
        Self {
            transactional_id: None,
            transaction_timeout_ms: 0,
            producer_id: -1,
            producer_epoch: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The producer id and epoch assigned by the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct InitProducerIdResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Assigned producer id, -1 on error (v0+).
    pub producer_id: i64,
    /// Assigned producer epoch (v0+).
    pub producer_epoch: i16,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for InitProducerIdResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            producer_id: -1,
            producer_epoch: 0,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl Message for InitProducerIdRequest {
    const API_KEY: ApiKey = ApiKey::INIT_PRODUCER_ID;
    const VERSIONS: VersionRange = VersionRange::new(0, 5);
    const FLEXIBLE_FROM: Option<i16> = Some(2);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.nullable_string(self.transactional_id.as_deref())?;
        w.i32(self.transaction_timeout_ms);
        if w.version() >= 3 {
            w.i64(self.producer_id);
            w.i16(self.producer_epoch);
        } else {
            w.absent("producer_id", self.producer_id == -1, false)?;
            w.absent("producer_epoch", self.producer_epoch == -1, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            transactional_id: r.nullable_string()?,
            transaction_timeout_ms: r.i32()?,
            ..Self::default()
        };
        if version >= 3 {
            msg.producer_id = r.i64()?;
            msg.producer_epoch = r.i16()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for InitProducerIdRequest {
    type Response = InitProducerIdResponse;
    const ROUTE: Route = Route::TransactionCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match &self.transactional_id {
            Some(id) => RouteKey::Coordinator(id),
            None => RouteKey::None,
        }
    }

    /// The answer's only error: a producer id of -1 comes with it (e.g.
    /// COORDINATOR_LOAD_IN_PROGRESS from a node still starting), so the
    /// call path must not take the answer for an identity.
    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for InitProducerIdResponse {
    const API_KEY: ApiKey = ApiKey::INIT_PRODUCER_ID;
    const VERSIONS: VersionRange = VersionRange::new(0, 5);
    const FLEXIBLE_FROM: Option<i16> = Some(2);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.i64(self.producer_id);
        w.i16(self.producer_epoch);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::testing::encoded;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<InitProducerIdRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<InitProducerIdResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        /// A request holding only what a version carries survives exactly.
        #[test]
        fn version_shaped_request_roundtrip(mut m in any::<InitProducerIdRequest>(), v in 0i16..=5) {
            if v < 3 {
                m.producer_id = -1;
                m.producer_epoch = -1;
            }
            if v < 2 {
                m.unknown_tagged_fields = TaggedFields::default();
            }
            check_roundtrip(&m, v)?;
            prop_assert_eq!(InitProducerIdRequest::decode(encoded(&m, v).into(), v), Ok(m));
        }
    }

    #[test]
    fn request_v1_bytes() {
        // transactional_id "tx" (int16 length), timeout 60000 ms.
        let bytes: &[u8] = &[0, 2, b't', b'x', 0, 0, 0xea, 0x60];
        let m = InitProducerIdRequest {
            transactional_id: Some("tx".into()),
            transaction_timeout_ms: 60_000,
            ..Default::default()
        };
        assert_eq!(encoded(&m, 1), bytes);
        assert_eq!(
            InitProducerIdRequest::decode(Bytes::from_static(bytes), 1),
            Ok(m)
        );
        // A null transactional id is int16 -1.
        let idempotent = InitProducerIdRequest {
            transaction_timeout_ms: 1,
            ..Default::default()
        };
        assert_eq!(encoded(&idempotent, 0), [0xff, 0xff, 0, 0, 0, 1]);
    }

    #[test]
    fn request_v4_bytes() {
        // compact null id (0), timeout 1000, producer id 7, epoch 3, one tagged
        // field (tag 5, 1 byte 0xaa).
        let bytes: &[u8] = &[
            0, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 3, 1, 5, 1, 0xaa,
        ];
        let m = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 1000,
            producer_id: 7,
            producer_epoch: 3,
            unknown_tagged_fields: TaggedFields(vec![(5, Bytes::from_static(&[0xaa]))]),
        };
        assert_eq!(encoded(&m, 4), bytes);
        assert_eq!(
            InitProducerIdRequest::decode(Bytes::from_static(bytes), 4),
            Ok(m)
        );
    }

    #[test]
    fn producer_id_before_v3_is_rejected() {
        let m = InitProducerIdRequest {
            producer_id: 9,
            ..Default::default()
        };
        assert_eq!(
            m.encode(2, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported {
                field: "producer_id",
                version: 2
            })
        );
    }

    #[test]
    fn response_bytes_v0_and_v2() {
        let m = InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            producer_id: 0x0102,
            producer_epoch: 5,
            unknown_tagged_fields: TaggedFields::default(),
        };
        let v0: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 5];
        assert_eq!(encoded(&m, 0), v0);
        assert_eq!(
            InitProducerIdResponse::decode(Bytes::from_static(v0), 0),
            Ok(m.clone())
        );
        // v2 adds only the (empty) tagged-field section.
        let v2: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 5, 0];
        assert_eq!(encoded(&m, 2), v2);
        assert_eq!(
            InitProducerIdResponse::decode(Bytes::from_static(v2), 2),
            Ok(m)
        );
    }

    #[test]
    fn the_answers_error_code_is_the_calls_error() {
        let refused = InitProducerIdResponse {
            error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        assert_eq!(
            InitProducerIdRequest::response_error(&refused),
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        );
        let given = InitProducerIdResponse {
            producer_id: 7,
            producer_epoch: 0,
            ..Default::default()
        };
        assert_eq!(
            InitProducerIdRequest::response_error(&given),
            ErrorCode::NONE
        );
    }
}
