//! GetTelemetrySubscriptions (key 71): which client metrics the cluster
//! wants this client to push, how often, and in what form.
//!
//! Any broker answers. The first request carries a zero client instance id
//! and the broker assigns one; later requests carry it. An empty
//! `requested_metrics` means nothing is subscribed; a single empty string
//! means every metric. Only v0 exists, and it is flexible. A broker lists the
//! API only when a client telemetry plugin is configured.
//!
//! Spec: `GetTelemetrySubscriptionsRequest.json` /
//! `GetTelemetrySubscriptionsResponse.json`, KIP-714.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, Uuid, VersionRange,
    Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// Asks for this client's telemetry subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct GetTelemetrySubscriptionsRequest {
    /// The client instance id, zero on the first request (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::uuid()"))]
    pub client_instance_id: Uuid,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The broker's subscription for this client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct GetTelemetrySubscriptionsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The id the broker assigned when the request carried zero, else zero (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::uuid()"))]
    pub client_instance_id: Uuid,
    /// Identifies the subscription set; pushes carry it back (v0+).
    pub subscription_id: i32,
    /// Compression types (record batch codes) the broker accepts for pushes (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub accepted_compression_types: Vec<i8>,
    /// How often to push, in ms (v0+).
    pub push_interval_ms: i32,
    /// The largest metrics payload the broker accepts, in bytes (v0+).
    pub telemetry_max_bytes: i32,
    /// Whether counters go as deltas (`true`) or cumulative values (v0+).
    pub delta_temporality: bool,
    /// Metric name prefixes to push; empty: none, `[""]`: all (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub requested_metrics: Vec<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for GetTelemetrySubscriptionsRequest {
    const API_KEY: ApiKey = ApiKey::GET_TELEMETRY_SUBSCRIPTIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.uuid(&self.client_instance_id);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            client_instance_id: r.uuid()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for GetTelemetrySubscriptionsRequest {
    type Response = GetTelemetrySubscriptionsResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for GetTelemetrySubscriptionsResponse {
    const API_KEY: ApiKey = ApiKey::GET_TELEMETRY_SUBSCRIPTIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.uuid(&self.client_instance_id);
        w.i32(self.subscription_id);
        w.array(&self.accepted_compression_types, |w, c| {
            w.i8(*c);
            Ok(())
        })?;
        w.i32(self.push_interval_ms);
        w.i32(self.telemetry_max_bytes);
        w.bool(self.delta_temporality);
        w.array(&self.requested_metrics, |w, m| w.string(m))?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            client_instance_id: r.uuid()?,
            subscription_id: r.i32()?,
            accepted_compression_types: r.array(|r| r.i8())?,
            push_interval_ms: r.i32()?,
            telemetry_max_bytes: r.i32()?,
            delta_temporality: r.bool()?,
            requested_metrics: r.array(|r| r.string())?,
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
        fn request_roundtrip(m in any::<GetTelemetrySubscriptionsRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<GetTelemetrySubscriptionsResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = GetTelemetrySubscriptionsRequest::decode(Bytes::from(b.clone()), 0);
            let _ = GetTelemetrySubscriptionsResponse::decode(Bytes::from(b), 0);
        }
    }

    #[test]
    fn response_bytes_v0() {
        let mut id = [0u8; 16];
        id[15] = 7;
        let resp = GetTelemetrySubscriptionsResponse {
            client_instance_id: Uuid(id),
            subscription_id: 5,
            accepted_compression_types: vec![0, 4],
            push_interval_ms: 1000,
            telemetry_max_bytes: 1 << 20,
            delta_temporality: true,
            requested_metrics: vec!["org.apache.kafka.".into()],
            ..Default::default()
        };
        let mut wire = vec![0, 0, 0, 0, 0, 0];
        wire.extend_from_slice(&id);
        wire.extend_from_slice(&[0, 0, 0, 5, 3, 0, 4, 0, 0, 0x03, 0xe8, 0, 0x10, 0, 0, 1, 2]);
        wire.push(18);
        wire.extend_from_slice(b"org.apache.kafka.");
        wire.push(0);
        assert_eq!(encoded(&resp, 0), wire);
        assert_eq!(
            GetTelemetrySubscriptionsResponse::decode(Bytes::from(wire.clone()), 0),
            Ok(resp)
        );
        check_hostile::<GetTelemetrySubscriptionsResponse>(&wire, 0);
    }

    #[test]
    fn request_bytes_v0_and_no_other_version() {
        let req = GetTelemetrySubscriptionsRequest::default();
        let mut wire = vec![0u8; 16];
        wire.push(0);
        assert_eq!(encoded(&req, 0), wire);
        assert!(req.encode(1, &mut bytes::BytesMut::new()).is_err());
    }
}
