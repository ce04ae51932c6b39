//! PushTelemetry (key 72): one push of client metrics, OTLP `MetricsData`
//! protobuf bytes (see [`crate::telemetry::otlp`]), possibly compressed.
//!
//! Carries the client instance id and subscription id from
//! GetTelemetrySubscriptions; the last push of a closing client sets
//! `terminating`. Only v0 exists, and it is flexible.
//!
//! Spec: `PushTelemetryRequest.json` / `PushTelemetryResponse.json`, KIP-714.

use bytes::Bytes;

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, Uuid, VersionRange,
    Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// One push of metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PushTelemetryRequest {
    /// The client instance id the broker assigned (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::uuid()"))]
    pub client_instance_id: Uuid,
    /// The subscription the metrics answer (v0+).
    pub subscription_id: i32,
    /// Whether this is the client's last push before it closes (v0+).
    pub terminating: bool,
    /// Record batch compression code of `metrics` (0: none) (v0+).
    pub compression_type: i8,
    /// OTLP `MetricsData` protobuf bytes (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub metrics: Bytes,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The broker's answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PushTelemetryResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for PushTelemetryRequest {
    const API_KEY: ApiKey = ApiKey::PUSH_TELEMETRY;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.uuid(&self.client_instance_id);
        w.i32(self.subscription_id);
        w.bool(self.terminating);
        w.i8(self.compression_type);
        w.bytes(&self.metrics)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            client_instance_id: r.uuid()?,
            subscription_id: r.i32()?,
            terminating: r.bool()?,
            compression_type: r.i8()?,
            metrics: r.bytes()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for PushTelemetryRequest {
    type Response = PushTelemetryResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for PushTelemetryResponse {
    const API_KEY: ApiKey = ApiKey::PUSH_TELEMETRY;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<PushTelemetryRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<PushTelemetryResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = PushTelemetryRequest::decode(Bytes::from(b.clone()), 0);
            let _ = PushTelemetryResponse::decode(Bytes::from(b), 0);
        }
    }

    #[test]
    fn request_bytes_v0() {
        let mut id = [0u8; 16];
        id[0] = 1;
        let req = PushTelemetryRequest {
            client_instance_id: Uuid(id),
            subscription_id: -3,
            terminating: true,
            compression_type: 0,
            metrics: Bytes::from_static(b"\x0a\x00"),
            ..Default::default()
        };
        let mut wire = id.to_vec();
        wire.extend_from_slice(&[0xff, 0xff, 0xff, 0xfd, 1, 0, 3, 0x0a, 0, 0]);
        assert_eq!(encoded(&req, 0), wire);
        assert_eq!(
            PushTelemetryRequest::decode(Bytes::from(wire.clone()), 0),
            Ok(req)
        );
        check_hostile::<PushTelemetryRequest>(&wire, 0);
    }

    #[test]
    fn response_bytes_v0() {
        let resp = PushTelemetryResponse {
            error_code: ErrorCode::UNKNOWN_SUBSCRIPTION_ID,
            ..Default::default()
        };
        let wire = [0, 0, 0, 0, 0, 117, 0];
        assert_eq!(encoded(&resp, 0), wire);
        check_hostile::<PushTelemetryResponse>(&wire, 0);
    }
}
