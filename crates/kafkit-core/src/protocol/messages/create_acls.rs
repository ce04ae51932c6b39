//! CreateAcls (key 30): add ACL bindings.
//!
//! Any broker takes it (KRaft forwards it to the controller). v1 adds the
//! pattern type; v2 is the first flexible version.
//!
//! Spec: `CreateAclsRequest.json` / `CreateAclsResponse.json`, KIP-140,
//! KIP-290.

use super::describe_acls::PATTERN_LITERAL;
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 3);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Asks to add bindings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreateAclsRequest {
    /// The bindings (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub creations: Vec<AclCreation>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One binding to add.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AclCreation {
    /// Resource type (2 topic, 3 group, 4 cluster, ...) (v0+).
    pub resource_type: i8,
    /// Resource name (v0+).
    pub resource_name: String,
    /// Pattern type (3 literal, 4 prefixed) (v1+; literal before).
    pub resource_pattern_type: i8,
    /// Principal, e.g. `User:alice` (v0+).
    pub principal: String,
    /// Host, `*` for any (v0+).
    pub host: String,
    /// Operation (v0+).
    pub operation: i8,
    /// Permission (2 deny, 3 allow) (v0+).
    pub permission_type: i8,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for AclCreation {
    fn default() -> Self {
        Self {
            resource_type: 0,
            resource_name: String::new(),
            resource_pattern_type: PATTERN_LITERAL,
            principal: String::new(),
            host: String::new(),
            operation: 0,
            permission_type: 0,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One result per binding, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreateAclsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// The results (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<AclCreationResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One binding's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AclCreationResult {
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for CreateAclsRequest {
    const API_KEY: ApiKey = ApiKey::CREATE_ACLS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.creations, |w, c| {
            w.i8(c.resource_type);
            w.string(&c.resource_name)?;
            if w.version() >= 1 {
                w.i8(c.resource_pattern_type);
            } else {
                let literal = c.resource_pattern_type == PATTERN_LITERAL;
                w.absent("resource_pattern_type", literal, false)?;
            }
            w.string(&c.principal)?;
            w.string(&c.host)?;
            w.i8(c.operation);
            w.i8(c.permission_type);
            w.unknown_tagged_fields(&c.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            creations: r.array(|r| {
                Ok(AclCreation {
                    resource_type: r.i8()?,
                    resource_name: r.string()?,
                    resource_pattern_type: if version >= 1 {
                        r.i8()?
                    } else {
                        PATTERN_LITERAL
                    },
                    principal: r.string()?,
                    host: r.string()?,
                    operation: r.i8()?,
                    permission_type: r.i8()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for CreateAclsRequest {
    type Response = CreateAclsResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for CreateAclsResponse {
    const API_KEY: ApiKey = ApiKey::CREATE_ACLS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.results, |w, r| {
            w.i16(r.error_code.0);
            w.nullable_string(r.error_message.as_deref())?;
            w.unknown_tagged_fields(&r.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            results: r.array(|r| {
                Ok(AclCreationResult {
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
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
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<CreateAclsRequest>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<CreateAclsResponse>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=3) {
            let _ = CreateAclsRequest::decode(Bytes::from(b.clone()), v);
            let _ = CreateAclsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v3() {
        let req = CreateAclsRequest {
            creations: vec![AclCreation {
                resource_type: 2,
                resource_name: "t".into(),
                principal: "User:a".into(),
                host: "*".into(),
                operation: 3,
                permission_type: 3,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut v3 = vec![2, 2, 2, b't', 3, 7];
        v3.extend_from_slice(b"User:a");
        v3.extend_from_slice(&[2, b'*', 3, 3, 0, 0]);
        assert_eq!(encoded(&req, 3), v3);
        assert_eq!(CreateAclsRequest::decode(Bytes::from(v3), 3), Ok(req));
    }

    #[test]
    fn hostile_input_is_an_error() {
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(CreateAclsResponse::decode(wire, 1).is_err());
        let full = encoded(
            &CreateAclsResponse {
                results: vec![AclCreationResult::default()],
                ..Default::default()
            },
            3,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(CreateAclsResponse::decode(cut, 3).is_err(), "{n} bytes");
        }
    }
}
