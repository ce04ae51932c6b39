//! IncrementalAlterConfigs (key 44): set, delete, append to or subtract from
//! single configuration keys, leaving the others as they are.
//!
//! v1 is the first flexible version; both carry the same fields. A topic's
//! configuration is altered at any broker (which forwards to the
//! controller); a broker's at that broker.
//!
//! Spec: `IncrementalAlterConfigsRequest.json` /
//! `IncrementalAlterConfigsResponse.json`, KIP-339.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 1);
const FLEXIBLE_FROM: Option<i16> = Some(1);

/// Sets a key (`AlterConfigOp.OpType.SET`).
pub const OP_SET: i8 = 0;
/// Removes a key, reverting to the next source (`DELETE`).
pub const OP_DELETE: i8 = 1;
/// Appends to a list value (`APPEND`).
pub const OP_APPEND: i8 = 2;
/// Removes from a list value (`SUBTRACT`).
pub const OP_SUBTRACT: i8 = 3;

/// Asks to alter some resources' configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct IncrementalAlterConfigsRequest {
    /// The resources to alter (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub resources: Vec<AlterConfigsResource>,
    /// Validate only, change nothing (v0+).
    pub validate_only: bool,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One resource of an [`IncrementalAlterConfigsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterConfigsResource {
    /// Resource type (as in DescribeConfigs: 2 topic, 4 broker) (v0+).
    pub resource_type: i8,
    /// Resource name (v0+).
    pub resource_name: String,
    /// The changes (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub configs: Vec<AlterableConfig>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One change of an [`AlterConfigsResource`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterableConfig {
    /// The key (v0+).
    pub name: String,
    /// [`OP_SET`], [`OP_DELETE`], [`OP_APPEND`] or [`OP_SUBTRACT`] (v0+).
    pub config_operation: i8,
    /// The value (`None` for a delete) (v0+).
    pub value: Option<String>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One result per resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct IncrementalAlterConfigsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// The results (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<AlterConfigsResourceResponse>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One resource's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterConfigsResourceResponse {
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// Resource type (v0+).
    pub resource_type: i8,
    /// Resource name (v0+).
    pub resource_name: String,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for IncrementalAlterConfigsRequest {
    const API_KEY: ApiKey = ApiKey::INCREMENTAL_ALTER_CONFIGS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.resources, |w, r| {
            w.i8(r.resource_type);
            w.string(&r.resource_name)?;
            w.array(&r.configs, |w, c| {
                w.string(&c.name)?;
                w.i8(c.config_operation);
                w.nullable_string(c.value.as_deref())?;
                w.unknown_tagged_fields(&c.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&r.unknown_tagged_fields)
        })?;
        w.bool(self.validate_only);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            resources: r.array(|r| {
                Ok(AlterConfigsResource {
                    resource_type: r.i8()?,
                    resource_name: r.string()?,
                    configs: r.array(|r| {
                        Ok(AlterableConfig {
                            name: r.string()?,
                            config_operation: r.i8()?,
                            value: r.nullable_string()?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            validate_only: r.bool()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for IncrementalAlterConfigsRequest {
    type Response = IncrementalAlterConfigsResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for IncrementalAlterConfigsResponse {
    const API_KEY: ApiKey = ApiKey::INCREMENTAL_ALTER_CONFIGS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.responses, |w, r| {
            w.i16(r.error_code.0);
            w.nullable_string(r.error_message.as_deref())?;
            w.i8(r.resource_type);
            w.string(&r.resource_name)?;
            w.unknown_tagged_fields(&r.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            responses: r.array(|r| {
                Ok(AlterConfigsResourceResponse {
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
                    resource_type: r.i8()?,
                    resource_name: r.string()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
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
        fn request_roundtrip(m in any::<IncrementalAlterConfigsRequest>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<IncrementalAlterConfigsResponse>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=1) {
            let _ = IncrementalAlterConfigsRequest::decode(Bytes::from(b.clone()), v);
            let _ = IncrementalAlterConfigsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v1() {
        // 1 resource: topic "t", set "k"="v", delete "d"; not validate-only.
        let wire: &[u8] = &[
            2, 2, 2, b't', 3, 2, b'k', 0, 2, b'v', 0, 2, b'd', 1, 0, 0, 0, 0, 0,
        ];
        let req = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: 2,
                resource_name: "t".into(),
                configs: vec![
                    AlterableConfig {
                        name: "k".into(),
                        config_operation: OP_SET,
                        value: Some("v".into()),
                        ..Default::default()
                    },
                    AlterableConfig {
                        name: "d".into(),
                        config_operation: OP_DELETE,
                        value: None,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&req, 1), wire);
        assert_eq!(
            IncrementalAlterConfigsRequest::decode(Bytes::from_static(wire), 1),
            Ok(req)
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        // throttle, then 2^31-1 responses claimed in 4 bytes.
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            IncrementalAlterConfigsResponse::decode(wire, 0),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &IncrementalAlterConfigsResponse {
                responses: vec![AlterConfigsResourceResponse::default()],
                ..Default::default()
            },
            1,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                IncrementalAlterConfigsResponse::decode(cut, 1).is_err(),
                "{n} bytes"
            );
        }
    }
}
