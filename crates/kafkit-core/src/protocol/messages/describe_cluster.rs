//! DescribeCluster (key 60): the cluster id, the active controller and every
//! registered broker with its rack.
//!
//! Any broker answers. Every version is flexible; v1 adds the endpoint type
//! (1 brokers, 2 controllers: asking controllers directly, KIP-919).
//!
//! Spec: `DescribeClusterRequest.json` / `DescribeClusterResponse.json`, KIP-700.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 1);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// Endpoint type of brokers (the default).
pub const ENDPOINT_BROKERS: i8 = 1;
/// `cluster_authorized_operations` when they were not asked for.
pub const OPERATIONS_OMITTED: i32 = i32::MIN;

/// Asks for the cluster's description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeClusterRequest {
    /// Whether to include the operations the caller may perform (v0+).
    pub include_cluster_authorized_operations: bool,
    /// Which endpoints to describe ([`ENDPOINT_BROKERS`] by default) (v1+).
    pub endpoint_type: i8,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for DescribeClusterRequest {
    fn default() -> Self {
        Self {
            include_cluster_authorized_operations: false,
            endpoint_type: ENDPOINT_BROKERS,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The cluster's description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeClusterResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// The endpoint type described (v1+).
    pub endpoint_type: i8,
    /// The cluster id (v0+).
    pub cluster_id: String,
    /// The active controller's id, -1 when unknown (v0+).
    pub controller_id: i32,
    /// The brokers (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub brokers: Vec<DescribeClusterBroker>,
    /// Bit field of the authorized operations, [`OPERATIONS_OMITTED`] when not asked for (v0+).
    pub cluster_authorized_operations: i32,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for DescribeClusterResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            error_message: None,
            endpoint_type: ENDPOINT_BROKERS,
            cluster_id: String::new(),
            controller_id: -1,
            brokers: Vec::new(),
            cluster_authorized_operations: OPERATIONS_OMITTED,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One broker of a [`DescribeClusterResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeClusterBroker {
    /// Node id (v0+).
    pub broker_id: i32,
    /// Host name (v0+).
    pub host: String,
    /// Port (v0+).
    pub port: i32,
    /// Rack, if configured (v0+).
    pub rack: Option<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeClusterRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_CLUSTER;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bool(self.include_cluster_authorized_operations);
        if w.version() >= 1 {
            w.i8(self.endpoint_type);
        } else {
            w.absent(
                "endpoint_type",
                self.endpoint_type == ENDPOINT_BROKERS,
                false,
            )?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            include_cluster_authorized_operations: r.bool()?,
            endpoint_type: if version >= 1 {
                r.i8()?
            } else {
                ENDPOINT_BROKERS
            },
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeClusterRequest {
    type Response = DescribeClusterResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for DescribeClusterResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_CLUSTER;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        if w.version() >= 1 {
            w.i8(self.endpoint_type);
        } else {
            w.absent(
                "endpoint_type",
                self.endpoint_type == ENDPOINT_BROKERS,
                false,
            )?;
        }
        w.string(&self.cluster_id)?;
        w.i32(self.controller_id);
        w.array(&self.brokers, |w, b| {
            w.i32(b.broker_id);
            w.string(&b.host)?;
            w.i32(b.port);
            w.nullable_string(b.rack.as_deref())?;
            w.unknown_tagged_fields(&b.unknown_tagged_fields)
        })?;
        w.i32(self.cluster_authorized_operations);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            endpoint_type: if version >= 1 {
                r.i8()?
            } else {
                ENDPOINT_BROKERS
            },
            cluster_id: r.string()?,
            controller_id: r.i32()?,
            brokers: r.array(|r| {
                Ok(DescribeClusterBroker {
                    broker_id: r.i32()?,
                    host: r.string()?,
                    port: r.i32()?,
                    rack: r.nullable_string()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            cluster_authorized_operations: r.i32()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeClusterRequest>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeClusterResponse>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=1) {
            let _ = DescribeClusterRequest::decode(Bytes::from(b.clone()), v);
            let _ = DescribeClusterResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn response_bytes_v1() {
        // ok, endpoint 1, cluster "c", controller 1, broker 1 "h":9092 rack "r".
        let wire: &[u8] = &[
            0, 0, 0, 0, 0, 0, 0, 1, 2, b'c', 0, 0, 0, 1, 2, 0, 0, 0, 1, 2, b'h', 0, 0, 0x23, 0x84,
            2, b'r', 0, 0x80, 0, 0, 0, 0,
        ];
        let resp = DescribeClusterResponse {
            cluster_id: "c".into(),
            controller_id: 1,
            brokers: vec![DescribeClusterBroker {
                broker_id: 1,
                host: "h".into(),
                port: 9092,
                rack: Some("r".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&resp, 1), wire);
        assert_eq!(
            DescribeClusterResponse::decode(Bytes::from_static(wire), 1),
            Ok(resp)
        );
    }

    #[test]
    fn controller_endpoints_at_v0_and_hostile_input_are_errors() {
        let req = DescribeClusterRequest {
            endpoint_type: 2,
            ..Default::default()
        };
        assert!(matches!(
            req.encode(0, &mut bytes::BytesMut::new()),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
        let full = encoded(
            &DescribeClusterResponse {
                brokers: vec![DescribeClusterBroker::default()],
                ..Default::default()
            },
            1,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                DescribeClusterResponse::decode(cut, 1).is_err(),
                "{n} bytes"
            );
        }
        // A broker count of 2^31 as a compact length is refused before allocating.
        let wire = Bytes::from_static(&[
            0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07,
        ]);
        assert!(DescribeClusterResponse::decode(wire, 1).is_err());
    }
}
